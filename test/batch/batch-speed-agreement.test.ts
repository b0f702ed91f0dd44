import fc from 'fast-check';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import { ViewReader } from '../../functions/adapters/view-reader';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import { FIRST_GENERATION } from '../../functions/core/generation-manifest';
import { runBatchJob } from '../../functions/batch/batch-job';
import { distinctRecords } from '../../functions/core/distinct-records';
import { foldRecords } from '../../functions/core/fold';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { realtimeAggregateFromItem } from '../../functions/core/realtime-update';
import { applyServingRule, type BatchAggregate, type RealtimeAggregate } from '../../functions/core/serving-rule';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { createSpeedHandler } from '../../functions/speed/speed-handler';
import { emulatorClientConfig, startDynamoDb, startS3, type RunningEmulator } from '../../local/emulators';
import { toLambdaEvent } from '../../local/kinesis-lambda-event';
import { ensureBucket, ensureTable } from '../../local/provision';
import { bruteForceAnswer } from '../support/brute-force';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';
import { BASE_TIME_MS, sequenceNumber, streamArbitrary } from '../support/stream-arbitraries';
import { archiveThroughTransform, firehoseRecord } from './batch-archive';
import { readServedRows } from './batch-views';
import { presented } from './expected-batch-view';

const config = definePipelineConfig({
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
      filter: [{ field: 'value', op: 'gt', value: 0 }],
    },
  ],
});
/** Mid-way through the generated arrivals, so both layers hold part of the data. */
const CUTOFF = BASE_TIME_MS + 24 * 3_600_000;
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/events';

let dynamoEmulator: RunningEmulator;
let s3Emulator: RunningEmulator;
let dynamodb: DynamoDBClient;
let s3: S3Client;

beforeAll(async () => {
  [dynamoEmulator, s3Emulator] = await Promise.all([startDynamoDb(), startS3()]);
  dynamodb = new DynamoDBClient({ ...emulatorClientConfig(dynamoEmulator.endpoint), maxAttempts: 1 });
  s3 = new S3Client(emulatorClientConfig(s3Emulator.endpoint));
  for (const table of ['realtime', 'dedup', 'batch', 'manifest']) await ensureTable(dynamodb, table);
  await ensureBucket(s3, 'master');
});
afterAll(async () => {
  dynamodb.destroy();
  s3.destroy();
  await Promise.all([dynamoEmulator.stop(), s3Emulator.stop()]);
});

/** A Kinesis record of the stream as both consumers see it: the event's JSON, or a poison payload. */
interface ShardEntry {
  readonly record: StreamRecord;
  readonly payload: string | Buffer;
}

/** The realtime items the speed layer wrote for one view. */
async function realtimeItems(view: ViewDefinition): Promise<RealtimeAggregate[]> {
  const prefix = `${view.name}@${FIRST_GENERATION}#`;
  const items: RealtimeAggregate[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: 'realtime', ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      const pk = item.pk?.S ?? '';
      if (pk.startsWith(prefix)) items.push(realtimeAggregateFromItem(pk.slice(prefix.length), item, view.stored));
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

/** Merges aggregates over epochs, per (key, bucket): what a view holds for the records they cover. */
function overEpochs(rows: readonly BatchAggregate[]): BatchAggregate[] {
  return applyServingRule({ batch: rows, realtime: [], cutoff: null, granularity: 'minute' }).map((bucket) => ({
    dimensionKey: bucket.dimensionKey,
    bucket: bucket.bucket,
    measures: bucket.measures,
  }));
}

describe('the batch layer and the speed layer, on the same records', () => {
  it('agree: the served batch windows equal the realtime items of the epochs below the cutoff, and batch ⊕ realtime is exact', async () => {
    const [{ records, deliveries }] = fc.sample(streamArbitrary({ minLength: 60, maxLength: 60 }), {
      numRuns: 1,
      seed: 2026,
    });
    // The sample holds what the agreement is about: redeliveries, a producer's retried event and late events.
    expect(deliveries.length).toBeGreaterThan(records.length);
    expect(new Set(records.map((record) => record.event.eventId)).size).toBeLessThan(records.length);
    expect(records.some((record) => record.arrivalMs - (record.event.ts as number) > config.epochLengthMs)).toBe(true);
    // Poison records in the stream: invalid JSON, a schema error, and invalid UTF-8 inside a string.
    const event = records[0].event;
    const poison = ['{"bad', JSON.stringify({ ...event, value: 'hot' }), Buffer.from('{"deviceId":"\xff"}', 'latin1')];
    const entries: ShardEntry[] = [
      ...records.map((record) => ({ record, payload: JSON.stringify(record.event) })),
      ...poison.map((payload, index) => ({
        record: {
          ...records[0],
          shardId: 'shardId-000000000000',
          sequenceNumber: sequenceNumber(0, 10_000n + BigInt(index)),
        },
        payload,
      })),
    ];

    // Speed layer: each shard's records in sequence order, in batches of 5, every batch delivered twice (a retry).
    const speed = createSpeedHandler({
      config,
      dynamodb,
      realtimeTable: 'realtime',
      dedupTable: 'dedup',
      logger: new RecordingLogger(),
      metrics: new RecordingMetrics(),
      retry: { sleep: async () => undefined },
    });
    for (const shardId of ['shardId-000000000000', 'shardId-000000000001']) {
      const shard = entries
        .filter((entry) => entry.record.shardId === shardId)
        .sort((a, b) => (BigInt(a.record.sequenceNumber) < BigInt(b.record.sequenceNumber) ? -1 : 1));
      for (let start = 0; start < shard.length; start += 5) {
        const batch = toLambdaEvent(
          shard.slice(start, start + 5).map(({ record, payload }) => ({
            Data: Buffer.from(payload),
            PartitionKey: record.event.deviceId as string,
            SequenceNumber: record.sequenceNumber,
            ApproximateArrivalTimestamp: new Date(record.arrivalMs),
          })),
          { streamArn: STREAM_ARN, shardId },
        );
        for (let delivery = 0; delivery < 2; delivery += 1) {
          expect(await speed(batch)).toEqual({ batchItemFailures: [] });
        }
      }
    }

    // Batch layer: the same stream archived through the transform, duplicate deliveries included, then one run.
    const poisonDeliveries = entries.slice(records.length).map(({ record, payload }) => {
      const delivery = firehoseRecord(record);
      return { ...delivery, data: Buffer.from(payload).toString('base64') };
    });
    const archived = await archiveThroughTransform(s3, 'master', [
      ...deliveries.map((record) => firehoseRecord(record)),
      ...poisonDeliveries,
    ]);
    expect(archived).toEqual({ archived: deliveries.length, failed: poison.length });
    // Two runs, so that what is served is two arrival windows: [0, C - 6 h) and [C - 6 h, C).
    for (const cutoff of [CUTOFF - 6 * 3_600_000, CUTOFF]) {
      const summary = await runBatchJob({
        config,
        engine: new DuckDbEngine({ s3, bucket: 'master' }),
        store: new BatchViewStore({ client: dynamodb, batchTable: 'batch', manifestTable: 'manifest' }),
        logger: new RecordingLogger(),
        metrics: new RecordingMetrics(),
        now: () => cutoff + config.bufferIntervalMs + config.safetyMarginMs,
      });
      expect(summary.cutoff).toBe(cutoff);
      expect(summary.views.map((view) => view.outcome)).toEqual(config.views.map(() => 'flipped'));
    }
    const reader = new ViewReader({
      client: dynamodb,
      realtimeTable: 'realtime',
      batchTable: 'batch',
      manifestTable: 'manifest',
      manifestCacheMs: 0,
    });

    const below = distinctRecords(records).filter((record) => record.arrivalMs < CUTOFF);
    expect(below.length).toBeGreaterThan(10);
    expect(below.length).toBeLessThan(records.length);
    let rowsMerged = 0;
    for (const view of config.views) {
      const { manifest, rows } = await readServedRows(reader, dynamodb, 'batch', view);
      expect(manifest?.cutoff).toBe(CUTOFF);
      // A key and bucket both windows touched has a row in each: merged, as the serving rule merges them.
      const batch = overEpochs(rows);
      rowsMerged += rows.length - batch.length;
      const realtime = await realtimeItems(view);
      // Batch = the speed layer's own items for every epoch before the cutoff.
      expect(presented(view, batch)).toEqual(
        presented(view, overEpochs(realtime.filter((item) => item.epoch < CUTOFF))),
      );
      // And batch ⊕ realtime(epoch >= C), the serving rule, is every distinct valid record.
      const served = applyServingRule({ batch, realtime, cutoff: CUTOFF, granularity: view.granularity });
      expect(presented(view, served)).toEqual(bruteForceAnswer(view, deliveries));
      if (!view.dedupeByEventId) {
        // The core fold over the distinct records below the cutoff says the same (eventId de-duplication is not
        // the fold's job: the speed layer's claims and the batch SQL's row_number() do it).
        const folded = [...foldRecords(below, [view], config.epochLengthMs).values()].map((partial) => ({
          dimensionKey: partial.key.dimensionKey,
          bucket: partial.key.bucket,
          measures: partial.measures,
        }));
        expect(presented(view, batch)).toEqual(presented(view, overEpochs(folded)));
      }
    }
    // Some key and bucket was touched by both windows, so the merge across windows was exercised.
    expect(rowsMerged).toBeGreaterThan(0);
  });
});
