import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import type {
  FirehoseTransformationEvent,
  FirehoseTransformationResult,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
} from 'aws-lambda';
import type { PipelineConfig } from '../functions/core/pipeline-config';
import { AdjustableClock } from './adjustable-clock';
import { BatchScheduler, type BatchRunRecord } from './batch-scheduler';
import { FileCheckpointStore } from './checkpoint-store';
import {
  emulatorClientConfig,
  startEmulators,
  startEventBus,
  type Emulators,
  type EventBusEmulator,
} from './emulators';
import { KinesisEventSourceMapping, type DiscardedBatch } from './event-source-mapping';
import { FirehoseStandIn } from './firehose';
import { HttpGateway, type GatewayRoute, type LocalRoute, type ProxyHandler } from './http-gateway';
import { ensureBucket, ensureStream, ensureTable } from './provision';
import { RateMeter } from './rate-meter';

/** Resource names of the local pipeline: one of each, as the CDK stack creates them. */
export const LOCAL_RESOURCES = {
  stream: 'events',
  realtimeTable: 'realtime-views',
  batchTable: 'batch-views',
  manifestTable: 'view-manifest',
  dedupTable: 'event-dedup',
  /** Each view's keys, with when each was first and last seen (GET /views/{view}/keys). */
  keyDirectoryTable: 'key-directory',
  /** Anomalies the speed layer recorded (GET /views/{view}/anomalies), for views that declare a baseline. */
  anomalyTable: 'anomalies',
  /** The bus anomaly events are put on: as in AWS, the default bus (the stand-in, local/emulators). */
  eventBus: 'default',
  bucket: 'master-dataset',
  /** Where rebuilds and replays put the engine's result files (the stack's work bucket). */
  workBucket: 'batch-work',
  masterPrefix: 'events/',
  errorPrefix: 'errors/',
} as const;

/** The clients and names a local handler is built from. */
export interface LocalEnvironment {
  readonly config: PipelineConfig;
  readonly dynamodb: DynamoDBClient;
  readonly kinesis: KinesisClient;
  readonly s3: S3Client;
  readonly resources: typeof LOCAL_RESOURCES;
  /** Where the stand-in for EventBridge listens: an EventBridgeClient pointed here publishes to it. */
  readonly eventBusEndpoint: string;
  /**
   * The batch job's clock: tests may move it on to stand for time passing, and it never runs further ahead of
   * what Firehose has archived than the buffer interval and the safety margin (see archiveBoundedClock).
   */
  readonly now: () => number;
  /** The arrival time below which every record is in S3 (FirehoseStandIn.archivedThroughMs), once it is known. */
  readonly archivedThroughMs: () => number | undefined;
}

/** What the runtime counts for its health document (GET /_local/health), since it started. */
export interface LocalRuntimeMeters {
  /** Events POST /events accepted. */
  readonly ingestAccepted: RateMeter;
  /** Events POST /events rejected; a request refused whole (bad JSON, too many events, not events) counts one. */
  readonly ingestRejected: RateMeter;
  /** Stream records handed to the speed layer, whoever wrote them to the stream. */
  readonly speedRecords: RateMeter;
}

/** The real handlers, built for the local environment by local/local-handlers.ts. */
export interface LocalHandlers<BatchResult> {
  readonly speed: (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | void>;
  readonly firehoseTransform: (event: FirehoseTransformationEvent) => Promise<FirehoseTransformationResult>;
  readonly batchJob: () => Promise<BatchResult>;
  readonly query: ProxyHandler;
  readonly ingest: ProxyHandler;
}

export interface LocalRuntimeOptions<BatchResult> {
  readonly config: PipelineConfig;
  readonly buildHandlers: (
    environment: LocalEnvironment,
  ) => LocalHandlers<BatchResult> | Promise<LocalHandlers<BatchResult>>;
  /** Where emulator state and checkpoints live between runs. */
  readonly dataDir: string;
  /** Start from empty state. @default false */
  readonly reset?: boolean;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default 2 */
  readonly shardCount?: number;
  /** How often the scheduler runs the batch job. @default config.batchIntervalMs */
  readonly batchIntervalMs?: number;
  /** @default config.bufferIntervalMs */
  readonly firehoseBufferIntervalMs?: number;
  /** Event source mapping batching window. @default 500 */
  readonly batchingWindowMs?: number;
  /** Extra HTTP routes (the dashboard). */
  readonly localRoutes?: (runtime: LocalRuntime<BatchResult>) => readonly LocalRoute[];
  readonly log?: (line: string) => void;
}

/**
 * The whole Lambda architecture on this machine: kinesis-local, dynalite and s3rver, provisioned with the
 * pipeline's resources, and the real handlers run by faithful stand-ins for the event source mapping, Firehose,
 * the batch schedule and API Gateway. Used by `npm start` and by the end-to-end test.
 */
export class LocalRuntime<BatchResult = unknown> {
  private constructor(
    readonly apiUrl: string,
    readonly dataDir: string,
    readonly emulators: Emulators,
    /** The stand-in for EventBridge: what the speed layer published (GET /local/bus-events). */
    readonly eventBus: EventBusEmulator,
    readonly environment: LocalEnvironment,
    private readonly mapping: KinesisEventSourceMapping,
    private readonly firehose: FirehoseStandIn,
    private readonly scheduler: BatchScheduler<BatchResult>,
    private readonly gateway: HttpGateway,
    private readonly clients: { destroy(): void }[],
    private readonly clock: AdjustableClock,
    /** What the event source mapping sent to its on-failure destination. */
    readonly discarded: readonly DiscardedBatch[],
    /** What the health document's rates and totals are read from. */
    readonly meters: LocalRuntimeMeters,
  ) {}

  static async start<BatchResult>(options: LocalRuntimeOptions<BatchResult>): Promise<LocalRuntime<BatchResult>> {
    const log = options.log ?? (() => undefined);
    if (options.reset) rmSync(options.dataDir, { recursive: true, force: true });
    const emulators = await startEmulators({ dataDir: join(options.dataDir, 'emulators') });
    let eventBus: EventBusEmulator;
    try {
      eventBus = await startEventBus();
    } catch (error) {
      await emulators.stop();
      throw error;
    }
    const dynamodb = new DynamoDBClient(emulatorClientConfig(emulators.dynamodb.endpoint));
    const kinesis = new KinesisClient(emulatorClientConfig(emulators.kinesis.endpoint));
    const s3 = new S3Client(emulatorClientConfig(emulators.s3.endpoint));
    const clients = [dynamodb, kinesis, s3];
    try {
      const streamArn = await ensureStream(kinesis, LOCAL_RESOURCES.stream, options.shardCount ?? 2);
      for (const table of [
        LOCAL_RESOURCES.realtimeTable,
        LOCAL_RESOURCES.batchTable,
        LOCAL_RESOURCES.manifestTable,
        LOCAL_RESOURCES.dedupTable,
        LOCAL_RESOURCES.keyDirectoryTable,
        LOCAL_RESOURCES.anomalyTable,
      ]) {
        await ensureTable(dynamodb, table);
      }
      await ensureBucket(s3, LOCAL_RESOURCES.bucket);
      await ensureBucket(s3, LOCAL_RESOURCES.workBucket);

      const clock = new AdjustableClock();
      // Filled in below: the Firehose stand-in needs the handlers, which are built from this environment.
      const archive: { firehose?: FirehoseStandIn } = {};
      const environment: LocalEnvironment = {
        config: options.config,
        dynamodb,
        kinesis,
        s3,
        resources: LOCAL_RESOURCES,
        eventBusEndpoint: eventBus.endpoint,
        now: archiveBoundedClock(clock, () => archive.firehose?.archivedThroughMs, options.config),
        archivedThroughMs: () => archive.firehose?.archivedThroughMs,
      };
      const built = await options.buildHandlers(environment);
      // Metered here, around the handlers, so that the counts are the server's whatever builds the handlers.
      const startedAtMs = Date.now();
      const meters: LocalRuntimeMeters = {
        ingestAccepted: new RateMeter(startedAtMs),
        ingestRejected: new RateMeter(startedAtMs),
        speedRecords: new RateMeter(startedAtMs),
      };
      const handlers: LocalHandlers<BatchResult> = {
        ...built,
        ingest: meteredIngest(built.ingest, meters),
        speed: (event) => {
          meters.speedRecords.add(event.Records.length, Date.now());
          return built.speed(event);
        },
      };
      const reportError = (what: string) => (error: unknown) =>
        log(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      const discarded: DiscardedBatch[] = [];
      const mapping = new KinesisEventSourceMapping({
        kinesis,
        streamName: LOCAL_RESOURCES.stream,
        streamArn,
        handler: handlers.speed,
        batchSize: 500,
        batchingWindowMs: options.batchingWindowMs ?? 500,
        checkpoints: new FileCheckpointStore(join(options.dataDir, 'checkpoints', 'speed-layer.json')),
        onFailure: (batch) => {
          discarded.push(batch);
          log(`speed layer discarded a batch (${batch.condition}): ${JSON.stringify(batch)}`);
        },
        onError: reportError('speed layer'),
      });
      const firehose = new FirehoseStandIn({
        kinesis,
        streamName: LOCAL_RESOURCES.stream,
        streamArn,
        s3,
        bucket: LOCAL_RESOURCES.bucket,
        transform: handlers.firehoseTransform,
        prefix: `${LOCAL_RESOURCES.masterPrefix}dt={dt}/hour={hour}/`,
        errorPrefix: LOCAL_RESOURCES.errorPrefix,
        bufferIntervalMs: options.firehoseBufferIntervalMs ?? options.config.bufferIntervalMs,
        checkpoints: new FileCheckpointStore(join(options.dataDir, 'checkpoints', 'firehose.json')),
        onError: reportError('firehose'),
      });
      archive.firehose = firehose;
      // Read every shard to its tip once before anything can start a batch run, so the batch clock has its bound
      // from the first run on (a scheduled run does not wait for Firehose, as in AWS).
      if (options.config.architecture === 'lambda') await firehose.catchUp();
      const scheduler = new BatchScheduler<BatchResult>({
        job: handlers.batchJob,
        intervalMs: options.batchIntervalMs ?? options.config.batchIntervalMs,
        onError: reportError('batch job'),
      });
      // The local routes (the dashboard) need the runtime, which needs the gateway's URL: they are added below.
      const localRoutes: LocalRoute[] = [];
      const gateway = new HttpGateway({
        port: options.port ?? 0,
        routes: apiRoutes(handlers),
        localRoutes: [
          async (request, response, url) => {
            for (const route of localRoutes) if (await route(request, response, url)) return true;
            return false;
          },
        ],
        onHandlerError: (route, error) => log(`${route.method} ${route.resource} failed: ${String(error)}`),
      });
      const apiUrl = await gateway.start();
      const runtime = new LocalRuntime(
        apiUrl,
        options.dataDir,
        emulators,
        eventBus,
        environment,
        mapping,
        firehose,
        scheduler,
        gateway,
        clients,
        clock,
        discarded,
        meters,
      );
      localRoutes.push(...(options.localRoutes?.(runtime) ?? []));
      mapping.start();
      firehose.start();
      // Kappa mode has no batch layer: Firehose still archives the log that replays read.
      if (options.config.architecture === 'lambda') scheduler.start();
      return runtime;
    } catch (error) {
      for (const client of clients) client.destroy();
      await eventBus.stop();
      await emulators.stop();
      throw error;
    }
  }

  /**
   * Runs the batch job now (after Firehose has delivered what it holds), as the schedule would. `advanceClockMs`
   * moves the batch job's clock on first, standing for time passing, so that a test need not wait out the buffer
   * interval and the safety margin; the cutoff still never passes what Firehose has archived, so it stays at or
   * below the epoch that real time is in.
   */
  async runBatchNow(advanceClockMs = 0): Promise<BatchResult> {
    if (this.environment.config.architecture !== 'lambda') {
      throw new Error('Kappa mode has no batch layer: rebuild a view with a replay instead');
    }
    this.clock.advance(advanceClockMs);
    await this.firehose.drain();
    return this.scheduler.runNow();
  }

  /** Delivers what Firehose holds, now. */
  drainArchive(): Promise<number> {
    return this.firehose.drain();
  }

  get speedInvocations(): number {
    return this.mapping.invocationCount;
  }

  get batchRuns(): number {
    return this.scheduler.runCount;
  }

  /** When the meters began counting: the server's start. */
  get startedAtMs(): number {
    return this.meters.speedRecords.startedAtMs;
  }

  /** How far behind the speed layer is, as Lambda's IteratorAge metric (0 when every shard is caught up). */
  speedIteratorAgeMs(nowMs: number): number {
    return this.mapping.iteratorAgeMs(nowMs);
  }

  /** The latest batch run to finish, scheduled or forced (null before any has). */
  get lastBatchRun(): BatchRunRecord<BatchResult> | null {
    return this.scheduler.lastRun;
  }

  /** When the schedule runs the batch job next; null when nothing is scheduled (Kappa mode, or stopped). */
  get nextBatchRunAtMs(): number | null {
    return this.scheduler.nextRunAtMs;
  }

  async stop(): Promise<void> {
    await this.gateway.stop();
    await this.scheduler.stop();
    await this.mapping.stop();
    await this.firehose.stop();
    for (const client of this.clients) client.destroy();
    await this.eventBus.stop();
    await this.emulators.stop();
  }
}

/**
 * The batch job's clock in the local runtime: the adjustable clock, held to at most the buffer interval and the
 * safety margin past what Firehose has archived. The job takes the latest epoch boundary C with C + buffer + margin
 * <= now, so C <= archived-through: every record that arrived before C is in S3 when C is used, however late
 * Firehose delivers, however slow the machine, and however far a test moved the clock on. In AWS the same rule
 * trusts Firehose to deliver within its buffer interval; locally the premise is enforced rather than assumed.
 */
export function archiveBoundedClock(
  clock: Pick<AdjustableClock, 'now'>,
  archivedThroughMs: () => number | undefined,
  config: Pick<PipelineConfig, 'bufferIntervalMs' | 'safetyMarginMs'>,
): () => number {
  return () => {
    const archived = archivedThroughMs();
    if (archived === undefined) {
      throw new Error('Firehose has not read every shard of the stream yet: no batch cutoff can be chosen');
    }
    return Math.min(clock.now(), archived + config.bufferIntervalMs + config.safetyMarginMs);
  };
}

/**
 * POST /events, counted: the per-event figures of the handler's answer, or one rejection for a client error that
 * has none (a request refused whole). Failed and unknown events are neither accepted nor rejected.
 */
function meteredIngest(ingest: ProxyHandler, meters: LocalRuntimeMeters): ProxyHandler {
  return async (event, context) => {
    const result = await ingest(event, context);
    const atMs = Date.now();
    const counts = answerCounts(result.body);
    if (counts !== undefined) {
      meters.ingestAccepted.add(counts.accepted, atMs);
      meters.ingestRejected.add(counts.rejected, atMs);
    } else if (result.statusCode >= 400 && result.statusCode < 500) {
      meters.ingestRejected.add(1, atMs);
    }
    return result;
  };
}

function answerCounts(body: string): { accepted: number; rejected: number } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { accepted, rejected } = parsed as { accepted?: unknown; rejected?: unknown };
  return typeof accepted === 'number' && typeof rejected === 'number' ? { accepted, rejected } : undefined;
}

function apiRoutes<BatchResult>(handlers: LocalHandlers<BatchResult>): GatewayRoute[] {
  return [
    { method: 'POST', resource: '/events', handler: handlers.ingest },
    { method: 'GET', resource: '/views', handler: handlers.query },
    { method: 'GET', resource: '/views/{view}', handler: handlers.query },
    { method: 'GET', resource: '/views/{view}/keys', handler: handlers.query },
    { method: 'GET', resource: '/views/{view}/anomalies', handler: handlers.query },
    { method: 'GET', resource: '/views/{view}/forecast', handler: handlers.query },
    { method: 'GET', resource: '/openapi.json', handler: handlers.query },
  ];
}
