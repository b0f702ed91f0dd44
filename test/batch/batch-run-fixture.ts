import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import { ViewReader } from '../../functions/adapters/view-reader';
import {
  BatchRunError,
  runBatchJob,
  type BatchJobDependencies,
  type BatchRunSummary,
} from '../../functions/batch/batch-job';
import type { Granularity } from '../../functions/core/granularity';
import { definePipelineConfig, type PipelineConfig } from '../../functions/core/pipeline-config';
import { applyServingRule } from '../../functions/core/serving-rule';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { emulatorClientConfig, startDynamoDb, startS3, type RunningEmulator } from '../../local/emulators';
import { ensureBucket, ensureTable } from '../../local/provision';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';
import { BASE_TIME_MS } from '../support/stream-arbitraries';
import { archiveThroughTransform, firehoseRecord, type ArchiveOptions } from './batch-archive';
import { readServedRows, windowRowsInTable } from './batch-views';
import { presented } from './expected-batch-view';
import { DynamoDbWriteFaults } from './dynamodb-write-faults';

export {
  countedRecords,
  expectedBatchView,
  presented,
  type ExpectedViewOptions,
  type PresentedView,
} from './expected-batch-view';

/**
 * The batch suites' pipeline: AWS's default timing, and views that cover every kind of key, granularity, filter
 * and de-duplication the SQL generator emits.
 */
export const BATCH_TEST_CONFIG: PipelineConfig = definePipelineConfig({
  epochLengthMinutes: 15,
  firehoseBufferIntervalSeconds: 60,
  safetyMarginMinutes: 5,
  views: [
    { name: 'device_metric_minute', dimensions: ['deviceId', 'metric'], granularity: 'minute' },
    { name: 'site_metric_hour', dimensions: ['site', 'metric'], granularity: 'hour' },
    { name: 'device_once_per_event', dimensions: ['deviceId'], granularity: 'minute', dedupeByEventId: true },
    {
      name: 'warm_sites_day',
      dimensions: ['site'],
      granularity: 'day',
      measures: ['count', 'max'],
      filter: [
        { field: 'metric', op: 'in', value: ['temperature', 'humidity'] },
        { field: 'value', op: 'gte', value: 0 },
      ],
    },
  ],
});

export const batchTestView = (name: string) =>
  BATCH_TEST_CONFIG.views.find((candidate) => candidate.name === name) as ViewDefinition;
/** A batch clock at which the cutoff is `cutoff`: the buffer interval and the margin past it, plus `into`. */
export const nowFor = (cutoff: number, into = 0) =>
  cutoff + BATCH_TEST_CONFIG.bufferIntervalMs + BATCH_TEST_CONFIG.safetyMarginMs + into;
/** Late enough that every generated record is below the cutoff. */
export const LATE_CUTOFF = BASE_TIME_MS + 10 * 86_400_000;

/** dynalite and s3rver, started once for a test file (before its tests) and stopped after them. */
export class BatchEmulators {
  private dynamo?: RunningEmulator;
  private s3Emulator?: RunningEmulator;
  private client?: S3Client;

  static forThisFile(): BatchEmulators {
    const emulators = new BatchEmulators();
    beforeAll(async () => {
      [emulators.dynamo, emulators.s3Emulator] = await Promise.all([startDynamoDb(), startS3()]);
      emulators.client = new S3Client(emulatorClientConfig(emulators.s3Emulator.endpoint));
    });
    afterAll(async () => {
      emulators.client?.destroy();
      await Promise.all([emulators.dynamo?.stop(), emulators.s3Emulator?.stop()]);
    });
    return emulators;
  }

  get s3(): S3Client {
    if (this.client === undefined) throw new Error('the emulators start before the tests');
    return this.client;
  }

  get dynamoEndpoint(): string {
    if (this.dynamo === undefined) throw new Error('the emulators start before the tests');
    return this.dynamo.endpoint;
  }
}

export interface RunOutcome {
  readonly summary: BatchRunSummary;
  readonly failed: boolean;
  readonly logger: RecordingLogger;
  readonly metrics: RecordingMetrics;
}

let fixtureCounter = 0;

/** A payload the schema rejects: its first dimension set, its first numeric field (if any) a string. */
function invalidPayload(config: PipelineConfig): string {
  const [dimension] = config.schema.dimensions;
  const [number] = config.schema.numbers;
  return JSON.stringify({ [dimension ?? 'deviceId']: 'd', ...(number === undefined ? {} : { [number]: 'hot' }) });
}

/**
 * A fresh bucket and tables, a DynamoDB client whose faults the test chooses (the job's), a second one without
 * faults (the test's own reads), and DuckDB batch runs over them.
 */
export async function batchRunFixture(emulators: BatchEmulators, config: PipelineConfig) {
  fixtureCounter += 1;
  const { s3 } = emulators;
  const names = {
    bucket: `master-${fixtureCounter}`,
    batchTable: `batch-${fixtureCounter}`,
    manifestTable: `manifest-${fixtureCounter}`,
  };
  const dynamodb = new DynamoDBClient({ ...emulatorClientConfig(emulators.dynamoEndpoint), maxAttempts: 1 });
  const readClient = new DynamoDBClient({ ...emulatorClientConfig(emulators.dynamoEndpoint), maxAttempts: 1 });
  await ensureBucket(s3, names.bucket);
  await ensureTable(dynamodb, names.batchTable);
  await ensureTable(dynamodb, names.manifestTable);
  const faults = new DynamoDbWriteFaults().attachTo(dynamodb);
  const storeOptions = {
    batchTable: names.batchTable,
    manifestTable: names.manifestTable,
    retry: { sleep: async () => undefined },
  };
  const store = new BatchViewStore({ client: dynamodb, ...storeOptions });
  /** The manifest as it is, read past the faults. */
  const cleanStore = new BatchViewStore({ client: readClient, ...storeOptions });
  const reader = new ViewReader({
    client: readClient,
    realtimeTable: 'unused',
    batchTable: names.batchTable,
    manifestTable: names.manifestTable,
    manifestCacheMs: 0,
  });
  const engine = () => new DuckDbEngine({ s3, bucket: names.bucket, schema: config.schema });
  const definitionOf = (name: string) => {
    const definition = config.views.find((candidate) => candidate.name === name);
    if (definition === undefined) throw new Error(`no view ${name} in the fixture's config`);
    return definition;
  };
  const run = async (nowMs: number, overrides: Partial<BatchJobDependencies> = {}): Promise<RunOutcome> => {
    const logger = new RecordingLogger();
    const metrics = new RecordingMetrics();
    try {
      const summary = await runBatchJob({
        config,
        engine: engine(),
        store,
        logger,
        metrics,
        now: () => nowMs,
        ...overrides,
      });
      return { summary, failed: false, logger, metrics };
    } catch (error) {
      if (!(error instanceof BatchRunError)) throw error;
      return { summary: error.summary, failed: true, logger, metrics };
    }
  };
  const archive = (
    records: readonly StreamRecord[],
    invalid: readonly StreamRecord[] = [],
    options: ArchiveOptions = {},
  ) =>
    archiveThroughTransform(
      s3,
      names.bucket,
      [
        ...records.map((record) => firehoseRecord(record, undefined, config.schema)),
        ...invalid.map((record) => firehoseRecord(record, invalidPayload(config), config.schema)),
      ],
      { schema: config.schema, ...options },
    );
  /** Writes an object straight into the master dataset, past the transform: lines archived under older rules. */
  const put = (key: string, body: string | Buffer) =>
    s3.send(new PutObjectCommand({ Bucket: names.bucket, Key: key, Body: body }));
  /** The served manifest, as a reader takes it. */
  const served = (name: string) => reader.servedBatch(name);
  /** The view's whole batch state (served cutoff, pending window, ...). */
  const state = (name: string) => cleanStore.state(name);
  /** Everything the view serves, read through the ViewReader (at `keys`, or at every key with rows in the table). */
  const servedRows = (name: string, keys?: Iterable<string>) =>
    readServedRows(reader, readClient, names.batchTable, definitionOf(name), keys);
  /** Every window row of the view in the table, served or not (only the window ending at `windowTo`, if given). */
  const windowRows = (name: string, windowTo?: number) =>
    windowRowsInTable(readClient, names.batchTable, definitionOf(name), windowTo);
  /**
   * What the view answers from the batch layer alone, through the serving rule at `granularity` (the view's by
   * default), with the served cutoff it was read at (null: nothing served).
   */
  const answer = async (definition: ViewDefinition, granularity: Granularity = definition.granularity) => {
    const { manifest, rows } = await servedRows(definition.name);
    const buckets = applyServingRule({ batch: rows, realtime: [], cutoff: manifest?.cutoff ?? null, granularity });
    return { cutoff: manifest?.cutoff ?? null, manifest, rows, buckets: presented(definition, buckets) };
  };
  const destroy = () => {
    dynamodb.destroy();
    readClient.destroy();
  };
  return {
    ...names,
    config,
    dynamodb,
    readClient,
    faults,
    store,
    cleanStore,
    reader,
    engine,
    run,
    archive,
    put,
    served,
    state,
    servedRows,
    windowRows,
    answer,
    destroy,
  };
}

export type BatchRunFixture = Awaited<ReturnType<typeof batchRunFixture>>;

/**
 * The deliveries as if they had arrived in [fromMs, toMs) on shard `shardId`, with new eventIds: each record's
 * arrival moves to the same place in that range (so duplicate deliveries still share theirs), and its event time
 * keeps its lateness. For a second batch of data that a later window, not an earlier one, must count.
 */
export function arrivingIn(
  deliveries: readonly StreamRecord[],
  fromMs: number,
  toMs: number,
  shardId: string,
): StreamRecord[] {
  const span = toMs - fromMs;
  return deliveries.map((record) => {
    const arrivalMs = fromMs + ((((record.arrivalMs - BASE_TIME_MS) % span) + span) % span);
    return {
      ...record,
      shardId,
      arrivalMs,
      event: {
        ...record.event,
        eventId: `${record.event.eventId as string}@${shardId}`,
        ts: arrivalMs - (record.arrivalMs - (record.event.ts as number)),
      },
    };
  });
}
