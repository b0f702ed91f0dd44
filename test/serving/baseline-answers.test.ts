import { gzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BaselineReader, hasBaseline, type BaselineView } from '../../functions/adapters/baseline-reader';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import { KeyDirectoryStore } from '../../functions/adapters/key-directory-store';
import { ViewReader } from '../../functions/adapters/view-reader';
import { runBatchJob } from '../../functions/batch/batch-job';
import { slotBaseline, type SlotReadings } from '../../functions/core/baseline';
import { encodeDimensionKey } from '../../functions/core/dimension-key';
import { partitionKeysOf } from '../../functions/core/master-dataset-columns';
import { definePipelineConfig, type PipelineConfig } from '../../functions/core/pipeline-config';
import { toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import { createSpeedHandler } from '../../functions/speed/speed-handler';
import { emulatorClientConfig, startDynamoDb, startS3, type RunningEmulator } from '../../local/emulators';
import { streamRecordsEvent } from '../support/stream-records-event';
import { ensureBucket, ensureTable } from '../../local/provision';
import { seededRandom } from '../speed/generated-events';
import { countedRecords } from '../support/brute-force';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';
import { BASE_TIME_MS, sequenceNumber } from '../support/stream-arbitraries';
import { UNHURRIED_RETRIES } from '../support/unhurried-retries';

/**
 * The property: the served baseline of a key (what the speed layer scores against and a forecast reads) is
 * the count, sum and sum of squares of the field per season slot over the distinct records of its training window,
 * whatever the batch cutoff: before any batch run (all realtime), after some arrival windows flipped (batch ⊕ the
 * realtime epochs from the cutoff), and after every record is in the batch views. A pipeline history over emulators
 * (the speed handler with redeliveries, a Firehose-shaped archive, DuckDB batch runs), checked at each stage
 * against brute force written without the core's slot, window or fold code.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/events';
const SHARDS = ['shardId-000000000000', 'shardId-000000000001'];
/** Ten days of event time from a Monday (BASE_TIME_MS is Monday 2026-11-23 00:00 UTC). */
const EVENT_DAYS = 10;
const KEYS = [
  { site: 'site-a', metric: 'temperature' },
  { site: 'site-b', metric: 'humidity' },
] as const;

const config = definePipelineConfig({
  // Hour epochs and a 6-hour schedule: batch windows of at most a day, so a later run flips several.
  epochLengthMinutes: 60,
  batchScheduleMinutes: 360,
  views: [
    {
      name: 'by_hour_of_day',
      dimensions: ['site', 'metric'],
      granularity: 'hour',
      baseline: { measure: 'value', seasonality: 'hourOfDay', trainingWindowDays: 3, minEvents: 3 },
    },
    {
      name: 'by_hour_of_week',
      dimensions: ['site', 'metric'],
      granularity: 'hour',
      // Its own sum and sum-of-squares attributes (`value.baselineSum`, ...): no declared measure of value.
      measures: ['count'],
      baseline: { measure: 'value', seasonality: 'hourOfWeek', trainingWindowDays: 7, minEvents: 2 },
    },
    {
      name: 'by_hour',
      dimensions: ['site', 'metric'],
      granularity: 'hour',
      measures: { readings: 'count', spread: { stddev: 'value' } },
      baseline: { measure: 'value', seasonality: 'none', trainingWindowDays: 5, threshold: 3 },
    },
  ],
});
const views = config.views.filter(hasBaseline);

/**
 * The records: per key and hour 0 to 2 readings (a daily cycle plus noise, not quarter-rounded: sums are compared
 * within a relative 1e-9), arriving mostly seconds after their event time, one in ten up to 12 hours late and one
 * in fifty up to 3 days late (after the batch run that covered its bucket's hour). Sequence numbers follow arrival
 * per shard, as Kinesis assigns them; producer retries make second records of some events.
 */
function generateStream(seed: number) {
  const random = seededRandom(seed);
  const drafts: { event: Record<string, unknown>; shard: number; arrivalMs: number }[] = [];
  for (let hour = 0; hour < EVENT_DAYS * 24; hour += 1) {
    for (const [keyIndex, key] of KEYS.entries()) {
      const readings = Math.floor(random() * 3);
      for (let reading = 0; reading < readings; reading += 1) {
        const ts = BASE_TIME_MS + hour * HOUR_MS + Math.floor(random() * HOUR_MS);
        const late = random();
        const lateness =
          late < 0.02
            ? Math.floor(random() * 3 * DAY_MS)
            : late < 0.12
              ? Math.floor(random() * 12 * HOUR_MS)
              : Math.floor(random() * 5_000);
        drafts.push({
          event: {
            eventId: `evt-${drafts.length}`,
            deviceId: `device-${keyIndex}-${reading}`,
            site: key.site,
            metric: key.metric,
            value: 20 + 5 * Math.sin((2 * Math.PI * (hour % 24)) / 24) + keyIndex + 3 * (random() - 0.5),
            ts,
          },
          shard: random() < 0.5 ? 0 : 1,
          arrivalMs: ts + lateness,
        });
      }
    }
  }
  // Producer retries: the same event again a second later, a second Kinesis record (a new sequence number).
  for (let retry = 0; retry < 15; retry += 1) {
    const original = drafts[Math.floor(random() * drafts.length)];
    drafts.push({ ...original, arrivalMs: original.arrivalMs + 1_000 });
  }
  drafts.sort((a, b) => a.arrivalMs - b.arrivalMs);
  const counters = [0n, 0n];
  return drafts.map(({ event, shard, arrivalMs }): StreamRecord => {
    counters[shard] += 1n;
    return {
      event,
      shardId: SHARDS[shard],
      sequenceNumber: sequenceNumber(shard, counters[shard]),
      subSequenceNumber: 0,
      arrivalMs,
    };
  });
}

function compareSequence(a: StreamRecord, b: StreamRecord): number {
  return BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1;
}

let dynamoEmulator: RunningEmulator;
let s3Emulator: RunningEmulator;
let dynamodb: DynamoDBClient;
let s3: S3Client;
const resources = {
  realtime: 'realtime-baseline',
  dedup: 'dedup-baseline',
  batch: 'batch-baseline',
  manifest: 'manifest-baseline',
  directory: 'directory-baseline',
  bucket: 'master-baseline',
};

beforeAll(async () => {
  [dynamoEmulator, s3Emulator] = await Promise.all([startDynamoDb(), startS3()]);
  dynamodb = new DynamoDBClient({ ...emulatorClientConfig(dynamoEmulator.endpoint), maxAttempts: 1 });
  s3 = new S3Client(emulatorClientConfig(s3Emulator.endpoint));
  const { bucket, ...tables } = resources;
  for (const table of Object.values(tables)) await ensureTable(dynamodb, table);
  await ensureBucket(s3, bucket);
});
afterAll(async () => {
  dynamodb.destroy();
  s3.destroy();
  await Promise.all([dynamoEmulator.stop(), s3Emulator.stop()]);
});

const speed = () =>
  createSpeedHandler({
    config,
    dynamodb,
    realtimeTable: resources.realtime,
    dedupTable: resources.dedup,
    keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.directory }),
    logger: new RecordingLogger(),
    metrics: new RecordingMetrics(),
    retry: UNHURRIED_RETRIES,
  });

/**
 * The speed layer over the records that arrived in a stage: per shard in sequence order, batches of 100, each
 * followed by a redelivery: one time in four the whole batch again (the function failed after writing), otherwise
 * its last 10 records with the next 10 (a shard resumed from an older checkpoint). Returns every delivery, as
 * Firehose archives them.
 */
async function runSpeedLayer(arrived: readonly StreamRecord[], random: () => number): Promise<StreamRecord[]> {
  const handler = speed();
  const deliveries: StreamRecord[] = [];
  const deliver = async (shardId: string, records: readonly StreamRecord[]) => {
    if (records.length === 0) return;
    deliveries.push(...records);
    const batch = streamRecordsEvent(config.schema, records, { streamArn: STREAM_ARN, shardId });
    expect(await handler(batch)).toEqual({ batchItemFailures: [] });
  };
  for (const shardId of SHARDS) {
    const shard = arrived.filter((record) => record.shardId === shardId).sort(compareSequence);
    for (let start = 0; start < shard.length; start += 100) {
      const batch = shard.slice(start, start + 100);
      await deliver(shardId, batch);
      if (random() < 0.25) await deliver(shardId, batch);
      else await deliver(shardId, shard.slice(start + 90, start + 110));
    }
  }
  return deliveries;
}

/** The master dataset as Firehose writes it: every delivery, by arrival hour, one object per stage and hour. */
async function archive(stage: number, deliveries: readonly StreamRecord[]): Promise<void> {
  const byHour = new Map<string, string[]>();
  for (const record of deliveries) {
    const { dt, hour } = partitionKeysOf(record.arrivalMs);
    const key = `events/dt=${dt}/hour=${hour}/stage-${stage}.gz`;
    byHour.set(key, [...(byHour.get(key) ?? []), JSON.stringify(toArchivedEvent(record))]);
  }
  for (const [key, lines] of byHour) {
    await s3.send(
      new PutObjectCommand({ Bucket: resources.bucket, Key: key, Body: gzipSync(`${lines.join('\n')}\n`) }),
    );
  }
}

/** A batch run as the schedule would start it once `cutoff` is safely archived; returns the windows it flipped. */
async function batchRun(pipeline: PipelineConfig, cutoff: number) {
  const summary = await runBatchJob({
    config: pipeline,
    engine: new DuckDbEngine({ s3, bucket: resources.bucket, schema: pipeline.schema }),
    store: new BatchViewStore({
      client: dynamodb,
      batchTable: resources.batch,
      manifestTable: resources.manifest,
      retry: UNHURRIED_RETRIES,
    }),
    keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.directory }),
    logger: new RecordingLogger(),
    metrics: new RecordingMetrics(),
    now: () => cutoff + pipeline.bufferIntervalMs + pipeline.safetyMarginMs,
  });
  expect(summary.views.map((view) => [view.outcome, view.cutoff])).toEqual(
    pipeline.views.map(() => ['flipped', cutoff]),
  );
  return summary.views[0]?.windows.length ?? 0;
}

/** A slot as brute force finds it, written without the core: the calendar's UTC weekday and hour. */
function calendarSlot(bucket: number, view: BaselineView): number {
  const date = new Date(bucket);
  if (view.baseline.seasonality === 'none') return 0;
  if (view.baseline.seasonality === 'hourOfDay') return date.getUTCHours();
  return ((date.getUTCDay() + 6) % 7) * 24 + date.getUTCHours();
}

/** Brute force: the values per slot of the distinct records of a key whose event time is in [from, to). */
function valuesBySlot(
  view: BaselineView,
  records: readonly StreamRecord[],
  key: { readonly site: string; readonly metric: string },
  window: { from: number; to: number },
): Map<number, number[]> {
  const slots = new Map<number, number[]>();
  for (const record of countedRecords(view, records)) {
    const { site, metric, ts, value } = record.event as { site: string; metric: string; ts: number; value: number };
    if (site !== key.site || metric !== key.metric || ts < window.from || ts >= window.to) continue;
    const slot = calendarSlot(ts - (ts % HOUR_MS), view);
    slots.set(slot, [...(slots.get(slot) ?? []), value]);
  }
  return slots;
}

const closeTo = (actual: number | null, expected: number | null) =>
  actual === expected ||
  (actual !== null && expected !== null && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)));

/** The sample standard deviation by two passes (not from sums of squares), or null below two values. */
function sampleStddev(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const mean = values.reduce((total, value) => total + value, 0) / values.length;
  return Math.sqrt(values.reduce((total, value) => total + (value - mean) ** 2, 0) / (values.length - 1));
}

/**
 * Holds the served baseline of every key (and a key with no records) of every view, at each of `times`, to brute
 * force over the distinct records that have arrived: per slot the events exactly and the sum and sum of squares
 * within a relative 1e-9; per slot of the window, slotBaseline's status, mean and standard deviation.
 */
async function checkBaselines(arrived: readonly StreamRecord[], times: readonly number[]) {
  const reader = new BaselineReader({
    reader: new ViewReader({
      client: dynamodb,
      realtimeTable: resources.realtime,
      batchTable: resources.batch,
      manifestTable: resources.manifest,
      manifestCacheMs: 0,
    }),
    architecture: 'lambda',
  });
  const seen = { slots: 0, ready: 0, cold: 0 };
  for (const view of views) {
    for (const key of [...KEYS, { site: 'site-a', metric: 'humidity' } as const]) {
      for (const at of times) {
        const { window, slots } = await reader.windowReadings(view, encodeDimensionKey([key.site, key.metric]), at);
        const reference = at - (((at % HOUR_MS) + HOUR_MS) % HOUR_MS);
        expect({ from: window.from, to: window.to }).toEqual({
          from: reference - view.baseline.trainingWindowDays * DAY_MS,
          to: reference,
        });
        const expected = valuesBySlot(view, arrived, key, window);
        const where = { view: view.name, key, at: new Date(at).toISOString() };
        expect({ ...where, slots: [...slots.keys()].sort((a, b) => a - b) }).toEqual({
          ...where,
          slots: [...expected.keys()].sort((a, b) => a - b),
        });
        for (const [slot, values] of expected) {
          const served = slots.get(slot) as SlotReadings;
          const sum = values.reduce((total, value) => total + value, 0);
          const sumSquares = values.reduce((total, value) => total + value * value, 0);
          expect({ ...where, slot, events: served.events }).toEqual({ ...where, slot, events: values.length });
          expect({
            ...where,
            slot,
            sum: closeTo(served.sum, sum),
            sumSquares: closeTo(served.sumSquares, sumSquares),
          }).toEqual({ ...where, slot, sum: true, sumSquares: true });
          const baseline = slotBaseline(view.baseline, window, slot, served);
          const mean = sum / values.length;
          const stddev = sampleStddev(values);
          const ready = values.length >= view.baseline.minEvents && stddev !== null && stddev > 0;
          expect({ ...where, slot, status: baseline.status, events: baseline.events }).toEqual({
            ...where,
            slot,
            status: ready ? 'ready' : 'cold',
            events: values.length,
          });
          expect({ ...where, slot, mean: closeTo(baseline.mean, mean) }).toEqual({ ...where, slot, mean: true });
          // The spread from sums of squares, within 1e-7 of the two-pass one (cancellation costs a few digits).
          expect({
            ...where,
            slot,
            stddev: stddev === null ? baseline.stddev : Math.abs((baseline.stddev ?? NaN) - stddev) <= 1e-7 * stddev,
          }).toEqual({ ...where, slot, stddev: stddev === null ? null : true });
          seen.slots += 1;
          if (ready) seen.ready += 1;
          else seen.cold += 1;
        }
      }
    }
  }
  return seen;
}

describe('served baselines', () => {
  it('equal brute force over the distinct records of the training window, at any batch cutoff', async () => {
    const random = seededRandom(1717);
    const records = generateStream(1717);
    const lastArrival = Math.max(...records.map((record) => record.arrivalMs));
    // Each stage: the records that arrived up to `until` reach the speed layer and the archive; then a batch run
    // to `cutoff` (none in the first stage). The last cutoff is past every arrival: the batch views hold it all.
    const stages = [
      { until: BASE_TIME_MS + 3 * DAY_MS, cutoff: null },
      { until: BASE_TIME_MS + 6 * DAY_MS, cutoff: BASE_TIME_MS + 5 * DAY_MS },
      { until: BASE_TIME_MS + 8 * DAY_MS + 12 * HOUR_MS, cutoff: BASE_TIME_MS + 8 * DAY_MS },
      {
        until: lastArrival + 1,
        cutoff: Math.ceil((lastArrival + 1) / config.epochLengthMs) * config.epochLengthMs,
      },
    ];
    const totals = { slots: 0, ready: 0, cold: 0, windows: 0 };
    let from = -Infinity;
    for (const [stage, { until, cutoff }] of stages.entries()) {
      const arrived = records.filter((record) => record.arrivalMs < until);
      const deliveries = await runSpeedLayer(
        arrived.filter((record) => record.arrivalMs >= from),
        random,
      );
      await archive(stage, deliveries);
      from = until;
      if (cutoff !== null) totals.windows += await batchRun(config, cutoff);
      // Readings now, at the edge of a bucket, in the middle of the data, at its start (a window before any
      // record: all cold) and after it (the last days only).
      const times = [
        until - 1,
        BASE_TIME_MS + Math.floor(random() * EVENT_DAYS * DAY_MS),
        BASE_TIME_MS + 4 * DAY_MS,
        BASE_TIME_MS + 2 * HOUR_MS,
        BASE_TIME_MS + (EVENT_DAYS + 2) * DAY_MS + 30 * 60_000,
      ];
      const seen = await checkBaselines(arrived, times);
      totals.slots += seen.slots;
      totals.ready += seen.ready;
      totals.cold += seen.cold;
    }
    // The history exercised what it is for: several windows flipped after the first run, and ready and cold slots.
    expect(totals.windows).toBeGreaterThan(3);
    expect(totals.ready).toBeGreaterThan(100);
    expect(totals.cold).toBeGreaterThan(100);
    // A bound for a hang, not for speed: the run takes under a minute alone, and several on a loaded machine.
  }, 900_000);
});
