import fc from 'fast-check';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import { runBatchJob, type BatchRunSummary } from '../../functions/batch/batch-job';
import { createFirehoseTransformHandler } from '../../functions/firehose-transform/firehose-transform-handler';
import { definePipelineConfig, type PipelineConfig } from '../../functions/core/pipeline-config';
import { foldRecords } from '../../functions/core/fold';
import { toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import {
  emulatorClientConfig,
  startDynamoDb,
  startKinesis,
  startS3,
  type KinesisEmulator,
  type RunningEmulator,
} from '../../local/emulators';
import { MemoryCheckpointStore } from '../../local/checkpoint-store';
import { FirehoseStandIn } from '../../local/firehose';
import { ensureBucket, ensureStream, ensureTable } from '../../local/provision';
import { asExpected, bruteForce } from '../support/brute-force';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';
import { cutoffArbitrary, streamArbitrary } from '../support/stream-arbitraries';
import { archiveThroughTransform, firehoseRecord } from './batch-archive';
import { readBatchVersion, servedManifest } from './batch-views';

const EPOCH_MINUTES = 15;
const config: PipelineConfig = definePipelineConfig({
  epochLengthMinutes: EPOCH_MINUTES,
  firehoseBufferIntervalSeconds: 0,
  safetyMarginMinutes: 0,
  views: [
    { name: 'device_metric_minute', dimensions: ['deviceId', 'metric'], granularity: 'minute' },
    { name: 'site_metric_hour', dimensions: ['site', 'metric'], granularity: 'hour' },
    { name: 'device_once_per_event', dimensions: ['deviceId'], granularity: 'minute', dedupeByEventId: true },
  ],
});
const EPOCH_MS = config.epochLengthMs;

let dynamoEmulator: RunningEmulator;
let s3Emulator: RunningEmulator;
let kinesisEmulator: KinesisEmulator;
let dynamodb: DynamoDBClient;
let s3: S3Client;
let kinesis: KinesisClient;
let tableCounter = 0;

beforeAll(async () => {
  [dynamoEmulator, s3Emulator, kinesisEmulator] = await Promise.all([startDynamoDb(), startS3(), startKinesis()]);
  dynamodb = new DynamoDBClient({ ...emulatorClientConfig(dynamoEmulator.endpoint), maxAttempts: 1 });
  s3 = new S3Client(emulatorClientConfig(s3Emulator.endpoint));
  kinesis = new KinesisClient(emulatorClientConfig(kinesisEmulator.endpoint));
});
afterAll(async () => {
  for (const client of [dynamodb, s3, kinesis]) client.destroy();
  await Promise.all([dynamoEmulator.stop(), s3Emulator.stop(), kinesisEmulator.stop()]);
});

/** A fresh bucket and tables, and a job over them whose clock is the test's. */
async function setUp(store?: (client: DynamoDBClient) => BatchViewStore) {
  tableCounter += 1;
  const names = {
    bucket: `master-${tableCounter}`,
    batchTable: `batch-${tableCounter}`,
    manifestTable: `manifest-${tableCounter}`,
  };
  await ensureBucket(s3, names.bucket);
  await ensureTable(dynamodb, names.batchTable);
  await ensureTable(dynamodb, names.manifestTable);
  const viewStore =
    store?.(dynamodb) ??
    new BatchViewStore({
      client: dynamodb,
      batchTable: names.batchTable,
      manifestTable: names.manifestTable,
      retry: { sleep: async () => undefined },
    });
  const run = (nowMs: number) =>
    runBatchJob({
      config,
      engine: new DuckDbEngine({ s3, bucket: names.bucket }),
      store: viewStore,
      logger: new RecordingLogger(),
      metrics: new RecordingMetrics(),
      now: () => nowMs,
    });
  return { ...names, run };
}

async function expectExact(
  names: { batchTable: string; manifestTable: string },
  summary: BatchRunSummary,
  deliveries: readonly StreamRecord[],
) {
  for (const view of config.views) {
    const manifest = await servedManifest(dynamodb, names.manifestTable, view.name);
    expect(manifest).toMatchObject({ version: summary.views[0].version, cutoff: summary.cutoff });
    const rows = await readBatchVersion(dynamodb, names.batchTable, view.name, manifest!.version);
    expect(manifest!.rowCount).toBe(rows.length);
    expect(asExpected(rows)).toEqual(
      bruteForce(view, deliveries, view.granularity, (record) => record.arrivalMs < summary.cutoff),
    );
  }
}

describe('batch job with the DuckDB engine, over s3rver and dynalite', () => {
  // 20 runs, each a full archive + batch run over 3 views (about 0.2 s each): the cases that matter (records on both
  // sides of the cutoff, duplicate deliveries, producer retries, invalid records) occur in every run.
  it('each view version equals brute force over the distinct valid records that arrived before the cutoff', async () => {
    await fc.assert(
      fc.asyncProperty(streamArbitrary({ minLength: 5 }), cutoffArbitrary(EPOCH_MS), async ({ deliveries }, cutoff) => {
        const names = await setUp();
        const invalid = deliveries
          .slice(0, 3)
          .map((record) =>
            firehoseRecord({ ...record, sequenceNumber: `9${record.sequenceNumber}` }, '{"value": "hot"}'),
          );
        await archiveThroughTransform(s3, names.bucket, [
          ...deliveries.map((record) => firehoseRecord(record)),
          ...invalid,
        ]);
        const summary = await names.run(cutoff + config.bufferIntervalMs + config.safetyMarginMs + 1);
        expect(summary.cutoff).toBe(cutoff);
        expect(summary.views.map((view) => view.outcome)).toEqual(['flipped', 'flipped', 'flipped']);
        await expectExact(names, summary, deliveries);
      }),
      { numRuns: 20 },
    );
  });

  it('reads what the Firehose stand-in archived from kinesis-local, duplicate deliveries and an emulator-style object included', async () => {
    const names = await setUp();
    const streamName = `events-${tableCounter}`;
    const streamArn = await ensureStream(kinesis, streamName, 2);
    const [sample] = fc.sample(streamArbitrary({ minLength: 20, maxLength: 40 }), { numRuns: 1, seed: 42 });
    const { PutRecordsCommand } = await import('@aws-sdk/client-kinesis');
    await kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: [
          ...sample.records.map((record) => ({
            Data: Buffer.from(JSON.stringify(record.event)),
            PartitionKey: record.event.deviceId,
          })),
          { Data: Buffer.from('{"bad'), PartitionKey: 'x' },
        ],
      }),
    );
    const transform = createFirehoseTransformHandler({
      logger: new RecordingLogger(),
      metrics: new RecordingMetrics(),
    });
    // Two deliveries of everything: a restarted Firehose re-reads from TRIM_HORIZON, as at-least-once allows.
    for (let delivery = 0; delivery < 2; delivery += 1) {
      await new FirehoseStandIn({
        kinesis,
        streamName,
        streamArn,
        s3,
        bucket: names.bucket,
        transform,
        checkpoints: new MemoryCheckpointStore(),
      }).drain();
    }
    // MiniStack's Firehose writes one plain object per record, without a trailing newline, under YYYY/MM/DD/HH/.
    const extra: StreamRecord = { ...sample.records[0], shardId: 'shardId-000000000009', sequenceNumber: '1' };
    await s3.send(
      new PutObjectCommand({
        Bucket: names.bucket,
        Key: 'events/2026/11/24/14/ministack-1',
        Body: JSON.stringify(toArchivedEvent(extra)),
      }),
    );

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: names.bucket, Prefix: 'errors/' }));
    expect(listed.KeyCount).toBeGreaterThan(0);
    const summary = await names.run(Date.now() + 2 * EPOCH_MS);
    // The records as Kinesis stamped them (arrival, sequence), read back through what the batch layer archived.
    const archived = await readArchivedRecords(names.bucket);
    expect(archived.length).toBe(sample.records.length + 1);
    await expectExact(names, summary, [...archived, ...archived]);
    await s3.send(new DeleteObjectCommand({ Bucket: names.bucket, Key: 'events/2026/11/24/14/ministack-1' }));
  });

  it('agrees with the speed layer fold over the same records', async () => {
    const names = await setUp();
    const [sample] = fc.sample(streamArbitrary({ minLength: 30 }), { numRuns: 1, seed: 7 });
    await archiveThroughTransform(
      s3,
      names.bucket,
      sample.deliveries.map((record) => firehoseRecord(record)),
    );
    const summary = await names.run(Date.now() + 30 * 86_400_000);
    const view = config.views[0];
    const rows = await readBatchVersion(dynamodb, names.batchTable, view.name, summary.views[0].version);
    const distinct = new Map(sample.deliveries.map((record) => [`${record.shardId}/${record.sequenceNumber}`, record]));
    const folded = new Map<
      string,
      { dimensionKey: string; bucket: number; measures: { count: number; sum: number; min: number; max: number } }
    >();
    for (const partial of foldRecords(distinct.values(), [view], EPOCH_MS).values()) {
      const id = `${partial.key.dimensionKey}@${partial.key.bucket}`;
      const existing = folded.get(id);
      const m = partial.measures;
      folded.set(id, {
        dimensionKey: partial.key.dimensionKey,
        bucket: partial.key.bucket,
        measures: existing
          ? {
              count: existing.measures.count + m.count,
              sum: existing.measures.sum + m.sum,
              min: Math.min(existing.measures.min, m.min),
              max: Math.max(existing.measures.max, m.max),
            }
          : m,
      });
    }
    expect(asExpected(rows)).toEqual(asExpected(folded.values()));
  });

  it("a run that fails for one view leaves that view's served version untouched, flips the others, and throws", async () => {
    const names = await setUp();
    const [sample] = fc.sample(streamArbitrary({ minLength: 10 }), { numRuns: 1, seed: 3 });
    await archiveThroughTransform(
      s3,
      names.bucket,
      sample.records.map((record) => firehoseRecord(record)),
    );
    const first = await names.run(Date.now() + 30 * 86_400_000);
    const failing = new BatchViewStore({
      client: dynamodb,
      batchTable: names.batchTable,
      manifestTable: names.manifestTable,
      retry: { sleep: async () => undefined },
    });
    const flip = failing.flip.bind(failing);
    failing.flip = async (manifest) => {
      if (manifest.view === 'site_metric_hour') throw new Error('injected: manifest write failed');
      return flip(manifest);
    };
    await expect(
      runBatchJob({
        config,
        engine: new DuckDbEngine({ s3, bucket: names.bucket }),
        store: failing,
        logger: new RecordingLogger(),
        metrics: new RecordingMetrics(),
        now: () => Date.now() + 31 * 86_400_000,
      }),
    ).rejects.toThrow(/batch run failed for site_metric_hour \(Error: injected: manifest write failed\)/);
    expect((await servedManifest(dynamodb, names.manifestTable, 'site_metric_hour'))?.version).toBe(
      first.views[1].version,
    );
    expect((await servedManifest(dynamodb, names.manifestTable, 'device_metric_minute'))?.version).not.toBe(
      first.views[0].version,
    );
    const kept = await readBatchVersion(dynamodb, names.batchTable, 'site_metric_hour', first.views[1].version);
    expect(asExpected(kept)).toEqual(bruteForce(config.views[1], sample.records));
  });

  it('an older run that finishes after a newer one cannot take the manifest back', async () => {
    const names = await setUp();
    const [sample] = fc.sample(streamArbitrary({ minLength: 10 }), { numRuns: 1, seed: 5 });
    await archiveThroughTransform(
      s3,
      names.bucket,
      sample.records.map((record) => firehoseRecord(record)),
    );
    const later = Date.now() + 30 * 86_400_000;
    const newer = await names.run(later);
    const older = await names.run(later - 2 * EPOCH_MS);
    expect(older.views.map((view) => view.outcome)).toEqual(['superseded', 'superseded', 'superseded']);
    for (const [index, view] of config.views.entries()) {
      expect((await servedManifest(dynamodb, names.manifestTable, view.name))?.version).toBe(
        newer.views[index].version,
      );
    }
  });
});

/** The archived records (one per distinct Kinesis record), read back from S3 through a throwaway DuckDB session. */
async function readArchivedRecords(bucket: string): Promise<StreamRecord[]> {
  const session = await new DuckDbEngine({ s3, bucket }).open();
  try {
    const { rows } = await session.run(
      // Aliases, because DuckDB names result columns after the JSON keys' own casing.
      `SELECT DISTINCT "eventid" AS eventid, "deviceid" AS deviceid, "site" AS site, "metric" AS metric, "value" AS value, ` +
        `"ts" AS ts, "arrival_ms" AS arrival_ms, "shard_id" AS shard_id, "sequence_number" AS sequence_number FROM ${session.source}`,
    );
    return rows.map((row) => ({
      event: {
        eventId: String(row.eventid),
        deviceId: String(row.deviceid),
        site: String(row.site),
        metric: String(row.metric),
        value: Number(row.value),
        ts: Number(row.ts),
      },
      shardId: String(row.shard_id),
      sequenceNumber: String(row.sequence_number),
      subSequenceNumber: 0,
      arrivalMs: Number(row.arrival_ms),
    }));
  } finally {
    await session.close();
  }
}
