import type { EventSchema } from '../functions/core/event-schema';
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { BatchViewStore } from '../functions/adapters/batch-view-store';
import { DuckDbEngine } from '../functions/adapters/duckdb/duckdb-engine';
import { EventStreamWriter } from '../functions/adapters/event-stream-writer';
import { SetAsideStore } from '../functions/adapters/set-aside-store';
import type { CountMetrics, HandlerLogger } from '../functions/adapters/telemetry';
import { ViewReader } from '../functions/adapters/view-reader';
import { KeyDirectoryStore } from '../functions/adapters/key-directory-store';
import { GenerationDirectory } from '../functions/adapters/generation-directory';
import { createReplayJob, type ReplayJobDependencies } from '../functions/replay/replay-job';
import { createRebuildJob, type RebuildJobDependencies } from '../functions/rebuild/rebuild-job';
import { supersededRowsExpiry } from '../functions/adapters/superseded-batch-rows';
import { runBatchJob, type BatchRunSummary } from '../functions/batch/batch-job';
import { createFirehoseTransformHandler } from '../functions/firehose-transform/firehose-transform-handler';
import { createIngestHandler } from '../functions/ingest/ingest-handler';
import { openApiDocument } from '../functions/serving/openapi-document';
import { createQueryHandler } from '../functions/serving/query-handler';
import { createSpeedHandler } from '../functions/speed/speed-handler';
import type { LocalEnvironment, LocalHandlers } from './local-runtime';
import { createEventBridgeClient } from '../functions/adapters/aws-clients';
import { EventBridgeAnomalyNotifier } from '../functions/adapters/anomaly-notifier';
import { AnomalyStore } from '../functions/adapters/anomaly-store';
import { BaselineReader } from '../functions/adapters/baseline-reader';
import { emulatorClientConfig } from './emulators';

/** How long a PutRecords to kinesis-local may take before it counts as timed out. */
const LOCAL_STREAM_WRITE_TIMEOUT_MS = 60_000;

/** Counts what the handlers report, instead of printing CloudWatch EMF to the terminal. */
export class LocalMetrics implements CountMetrics {
  readonly totals = new Map<string, number>();

  addMetric(name: string, _unit: string, value: number): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
  }

  publishStoredMetrics(): void {}
}

export type LocalLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

/** The real handlers, built from their factories with clients pointed at the local emulators. */
export function buildLocalHandlers(
  environment: LocalEnvironment,
  options: { logLevel?: LocalLogLevel; metrics?: LocalMetrics } = {},
): LocalHandlers<BatchRunSummary> {
  const { config, dynamodb, kinesis, s3, resources } = environment;
  const metrics = options.metrics ?? new LocalMetrics();
  const logger = (serviceName: string): HandlerLogger =>
    new Logger({ serviceName, logLevel: options.logLevel ?? 'ERROR' });
  const viewReader = (manifestCacheMs?: number) =>
    new ViewReader({
      client: dynamodb,
      realtimeTable: resources.realtimeTable,
      batchTable: resources.batchTable,
      manifestTable: resources.manifestTable,
      ...(manifestCacheMs === undefined ? {} : { manifestCacheMs }),
    });
  // Read on every request, like the manifest: a flip shows at once.
  const servedGenerations = new GenerationDirectory({
    client: dynamodb,
    manifestTable: resources.manifestTable,
    cacheMs: 0,
  });
  // Locally a person presses "run batch" and looks at once: no manifest caching.
  const servingReader = viewReader(0);
  const anomalyStore = new AnomalyStore({ client: dynamodb, tableName: resources.anomalyTable });
  const scoring = config.views.some((view) => view.baseline !== undefined);
  // The generations the speed layer writes, and reads its baselines from.
  const speedGenerations = new GenerationDirectory({ client: dynamodb, manifestTable: resources.manifestTable });
  return {
    speed: createSpeedHandler({
      config,
      dynamodb,
      generations: speedGenerations,
      realtimeTable: resources.realtimeTable,
      dedupTable: resources.dedupTable,
      keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.keyDirectoryTable }),
      setAside: new SetAsideStore({ s3, bucket: resources.bucket }),
      // As functions/speed/handler.ts builds it: only when a view declares a baseline.
      ...(scoring
        ? {
            anomalies: {
              baselines: new BaselineReader({
                reader: viewReader(),
                architecture: config.architecture,
                generations: speedGenerations,
              }),
              store: anomalyStore,
              notifier: new EventBridgeAnomalyNotifier({
                client: createEventBridgeClient({
                  ...emulatorClientConfig(environment.eventBusEndpoint),
                  maxAttempts: 1,
                }),
                eventBusName: resources.eventBus,
              }),
            },
          }
        : {}),
      logger: logger('speed'),
      metrics,
    }),
    firehoseTransform: createFirehoseTransformHandler({
      eventTimeSkewMs: config.eventTimeSkewMs,
      schema: config.schema,
      logger: logger('firehose-transform'),
      metrics,
    }),
    batchJob: () =>
      runBatchJob({
        config,
        engine: localEngine(s3, resources, config.schema),
        store: localBatchStore(dynamodb, resources),
        keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.keyDirectoryTable }),
        logger: logger('batch'),
        metrics,
        now: environment.now,
      }),
    query: createQueryHandler({
      config,
      generations: servedGenerations,
      reader: servingReader,
      anomalies: anomalyStore,
      baselines: new BaselineReader({
        reader: servingReader,
        architecture: config.architecture,
        generations: servedGenerations,
      }),
      directory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.keyDirectoryTable }),
      logger: logger('serving'),
      metrics,
      openApiDocument: () => openApiDocument(config.schema, config.views),
    }),
    ingest: createIngestHandler({
      // A timed-out PutRecords is answered `unknown`, never resent (event-stream-writer.ts): on a loaded laptop
      // kinesis-local can take seconds, so locally the attempt timeout is the emulator's, not AWS's 5 s.
      writer: new EventStreamWriter({
        client: kinesis,
        streamName: resources.stream,
        retry: { attemptTimeoutMs: LOCAL_STREAM_WRITE_TIMEOUT_MS },
      }),
      // Kinesis stamps arrival with the wall clock, not the runtime's adjustable one: ingest judges ts by the same.
      eventTimeSkewMs: config.eventTimeSkewMs,
      schema: config.schema,
      logger: logger('ingest'),
      metrics,
    }),
  };
}

/** The local batch table and manifest, as the batch job and rebuilds write them. */
function localBatchStore(dynamodb: DynamoDBClient, resources: LocalEnvironment['resources']): BatchViewStore {
  return new BatchViewStore({
    client: dynamodb,
    batchTable: resources.batchTable,
    manifestTable: resources.manifestTable,
  });
}

/** The DuckDB engine over the local master dataset, as the batch job, rebuilds and replays use it. */
function localEngine(s3: S3Client, resources: LocalEnvironment['resources'], schema: EventSchema): DuckDbEngine {
  return new DuckDbEngine({
    s3,
    bucket: resources.bucket,
    prefix: resources.masterPrefix,
    errorPrefix: resources.errorPrefix,
    schema,
  });
}

/**
 * The replay job (functions/replay/replay-job.ts) against the local emulators: `npm run replay` runs it in its own
 * process, and the tests run it beside the runtime. Its generation cache time must be the speed layer's, since the
 * hand-off is placed two cache periods ahead.
 */
export function buildLocalReplay(
  environment: Pick<LocalEnvironment, 'config' | 'dynamodb' | 's3' | 'resources'> &
    Pick<ReplayJobDependencies, 'archivedThroughMs'>,
  options: { logLevel?: LocalLogLevel; progressEvery?: number; overrides?: Partial<ReplayJobDependencies> } = {},
) {
  const { config, dynamodb, s3, resources } = environment;
  return createReplayJob({
    config,
    directory: new GenerationDirectory({ client: dynamodb, manifestTable: resources.manifestTable }),
    dynamodb,
    realtimeTable: resources.realtimeTable,
    keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.keyDirectoryTable }),
    engine: localEngine(s3, resources, config.schema),
    work: { s3, bucket: resources.workBucket },
    logger: new Logger({ serviceName: 'replay', logLevel: options.logLevel ?? 'ERROR' }),
    progressEvery: options.progressEvery,
    // Locally the premise of buffer + margin is checked rather than trusted, as for the batch clock.
    archivedThroughMs: environment.archivedThroughMs,
    ...options.overrides,
  });
}

/**
 * The rebuild job (functions/rebuild/rebuild-job.ts) against the local emulators, for `npm run rebuild` and the
 * tests: the same job the rebuild Lambda runs, with the DuckDB engine and the local work bucket.
 */
export function buildLocalRebuild(
  environment: Pick<LocalEnvironment, 'config' | 'dynamodb' | 's3' | 'resources'> & { readonly now?: () => number },
  options: { logLevel?: LocalLogLevel; overrides?: Partial<RebuildJobDependencies> } = {},
) {
  const { config, dynamodb, s3, resources } = environment;
  return createRebuildJob({
    config,
    engine: localEngine(s3, resources, config.schema),
    store: localBatchStore(dynamodb, resources),
    keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.keyDirectoryTable }),
    work: { s3, bucket: resources.workBucket },
    expireSuperseded: supersededRowsExpiry(dynamodb, resources.batchTable),
    logger: new Logger({ serviceName: 'rebuild', logLevel: options.logLevel ?? 'ERROR' }),
    now: environment.now,
    ...options.overrides,
  });
}
