import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import {
  BatchRunError,
  runBatchJob,
  type BatchJobDependencies,
  type BatchRunSummary,
} from '../../functions/batch/batch-job';
import { definePipelineConfig, type PipelineConfig } from '../../functions/core/pipeline-config';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { emulatorClientConfig, startDynamoDb, startS3, type RunningEmulator } from '../../local/emulators';
import { ensureBucket, ensureTable } from '../../local/provision';
import { bruteForce, type ExpectedBucket } from '../support/brute-force';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';
import { BASE_TIME_MS } from '../support/stream-arbitraries';
import { archiveThroughTransform, firehoseRecord } from './batch-archive';
import { readBatchVersion, servedManifest } from './batch-views';
import { DynamoDbWriteFaults } from './dynamodb-write-faults';

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

/** A fresh bucket and tables, a DynamoDB client whose faults the test chooses, and DuckDB batch runs over them. */
export async function batchRunFixture(emulators: BatchEmulators, config: PipelineConfig) {
  fixtureCounter += 1;
  const { s3 } = emulators;
  const names = {
    bucket: `master-${fixtureCounter}`,
    batchTable: `batch-${fixtureCounter}`,
    manifestTable: `manifest-${fixtureCounter}`,
  };
  const dynamodb = new DynamoDBClient({ ...emulatorClientConfig(emulators.dynamoEndpoint), maxAttempts: 1 });
  await ensureBucket(s3, names.bucket);
  await ensureTable(dynamodb, names.batchTable);
  await ensureTable(dynamodb, names.manifestTable);
  const faults = new DynamoDbWriteFaults().attachTo(dynamodb);
  const store = new BatchViewStore({
    client: dynamodb,
    batchTable: names.batchTable,
    manifestTable: names.manifestTable,
    retry: { sleep: async () => undefined },
  });
  const run = async (nowMs: number, overrides: Partial<BatchJobDependencies> = {}): Promise<RunOutcome> => {
    const logger = new RecordingLogger();
    const metrics = new RecordingMetrics();
    try {
      const summary = await runBatchJob({
        config,
        engine: new DuckDbEngine({ s3, bucket: names.bucket }),
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
  const archive = (records: readonly StreamRecord[], invalid: readonly StreamRecord[] = []) =>
    archiveThroughTransform(s3, names.bucket, [
      ...records.map((record) => firehoseRecord(record)),
      ...invalid.map((record) => firehoseRecord(record, '{"deviceId": "d", "value": "hot"}')),
    ]);
  /** Writes an object straight into the master dataset, past the transform: lines archived under older rules. */
  const put = (key: string, body: string | Buffer) =>
    s3.send(new PutObjectCommand({ Bucket: names.bucket, Key: key, Body: body }));
  const served = (name: string) => servedManifest(dynamodb, names.manifestTable, name);
  const version = (name: string, id: string) => readBatchVersion(dynamodb, names.batchTable, name, id);
  return { ...names, dynamodb, faults, store, run, archive, put, served, version };
}

/** Brute force with the measures a view does not store at their identity, as the store reads them back. */
export function expectedBatchView(definition: ViewDefinition, deliveries: readonly StreamRecord[], cutoff: number) {
  const buckets = bruteForce(definition, deliveries, definition.granularity, (record) => record.arrivalMs < cutoff);
  const identity: ExpectedBucket = { count: 0, sum: 0, min: Infinity, max: -Infinity };
  for (const bucket of buckets.values()) {
    for (const measure of ['sum', 'min', 'max'] as const) {
      if (!definition.measures.includes(measure)) bucket[measure] = identity[measure];
    }
  }
  return buckets;
}
