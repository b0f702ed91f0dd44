import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  arrivalPartitionsSql,
  BATCH_RESULT_COLUMNS,
  batchRowToAggregate,
  batchViewSql,
  skippedRowsSql,
  skipReasonSql,
  SKIPPED_RESULT_COLUMNS,
  SKIP_REASONS,
  WHITE_SPACE_CODE_POINTS,
  type BatchSqlInputs,
  type SqlCell,
  type ViewSqlInputs,
} from '../../functions/core/batch-sql';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { DEFAULT_EVENT_TIME_SKEW_MS, MAX_EVENT_TIME_MS } from '../../functions/core/event-limits';
import { fromArchivedEvent, toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';
import { masterDatasetViewSql } from '../../functions/adapters/duckdb/master-dataset-view';
import type { BatchAggregate } from '../../functions/core/serving-rule';
import { eventIdCopiesArbitrary, withEventIdCopies } from '../batch/event-id-copies';
import { defineEventSchema } from '../../functions/core/event-schema-definition';
import { expectedBatchView, presented, type PresentedView } from '../batch/expected-batch-view';
import { asExpected, bruteForce, presentedBuckets } from '../support/brute-force';
import { schemaStreamArbitrary } from '../support/schema-arbitraries';
import { BASE_TIME_MS, cutoffArbitrary, streamArbitrary } from '../support/stream-arbitraries';

const EPOCH_MS = 15 * 60_000;
const HOUR_MS = 3_600_000;
const SKEW_MS = DEFAULT_EVENT_TIME_SKEW_MS;
const HORIZON_MS = 60 * 60_000;
const inputs = (
  arrivalToMs: number,
  dialect: BatchSqlInputs['dialect'] = 'duckdb',
  more: Partial<ViewSqlInputs> = {},
): ViewSqlInputs => ({
  source: 'master',
  arrivalFromMs: 0,
  arrivalToMs,
  dialect,
  eventTimeSkewMs: SKEW_MS,
  dedupHorizonMs: HORIZON_MS,
  ...more,
});
const views = defineViews([
  ...DEFAULT_VIEW_DECLARATIONS,
  {
    name: 'quoted_filter',
    dimensions: ['site', 'deviceId'],
    granularity: 'hour',
    filter: [
      { field: 'metric', op: 'in', value: ['temperature', "it's"] },
      { field: 'value', op: 'lt', value: 1000.5 },
    ],
  },
  { name: 'device_once_per_event', dimensions: ['deviceId'], granularity: 'minute', dedupeByEventId: true },
  { name: 'site_once_per_event', dimensions: ['site'], granularity: 'day', dedupeByEventId: true },
  { name: 'count_only', dimensions: ['metric'], granularity: 'hour', measures: ['count'] },
]);
const byName = (name: string) => views.find((view) => view.name === name) as ViewDefinition;

let instance: DuckDBInstance;
let connection: DuckDBConnection;
let directory: string;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
  directory = mkdtempSync(join(tmpdir(), 'batch-sql-'));
});

afterAll(() => {
  connection.closeSync();
  instance.closeSync();
  rmSync(directory, { recursive: true, force: true });
});

let fileCounter = 0;
/** Archives deliveries as Firehose would: NDJSON, some objects gzip, split across files. */
function archive(deliveries: readonly StreamRecord[]): string[] {
  const lines = deliveries.map((record) => JSON.stringify(toArchivedEvent(record)) + '\n');
  const half = Math.ceil(lines.length / 2);
  const files: string[] = [];
  for (const [index, part] of [lines.slice(0, half), lines.slice(half)].entries()) {
    if (part.length === 0) continue;
    fileCounter += 1;
    const gzip = index === 0;
    const file = join(directory, `part-${fileCounter}.json${gzip ? '.gz' : ''}`);
    writeFileSync(file, gzip ? gzipSync(part.join('')) : part.join(''));
    files.push(file);
  }
  return files;
}

async function runSql(sql: string): Promise<Record<string, SqlCell>[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjects() as Record<string, SqlCell>[];
}

async function runBatchSql(view: ViewDefinition, sqlInputs: ViewSqlInputs) {
  return (await runSql(batchViewSql(view, sqlInputs))).map((row) => batchRowToAggregate(view, row));
}

/** Brute force (test/batch/expected-batch-view.ts), with the buckets before `firstBucketMs` left out. */
function expected(
  view: ViewDefinition,
  deliveries: readonly StreamRecord[],
  { arrivalFromMs, arrivalToMs, dedupHorizonMs, firstBucketMs = 0 }: ViewSqlInputs,
): PresentedView {
  const buckets = expectedBatchView(view, deliveries, arrivalToMs, { fromMs: arrivalFromMs, dedupHorizonMs });
  for (const key of buckets.keys()) {
    if (Number(key.slice(key.lastIndexOf('@') + 1)) < firstBucketMs) buckets.delete(key);
  }
  return buckets;
}

/** An arrival window around the generated arrivals: [0, C) as a view's first window is, or [C1, C2). */
const windowArbitrary = fc
  .tuple(cutoffArbitrary(EPOCH_MS), cutoffArbitrary(EPOCH_MS), fc.boolean())
  .filter(([a, b]) => a !== b)
  .map(([a, b, fromStart]) => ({
    arrivalFromMs: fromStart ? 0 : Math.min(a, b),
    arrivalToMs: Math.max(a, b),
  }));
/** A de-dup horizon of a minute to three hours (the setting is in whole minutes). */
const horizonArbitrary = fc.integer({ min: 1, max: 180 }).map((minutes) => minutes * 60_000);
/** No retention (0), or a first kept bucket on an hour inside the generated event times. */
const firstBucketArbitrary = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 48 }).map((hours) => BASE_TIME_MS + hours * HOUR_MS),
);

describe('generated batch SQL', () => {
  // Law: a window's SQL returns, per key and bucket, exactly the distinct valid records that arrived in the window,
  // eventId copies judged against every earlier copy (the window's or one up to H before it), without the buckets
  // before the first kept one. 100 runs, each executing 7 views' SQL in DuckDB over up to 60 records plus duplicate
  // deliveries, producer retries and eventId copies whose lag sits on, inside and past a random horizon (700
  // queries, 15 to 35 s on 2 shared cores): DuckDB is the slow part, and the cases that matter (duplicates across
  // both gzip and plain files, late events and copies straddling both window bounds, chains of copies, retention
  // cutting a bucket range) occur in most runs. Together with the partition law below, it makes consecutive windows
  // add up to the whole history.
  it('executed by DuckDB over NDJSON with duplicate deliveries, returns exactly the fold of the distinct records that arrived in the window', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .tuple(streamArbitrary(), horizonArbitrary)
          .chain(([stream, horizon]) =>
            fc.tuple(fc.constant(stream), fc.constant(horizon), eventIdCopiesArbitrary(horizon)),
          ),
        windowArbitrary,
        firstBucketArbitrary,
        async ([stream, dedupHorizonMs, copies], window, firstBucketMs) => {
          const { deliveries } = withEventIdCopies(stream, copies);
          await connection.run(masterDatasetViewSql('master', archive(deliveries)));
          const sqlInputs = { ...inputs(window.arrivalToMs), ...window, dedupHorizonMs, firstBucketMs };
          for (const view of views) {
            const rows = await runBatchSql(view, sqlInputs);
            expect({ view: view.name, rows: presented(view, rows) }).toEqual({
              view: view.name,
              rows: expected(view, deliveries, sqlInputs),
            });
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  // Law: with epochLengthMs, the rows split further by arrival epoch, each exactly the window's records that arrived
  // in that epoch (what a replay writes as realtime items). 40 runs of 3 views: the grouping is one column, and the
  // records and de-duplication are the law above's.
  it('grouped by arrival epoch, returns per epoch exactly the records of the window that arrived in it', async () => {
    await fc.assert(
      fc.asyncProperty(
        streamArbitrary(),
        eventIdCopiesArbitrary(HORIZON_MS),
        windowArbitrary,
        async (stream, copies, window) => {
          const { deliveries } = withEventIdCopies(stream, copies);
          await connection.run(masterDatasetViewSql('master', archive(deliveries)));
          const sqlInputs = { ...inputs(window.arrivalToMs), ...window, epochLengthMs: EPOCH_MS };
          for (const view of [views[0], byName('device_once_per_event'), byName('count_only')]) {
            const rows = await runSql(batchViewSql(view, sqlInputs));
            const byEpoch = new Map<number, BatchAggregate[]>();
            for (const row of rows) {
              const epoch = Number(row[BATCH_RESULT_COLUMNS.epoch]);
              expect(epoch % EPOCH_MS).toBe(0);
              byEpoch.set(epoch, [...(byEpoch.get(epoch) ?? []), batchRowToAggregate(view, row)]);
            }
            const epochs = new Set(
              deliveries
                .filter((record) => record.arrivalMs >= window.arrivalFromMs && record.arrivalMs < window.arrivalToMs)
                .map((record) => record.arrivalMs - (record.arrivalMs % EPOCH_MS)),
            );
            for (const epoch of byEpoch.keys()) expect(epochs.has(epoch)).toBe(true);
            for (const epoch of epochs) {
              const inEpoch = {
                ...sqlInputs,
                arrivalFromMs: Math.max(epoch, window.arrivalFromMs),
                arrivalToMs: Math.min(epoch + EPOCH_MS, window.arrivalToMs),
              };
              const want = expected(view, deliveries, inEpoch);
              expect({ view: view.name, epoch, rows: presented(view, byEpoch.get(epoch) ?? []) }).toEqual({
                view: view.name,
                epoch,
                rows: want,
              });
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  // Law: for a declared schema with two numeric fields and named measures, a window's SQL stores in each attribute
  // the sum, min or max of the field it names, exactly as brute force over the distinct records does. 25 runs of
  // two views (one de-duplicating by the declared id field, with a horizon longer than any copy's lag) over up to
  // 40 records: the SQL differs from the IoT schema's only in its column names, which one run already exercises.
  it('for a declared schema with two numeric fields and named measures, returns brute force over the distinct records', async () => {
    const declared = {
      id: 'requestId',
      time: 'at',
      dimensions: ['path', 'status', 'country'],
      numbers: ['latencyMs', 'bytes'],
    };
    const schema = defineEventSchema(declared);
    const webViews = defineViews(
      [
        {
          name: 'path_status',
          dimensions: ['path', 'status'],
          granularity: 'minute',
          measures: {
            requests: 'count',
            slowest: { max: 'latencyMs' },
            fastest: { min: 'latencyMs' },
            meanLatency: { avg: 'latencyMs' },
            bytes: { sum: 'bytes' },
            largest: { max: 'bytes' },
          },
          filter: [{ field: 'bytes', op: 'gte', value: -1_000_000 }],
        },
        { name: 'country_once', dimensions: ['country'], granularity: 'hour', dedupeByEventId: true },
      ],
      schema,
    );
    await fc.assert(
      fc.asyncProperty(schemaStreamArbitrary(declared, { minLength: 0, maxLength: 40 }), async ({ deliveries }) => {
        await connection.run(masterDatasetViewSql('master', archive(deliveries), schema));
        const arrivalToMs = Math.max(0, ...deliveries.map((record) => record.arrivalMs)) + 1;
        const sqlInputs = inputs(arrivalToMs, 'duckdb', { dedupHorizonMs: 72 * HOUR_MS });
        for (const view of webViews) {
          const rows = await runBatchSql(view, sqlInputs);
          expect({ view: view.name, rows: asExpected(rows) }).toEqual({
            view: view.name,
            rows: bruteForce(view, deliveries),
          });
          expect(presented(view, rows)).toEqual(presentedBuckets(view, bruteForce(view, deliveries)));
        }
      }),
      { numRuns: 25 },
    );
  });

  it('judges eventId copies by the horizon: on it a duplicate, past it counted, across a window bound, and in chains', async () => {
    const view = byName('device_once_per_event');
    const start = Date.UTC(2026, 10, 24, 10);
    let sequence = 0;
    const copy = (eventId: string, arrivalMs: number, shard = 0): StreamRecord => {
      sequence += 1;
      return {
        event: { eventId, deviceId: eventId, site: 's', metric: 'temperature', value: 1, ts: start - HOUR_MS },
        shardId: `shardId-00000000000${shard}`,
        sequenceNumber: String(1_000 + sequence),
        subSequenceNumber: 0,
        arrivalMs,
      };
    };
    const H = HORIZON_MS;
    const deliveries = [
      // On the horizon: a duplicate; one past it: counted.
      copy('on', start),
      copy('on', start + H),
      copy('past', start),
      copy('past', start + H + 1),
      // A chain: each copy within H of the one before it, though the third is 1.6 H after the first.
      copy('chain', start),
      copy('chain', start + 0.8 * H),
      copy('chain', start + 1.6 * H),
      // Two copies at the same arrival: the one on the lower shard is the earlier.
      copy('tie', start + H, 1),
      copy('tie', start + H, 0),
    ];
    const delivered = [...deliveries, deliveries[1], deliveries[4]];
    await connection.run(masterDatasetViewSql('master', archive(delivered)));
    const count = async (fromMs: number, toMs: number) => {
      const rows = await runBatchSql(view, inputs(toMs, 'duckdb', { arrivalFromMs: fromMs }));
      return Object.fromEntries(rows.map((row) => [row.dimensionKey, row.measures.count]));
    };
    const all = { on: 1, past: 2, chain: 1, tie: 1 };
    expect(await count(0, start + 3 * H)).toEqual(all);
    // Windows cut anywhere: each copy is judged against the copies before the window too.
    for (const cut of [start + 1, start + 0.8 * H, start + H, start + H + 1, start + 1.6 * H, start + 1.6 * H + 1]) {
      const [before, after] = [await count(0, cut), await count(cut, start + 3 * H)];
      const sum = Object.fromEntries(Object.keys(all).map((key) => [key, (before[key] ?? 0) + (after[key] ?? 0)]));
      expect({ cut, sum }).toEqual({ cut, sum: all });
    }
    // The second copy of 'past' is counted in its own window, though its first copy is in an earlier one.
    expect(await count(start + H + 1, start + H + 2)).toEqual({ past: 1 });
    // A horizon of 0 counts every distinct record but those at the same arrival as an earlier one.
    const rows = await runBatchSql(view, inputs(start + 3 * H, 'duckdb', { dedupHorizonMs: 0 }));
    expect(Object.fromEntries(rows.map((row) => [row.dimensionKey, row.measures.count]))).toEqual({
      on: 2,
      past: 2,
      chain: 3,
      tie: 1,
    });
  });

  it('leaves out the buckets before the first kept one (retention)', async () => {
    const start = Date.UTC(2026, 10, 24, 10);
    const record = (ts: number, sequence: number): StreamRecord => ({
      event: { eventId: `e${sequence}`, deviceId: 'd', site: 's', metric: 'temperature', value: 1, ts },
      shardId: 'shardId-000000000000',
      sequenceNumber: String(sequence),
      subSequenceNumber: 0,
      arrivalMs: start,
    });
    await connection.run(
      masterDatasetViewSql(
        'master',
        archive([record(start - HOUR_MS - 1, 1), record(start - HOUR_MS, 2), record(start - 1, 3)]),
      ),
    );
    const buckets = async (firstBucketMs: number) =>
      (await runBatchSql(byName('count_only'), inputs(start + 1, 'duckdb', { firstBucketMs }))).map((row) => [
        row.bucket,
        row.measures.count,
      ]);
    expect(await buckets(0)).toEqual(
      expect.arrayContaining([
        [start - 2 * HOUR_MS, 1],
        [start - HOUR_MS, 2],
      ]),
    );
    expect(await buckets(start - HOUR_MS)).toEqual([[start - HOUR_MS, 2]]);
    expect(await buckets(start)).toEqual([]);
  });

  it('reads an empty master dataset as no rows', async () => {
    await connection.run(masterDatasetViewSql('master', []));
    expect(await runBatchSql(views[0], inputs(Date.UTC(2026, 10, 24)))).toEqual([]);
  });

  it('escapes quotes in filter literals', () => {
    const sql = batchViewSql(byName('quoted_filter'), inputs(1));
    expect(sql).toContain(`"metric" IN ('temperature', 'it''s')`);
  });

  it('refuses a window that is empty, negative or not whole milliseconds, and a negative horizon', () => {
    const view = views[0];
    expect(() => batchViewSql(view, inputs(5, 'duckdb', { arrivalFromMs: 5 }))).toThrow('arrivalToMs');
    expect(() => batchViewSql(view, inputs(5, 'duckdb', { arrivalFromMs: -1 }))).toThrow('arrivalFromMs');
    expect(() => batchViewSql(view, inputs(5.5))).toThrow('arrivalToMs');
    expect(() => skippedRowsSql(inputs(5, 'duckdb', { arrivalFromMs: 6 }))).toThrow('arrivalToMs');
    expect(() => batchViewSql(byName('device_once_per_event'), inputs(5, 'duckdb', { dedupHorizonMs: -1 }))).toThrow(
      'dedupHorizonMs',
    );
    expect(() => batchViewSql(view, inputs(5, 'duckdb', { epochLengthMs: 0 }))).toThrow('epochLengthMs');
  });

  it('prunes arrival partitions at both ends of the window, to the hours that can hold it, and the horizon before it for a de-duplicating view', () => {
    const from = Date.UTC(2026, 10, 23, 22, 15);
    const to = Date.UTC(2026, 10, 24, 0, 0);
    const sql = batchViewSql(views[0], inputs(to, 'duckdb', { arrivalFromMs: from }));
    expect(sql).toContain(`("arrival_ms" >= ${from} AND "arrival_ms" < ${to})`);
    expect(sql).toContain(
      `("dt" > '2026-11-23' OR ("dt" = '2026-11-23' AND "hour" >= '22')) AND ` +
        `("dt" < '2026-11-23' OR ("dt" = '2026-11-23' AND "hour" <= '23'))`,
    );
    // A de-duplicating view also reads the horizon before the window, for earlier copies; it counts only the window.
    const dedup = batchViewSql(byName('device_once_per_event'), inputs(to, 'duckdb', { arrivalFromMs: from }));
    expect(dedup).toContain(`("arrival_ms" >= ${from - HORIZON_MS} AND "arrival_ms" < ${to})`);
    expect(dedup).toContain(`("dt" > '2026-11-23' OR ("dt" = '2026-11-23' AND "hour" >= '21'))`);
    expect(dedup).toContain(`"arrival_ms" >= ${from}\n`);
    // The first window also reads rows without an arrival (counted as skipped, once).
    expect(skippedRowsSql(inputs(to))).toContain(
      `("arrival_ms" >= 0 AND "arrival_ms" < ${to} OR "arrival_ms" IS NULL)`,
    );
    expect(skippedRowsSql(inputs(to, 'duckdb', { arrivalFromMs: from }))).not.toContain('IS NULL)');
  });

  // Law: the partition predicate holds for the hour of every arrival in the window (it never loses a row), and for
  // no hour that ends at or before the window's start or starts at or after its end (it reads no other object). 100
  // runs of 40 arrivals each, evaluated by DuckDB on the dt and hour the master dataset view derives: windows from a
  // millisecond to days long, with bounds on and off hour and day boundaries.
  it('selects exactly the hours of arrival that overlap the window', async () => {
    const instant = fc.oneof(
      fc.integer({ min: 0, max: 72 }).map((hours) => BASE_TIME_MS + hours * HOUR_MS),
      fc.integer({ min: BASE_TIME_MS - HOUR_MS, max: BASE_TIME_MS + 72 * HOUR_MS }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(instant, instant).filter(([a, b]) => a !== b),
        fc.array(instant, { minLength: 40, maxLength: 40 }),
        async ([a, b], arrivals) => {
          const [from, to] = [Math.min(a, b), Math.max(a, b)];
          const probes = [...arrivals, from, to - 1, to, from - 1];
          const rows = await runSql(
            `SELECT "arrival_ms", ${arrivalPartitionsSql(from, to)} AS "read" FROM (` +
              `SELECT *, strftime(epoch_ms("arrival_ms"), '%Y-%m-%d') AS "dt", strftime(epoch_ms("arrival_ms"), '%H') AS "hour" ` +
              `FROM (VALUES ${probes.map((probe) => `(${probe}::BIGINT)`).join(', ')}) AS t("arrival_ms"))`,
          );
          for (const row of rows) {
            const arrival = Number(row.arrival_ms);
            const hour = arrival - (arrival % HOUR_MS);
            const overlaps = hour < to && hour + HOUR_MS > from;
            expect({ from, to, arrival, read: row.read }).toEqual({ from, to, arrival, read: overlaps });
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('counts skipped rows only in the window they arrived in', async () => {
    const start = Date.UTC(2026, 10, 24, 10);
    const line = (arrivalMs: number, sequence: number, value: number | null) =>
      JSON.stringify({
        eventId: `e${sequence}`,
        deviceId: 'd',
        site: 's',
        metric: 'temperature',
        value,
        ts: start - 1,
        arrival_ms: arrivalMs,
        shard_id: 'shardId-000000000000',
        sequence_number: String(sequence),
        subsequence_number: 0,
      });
    fileCounter += 1;
    const file = join(directory, `skipped-${fileCounter}.json`);
    writeFileSync(file, [line(start - 1, 1, null), line(start, 2, null), line(start + 1, 3, 1e200)].join('\n') + '\n');
    await connection.run(masterDatasetViewSql('master', [file]));
    const skipped = async (fromMs: number, toMs: number) =>
      Object.fromEntries(
        (await runSql(skippedRowsSql(inputs(toMs, 'duckdb', { arrivalFromMs: fromMs })))).map((row) => [
          row[SKIPPED_RESULT_COLUMNS.reason],
          Number(row[SKIPPED_RESULT_COLUMNS.rows]),
        ]),
      );
    expect(await skipped(0, start)).toEqual({ [SKIP_REASONS.required('value')]: 1 });
    expect(await skipped(start, start + 2)).toEqual({
      [SKIP_REASONS.required('value')]: 1,
      [SKIP_REASONS.valueRange('value')]: 1,
    });
  });
});

/** One archived line as the Firehose transform wrote it before the rules changed: any field may break them now. */
interface ArchivedLine {
  eventId: string;
  deviceId: string;
  site: string;
  metric: string;
  value: number | null;
  ts: number;
  arrival_ms: number;
  shard_id: string;
  sequence_number: string;
  subsequence_number: number;
}

const ARRIVAL_MS = Date.UTC(2026, 10, 24, 14, 30);
let lineCounter = 0;
function line(overrides: Partial<ArchivedLine> = {}): ArchivedLine {
  lineCounter += 1;
  return {
    eventId: `e-${lineCounter}`,
    deviceId: 'device-1',
    site: 'plant-a',
    metric: 'temperature',
    value: 21.5,
    ts: ARRIVAL_MS - 1_000,
    arrival_ms: ARRIVAL_MS,
    shard_id: 'shardId-000000000000',
    sequence_number: String(lineCounter).padStart(56, '0'),
    subsequence_number: 0,
    ...overrides,
  };
}

/** Each line's skip reason (null: it is counted), read through the DuckDB master-dataset view as a run reads it. */
async function skipReasons(lines: readonly ArchivedLine[]): Promise<(string | null)[]> {
  fileCounter += 1;
  const file = join(directory, `lines-${fileCounter}.json`);
  writeFileSync(file, lines.map((entry) => JSON.stringify(entry)).join('\n') + '\n');
  await connection.run(masterDatasetViewSql('master', [file]));
  const reader = await connection.runAndReadAll(
    `SELECT "sequence_number" AS id, ${skipReasonSql('duckdb', SKEW_MS)} AS reason FROM master`,
  );
  const byId = new Map(reader.getRowObjects().map((row) => [String(row.id), row.reason as string | null]));
  return lines.map((entry) =>
    byId.has(entry.sequence_number) ? (byId.get(entry.sequence_number) ?? null) : 'missing from the result',
  );
}

/** The next double above (direction 1) or below (-1) a positive double. */
function adjacentDouble(value: number, direction: 1 | -1): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  view.setBigUint64(0, view.getBigUint64(0) + BigInt(direction));
  return view.getFloat64(0);
}

describe('the batch SQL row rules (skipReasonSql)', () => {
  it('names, for Trino, the functions Trino documents, and differs from the DuckDB text only in those three', () => {
    const trino = skipReasonSql('trino', SKEW_MS);
    const duckdb = skipReasonSql('duckdb', SKEW_MS);
    expect(trino).toContain('length(to_utf8("deviceid"))');
    expect(trino).toContain(`regexp_replace("deviceid", '[\\x{10000}-\\x{10FFFF}]')`);
    expect(trino).toMatch(/regexp_like\("deviceid", '\^\[\\x\{9\}/);
    expect(trino).not.toMatch(/strlen|regexp_matches|'g'\)/);
    expect(duckdb).toContain('strlen("deviceid")');
    expect(duckdb).toContain(`regexp_replace("deviceid", '[\\x{10000}-\\x{10FFFF}]', '', 'g')`);
    expect(duckdb).toMatch(/regexp_matches\("deviceid", '\^\[\\x\{9\}/);
    expect(duckdb).not.toMatch(/to_utf8|regexp_like/);
    const common = (sql: string) =>
      sql
        .replace(/length\(to_utf8\(("\w+")\)\)|strlen\(("\w+")\)/g, 'UTF8_BYTES($1$2)')
        .replace(/regexp_replace\(("\w+"), ('[^']*(?:''[^']*)*')(, '', 'g')?\)/g, 'REMOVE($1, $2)')
        .replace(/regexp_like|regexp_matches/g, 'CONTAINS');
    expect(common(trino)).toBe(common(duckdb));
    // Every view's SQL and the skipped-rows query read the same checked rows.
    for (const dialect of ['trino', 'duckdb'] as const) {
      expect(batchViewSql(views[0], inputs(ARRIVAL_MS, dialect))).toContain(skipReasonSql(dialect, SKEW_MS));
      expect(skippedRowsSql(inputs(ARRIVAL_MS, dialect))).toContain(skipReasonSql(dialect, SKEW_MS));
    }
  });

  it("refuses at either end of an identifier exactly the white space JavaScript's \\s matches", () => {
    const matched = Array.from({ length: 0x10000 }, (_, codePoint) => codePoint).filter((codePoint) =>
      /\s/.test(String.fromCharCode(codePoint)),
    );
    expect(WHITE_SPACE_CODE_POINTS).toEqual(matched);
  });

  it('names the first rule each row breaks, at each boundary of each rule', async () => {
    const cjk = (count: number) => '日'.repeat(count);
    const emoji = (count: number) => '😀'.repeat(count);
    const cases: [Partial<ArchivedLine>, string | null][] = [
      [{}, null],
      [{ deviceId: 'a'.repeat(256) }, null],
      [{ deviceId: 'a'.repeat(257) }, SKIP_REASONS.tooLong('deviceId')],
      // An emoji is one code point but two UTF-16 units (and 12 bytes URI-encoded): 217 + 2 × 20 units is one too many.
      [{ site: emoji(42) }, null],
      [{ site: 'a'.repeat(216) + emoji(20) }, null],
      [{ site: 'a'.repeat(217) + emoji(20) }, SKIP_REASONS.tooLong('site')],
      // 56 CJK characters are 504 bytes URI-encoded, 57 are 513; 256 are 2,304 (the DynamoDB key limit's breaker).
      [{ metric: cjk(56) }, null],
      [{ metric: cjk(57) }, SKIP_REASONS.tooManyEncodedBytes('metric')],
      [{ deviceId: cjk(256) }, SKIP_REASONS.tooManyEncodedBytes('deviceId')],
      [{ deviceId: cjk(115), site: cjk(115) }, SKIP_REASONS.tooManyEncodedBytes('deviceId')],
      // Unreserved characters stay one byte: 512 of them fit the bytes rule, but not the length rule.
      [{ eventId: "-_.!~*'()".repeat(28) }, null],
      [{ eventId: '/'.repeat(170) }, null],
      [{ eventId: '/'.repeat(171) }, SKIP_REASONS.tooManyEncodedBytes('eventId')],
      [{ deviceId: '' }, SKIP_REASONS.empty('deviceId')],
      [{ deviceId: ' device-1' }, SKIP_REASONS.edgeWhiteSpace('deviceId')],
      [{ deviceId: 'device-1\u3000' }, SKIP_REASONS.edgeWhiteSpace('deviceId')],
      [{ deviceId: '\ufeffdevice-1' }, SKIP_REASONS.edgeWhiteSpace('deviceId')],
      [{ deviceId: 'device 1' }, null],
      [{ deviceId: '\u180edevice-1\u0085' }, null],
      [{ value: 0 }, null],
      [{ value: -0 }, null],
      [{ value: 1e100 }, null],
      [{ value: -1e-100 }, null],
      [{ value: adjacentDouble(1e100, 1) }, SKIP_REASONS.valueRange('value')],
      [{ value: -adjacentDouble(1e-100, -1) }, SKIP_REASONS.valueRange('value')],
      [{ value: 1e200 }, SKIP_REASONS.valueRange('value')],
      [{ value: 1e-200 }, SKIP_REASONS.valueRange('value')],
      [{ value: null }, SKIP_REASONS.required('value')],
      [{ ts: 0 }, null],
      [{ ts: -1 }, SKIP_REASONS.eventTimeRange('ts')],
      [{ ts: MAX_EVENT_TIME_MS + 1, arrival_ms: MAX_EVENT_TIME_MS }, SKIP_REASONS.eventTimeRange('ts')],
      [{ ts: ARRIVAL_MS + SKEW_MS }, null],
      [{ ts: ARRIVAL_MS + SKEW_MS + 1 }, SKIP_REASONS.aheadOfArrival('ts', SKEW_MS)],
      // The first broken rule, in column order, names the row.
      [{ eventId: ' e', value: 1e200 }, SKIP_REASONS.edgeWhiteSpace('eventId')],
    ];
    const lines = cases.map(([overrides]) => line(overrides));
    expect(await skipReasons(lines)).toEqual(cases.map(([, reason]) => reason));
    // And the core agrees with every verdict.
    expect(lines.map((entry) => fromArchivedEvent(entry, SKEW_MS).ok)).toEqual(
      cases.map(([, reason]) => reason === null),
    );
  });

  it('counts a row without its envelope, as Athena reads a line it cannot parse (all NULLs)', async () => {
    const [reason] = await skipReasons([{ ...line(), arrival_ms: null as unknown as number }]);
    expect(reason).toBe(SKIP_REASONS.envelope);
  });

  // Law: for any row whose strings are well-formed Unicode and whose ts is an integer (what the archive has ever
  // held; lone surrogates and nesting are the engine's line screen), the SQL counts it exactly when the core's
  // fromArchivedEvent accepts it, and names a field the core names. 150 runs of 20 lines, one DuckDB query each; the
  // runs of repeated characters sit at the length and byte boundaries for each character class.
  it('agrees with the core on random strings and numbers: a row is counted exactly when fromArchivedEvent accepts it', async () => {
    const characters = fc.oneof(
      fc.constantFrom(
        'a',
        '-',
        '~',
        ' ',
        '/',
        '%',
        'é',
        '日',
        '😀',
        '\u00a0',
        '\u2028',
        '\ufeff',
        '\u180e',
        '\u0085',
        '\t',
      ),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    );
    const runLength = fc.oneof(
      fc.nat(4),
      fc.integer({ min: 40, max: 60 }),
      fc.integer({ min: 120, max: 135 }),
      fc.integer({ min: 165, max: 175 }),
      fc.integer({ min: 250, max: 260 }),
    );
    const tricky = fc
      .array(fc.tuple(characters, runLength), { minLength: 1, maxLength: 3 })
      .map((runs) => runs.map(([character, count]) => character.repeat(count)).join(''));
    const identifier = fc.oneof({ weight: 3, arbitrary: fc.constant('ok') }, { weight: 2, arbitrary: tricky });
    const boundaries = [0, 1e100, 1e-100, adjacentDouble(1e100, 1), adjacentDouble(1e-100, -1)];
    const value = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(...boundaries, ...boundaries.map((magnitude) => -magnitude), 1e200, -1e-200, 5e-324),
    );
    const ts = fc.oneof(
      fc.integer({ min: 0, max: ARRIVAL_MS }),
      fc.constantFrom(-1, 0, ARRIVAL_MS + SKEW_MS, ARRIVAL_MS + SKEW_MS + 1, MAX_EVENT_TIME_MS, MAX_EVENT_TIME_MS + 1),
      fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
    );
    const archivedLine = fc
      .record({ eventId: identifier, deviceId: identifier, site: identifier, metric: identifier, value, ts })
      .map((fields) => line(fields));
    await fc.assert(
      fc.asyncProperty(fc.array(archivedLine, { minLength: 1, maxLength: 20 }), async (lines) => {
        const reasons = await skipReasons(lines);
        for (const [index, entry] of lines.entries()) {
          const core = fromArchivedEvent(JSON.parse(JSON.stringify(entry)), SKEW_MS);
          const reason = reasons[index];
          if (core.ok) {
            expect({ entry, reason }).toEqual({ entry, reason: null });
          } else {
            expect({ entry, reason }).toEqual({ entry, reason: expect.any(String) });
            const field = String(reason).slice(0, String(reason).indexOf(':'));
            expect({ entry, core: core.reason }).toEqual({ entry, core: expect.stringContaining(`${field}:`) });
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('the batch SQL of sketch measures (batchViewSql)', () => {
  const [sketches] = defineViews([
    {
      name: 'sketches',
      dimensions: ['site'],
      granularity: 'hour',
      measures: {
        count: 'count',
        devices: { distinct: 'deviceId', precision: 8 },
        values: { histogram: 'value', boundaries: [-0.25, 0, 21.5, 1000] },
        spread: { stddev: 'value' },
      },
    },
  ]);

  // Athena cannot run here, so its text is held to the functions Trino documents (batch-sql.ts cites each), and
  // shown to differ from the DuckDB text, which the DuckDB suites execute, in nothing but those functions.
  it("names, for Trino, the functions Trino documents for hashing, hexadecimal, integer division and joining, and none of DuckDB's own", () => {
    const trino = batchViewSql(sketches, inputs(ARRIVAL_MS, 'trino'));
    const duckdb = batchViewSql(sketches, inputs(ARRIVAL_MS, 'duckdb'));
    // 2^(32 − 8) = 16777216: the register index is the first word's top 8 bits.
    expect(trino).toContain('to_hex(md5(to_utf8(CAST("deviceid" AS VARCHAR))))');
    expect(trino).toContain('from_base(substr("hash_hex", 1, 8), 16)');
    expect(trino).toContain('from_base(substr("hash_hex", 9, 8), 16)');
    expect(trino).toContain('"hash_hi" / 16777216');
    expect(trino).toContain(
      `array_join(array_agg(CAST("slot" AS VARCHAR) || ':' || CAST("slot_value" AS VARCHAR)), ',')`,
    );
    expect(trino).not.toMatch(/\/\/|string_agg|'0x'/);
    expect(trino.split('to_hex(md5(to_utf8(').join('')).not.toContain('md5(');
    expect(duckdb).toContain('md5(CAST("deviceid" AS VARCHAR))');
    expect(duckdb).toContain(`CAST('0x' || substr("hash_hex", 1, 8) AS BIGINT)`);
    expect(duckdb).toContain('"hash_hi" // 16777216');
    expect(duckdb).toContain(`string_agg(CAST("slot" AS VARCHAR) || ':' || CAST("slot_value" AS VARCHAR), ',')`);
    expect(duckdb).not.toMatch(/to_utf8|to_hex|from_base|array_join|array_agg/);
    // Both compare with the boundaries as DOUBLE literals (a plain decimal is a DECIMAL in Trino).
    for (const boundary of ['-2.5E-1', '0E+0', '2.15E+1', '1E+3']) {
      expect(trino).toContain(`"slot_input" <= ${boundary} THEN`);
      expect(duckdb).toContain(`"slot_input" <= ${boundary} THEN`);
    }
    const common = (sql: string) =>
      sql
        .replace(
          /to_hex\(md5\(to_utf8\((CAST\("\w+" AS VARCHAR\))\)\)\)|md5\((CAST\("\w+" AS VARCHAR\))\)/g,
          'MD5_HEX($1$2)',
        )
        .replace(
          /from_base\((substr\("hash_hex", \d+, 8\)), 16\)|CAST\('0x' \|\| (substr\("hash_hex", \d+, 8\)) AS BIGINT\)/g,
          'HEX($1$2)',
        )
        .replace(/ \/\/? (\d+)/g, ' DIV $1')
        .replace(/array_join\(array_agg\(([^,]*)\), ','\)|string_agg\(([^,]*), ','\)/g, 'JOIN($1$2)')
        .replace(/length\(to_utf8\(("\w+")\)\)|strlen\(("\w+")\)/g, 'UTF8_BYTES($1$2)')
        .replace(/regexp_replace\(("\w+"), ('[^']*(?:''[^']*)*')(, '', 'g')?\)/g, 'REMOVE($1, $2)')
        .replace(/regexp_like|regexp_matches/g, 'CONTAINS');
    expect(common(trino)).toBe(common(duckdb));
  });
});
