import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { batchRowToAggregate, batchViewSql, type SqlCell } from '../../functions/core/batch-sql';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';
import { masterDatasetViewSql } from '../../functions/adapters/duckdb/master-dataset-view';
import { asExpected, bruteForce } from '../support/brute-force';
import { cutoffArbitrary, streamArbitrary } from '../support/stream-arbitraries';

const EPOCH_MS = 15 * 60_000;
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
  const reader = await connection.runAndReadAll(batchViewSql(view, { source: 'master', cutoffMs }));
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
    const sql = batchViewSql(views[3], { source: 'master', cutoffMs: 0 });
    expect(sql).toContain(`"metric" IN ('temperature', 'it''s')`);
  });

  it('prunes arrival partitions up to the hour of the last covered millisecond', () => {
    const sql = batchViewSql(views[0], { source: 'master', cutoffMs: Date.UTC(2026, 10, 24, 0, 0) });
    expect(sql).toContain(`"arrival_ms" < ${Date.UTC(2026, 10, 24)}`);
    expect(sql).toContain(`("dt" < '2026-11-23' OR ("dt" = '2026-11-23' AND "hour" <= '23'))`);
  });
});
