import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  batchRowToAggregate,
  batchViewSql,
  skippedRowsSql,
  skipReasonSql,
  SKIP_REASONS,
  WHITE_SPACE_CODE_POINTS,
  type BatchSqlInputs,
  type SqlCell,
} from '../../functions/core/batch-sql';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { DEFAULT_EVENT_TIME_SKEW_MS, MAX_EVENT_TIME_MS } from '../../functions/core/event-limits';
import { fromArchivedEvent, toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';
import { masterDatasetViewSql } from '../../functions/adapters/duckdb/master-dataset-view';
import { asExpected, bruteForce } from '../support/brute-force';
import { cutoffArbitrary, streamArbitrary } from '../support/stream-arbitraries';

const EPOCH_MS = 15 * 60_000;
const SKEW_MS = DEFAULT_EVENT_TIME_SKEW_MS;
const inputs = (cutoffMs: number, dialect: BatchSqlInputs['dialect'] = 'duckdb'): BatchSqlInputs => ({
  source: 'master',
  cutoffMs,
  dialect,
  eventTimeSkewMs: SKEW_MS,
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
  { name: 'count_only', dimensions: ['metric'], granularity: 'hour', measures: ['count'] },
]);

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

async function runBatchSql(view: ViewDefinition, cutoffMs: number) {
  const reader = await connection.runAndReadAll(batchViewSql(view, inputs(cutoffMs)));
  return reader.getRowObjects().map((row) => batchRowToAggregate(view, row as Record<string, SqlCell>));
}

describe('generated batch SQL', () => {
  // 150 runs, each executing 6 views' SQL in DuckDB over up to 60 records plus duplicate deliveries and producer
  // retries (about 900 queries): DuckDB is the slow part, and the cases that matter (duplicates across both gzip
  // and plain files, late events straddling the cutoff, the eventId ranking) occur in most runs.
  it('executed by DuckDB over NDJSON with duplicate deliveries, returns exactly the in-memory fold of distinct records below the cutoff', async () => {
    await fc.assert(
      fc.asyncProperty(streamArbitrary(), cutoffArbitrary(EPOCH_MS), async ({ deliveries }, cutoffMs) => {
        await connection.run(masterDatasetViewSql('master', archive(deliveries)));
        for (const view of views) {
          const rows = await runBatchSql(view, cutoffMs);
          const expected = bruteForce(view, deliveries, view.granularity, (record) => record.arrivalMs < cutoffMs);
          if (!view.measures.includes('min')) {
            for (const bucket of expected.values()) Object.assign(bucket, { sum: 0, min: Infinity, max: -Infinity });
          }
          expect(asExpected(rows)).toEqual(expected);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('reads an empty master dataset as no rows', async () => {
    await connection.run(masterDatasetViewSql('master', []));
    expect(await runBatchSql(views[0], Date.UTC(2026, 10, 24))).toEqual([]);
  });

  it('escapes quotes in filter literals', () => {
    const sql = batchViewSql(views[3], inputs(0));
    expect(sql).toContain(`"metric" IN ('temperature', 'it''s')`);
  });

  it('prunes arrival partitions up to the hour of the last covered millisecond', () => {
    const sql = batchViewSql(views[0], inputs(Date.UTC(2026, 10, 24, 0, 0)));
    expect(sql).toContain(`"arrival_ms" < ${Date.UTC(2026, 10, 24)}`);
    expect(sql).toContain(`("dt" < '2026-11-23' OR ("dt" = '2026-11-23' AND "hour" <= '23'))`);
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
