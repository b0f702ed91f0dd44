import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBTypeId, type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { SKIP_REASONS, sqlLiteral, type SqlCell } from '../../core/batch-sql';
import type {
  BatchEngine,
  BatchQuerySession,
  ExportDestination,
  ExportedResult,
  QueryResult,
  SessionScope,
} from '../../batch/batch-engine';
import { mapConcurrently } from '../concurrent-map';
import { downloadMasterDataset, type DownloadedObject } from '../master-dataset-download';
import { screenArchiveFile } from './archive-line-screen';
import { masterDatasetViewSql, unplacedRowsSql } from './master-dataset-view';
import type { EventSchema } from '../../core/event-schema';

export interface DuckDbEngineOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** @default 'events/' */
  readonly prefix?: string;
  /** Objects under this prefix (rejected records) are never read. @default 'errors/' */
  readonly errorPrefix?: string;
  /** Objects listed, downloaded or uploaded (exported files) at a time. @default 8 */
  readonly downloadConcurrency?: number;
  /** Keys per ListObjectsV2 page. @default 1000 */
  readonly listPageSize?: number;
  /** Sessions over more arrival hours list the whole prefix once (master-dataset-download.ts). @default 48 */
  readonly maxHourListings?: number;
  /**
   * About how large each exported file grows, in gzip bytes, before the next one starts: DuckDB's FILE_SIZE_BYTES, which
   * it checks between the chunks it writes, so a file may pass it by one chunk (a few thousand rows). At least 1 KiB.
   * @default 4 MiB
   */
  readonly exportFileBytes?: number;
  /** Parent of the run's working directory. @default os.tmpdir() (Lambda's /tmp) */
  readonly workDirectory?: string;
  /** The declared event schema: the master dataset's columns. @default DEFAULT_EVENT_SCHEMA */
  readonly schema?: EventSchema;
}

const SOURCE = 'master_dataset';
const EXPORT_FILE = /^data_(\d+)\.json\.gz$/;
/**
 * DuckDB 1.5 starts a new file whenever the current one has reached FILE_SIZE_BYTES, and a new gzip file starts with
 * its 10-byte header: below that, it opens empty files without end (tried: 20,000 rows at 9 bytes made thousands of
 * files a second). A kibibyte keeps well clear of it.
 */
const MIN_EXPORT_FILE_BYTES = 1024;

/**
 * DuckDB over the master dataset, for local runs and targets without Athena. A session copies the objects of the
 * arrival hours its scope can read to a temporary directory (master-dataset-download.ts: listing and download are
 * proportional to the scope, not to history), screens out the lines DuckDB cannot read or whose shape breaks the event
 * rules (archive-line-screen.ts), defines the master dataset over the files with the columns Glue declares, and runs
 * the same SQL text Athena runs. Closing it removes the directory.
 *
 * Why a screen in JavaScript rather than only read_json's `ignore_errors`: a lone surrogate or too deep a nesting in
 * an extra field is refused by every other layer, and no SQL column shows it; the screen applies the core's own
 * check to every line, and names the reason. It parses each line once more, which is the replay's cost too.
 *
 * The lines left out before the SQL (preparation.skippedLines) have no arrival time to place them in a window by, and
 * a window that starts or ends inside an hour shares that hour's objects with its neighbour. So a session screens
 * every file it reads but counts only the lines of the objects whose arrival hour starts in its scope (and, for a
 * scope that starts at 0, of objects of unknown layout): consecutive scopes then count each line once.
 */
export class DuckDbEngine implements BatchEngine {
  constructor(private readonly options: DuckDbEngineOptions) {}

  async open(scope: SessionScope): Promise<BatchQuerySession> {
    const { arrivalFromMs: fromMs, arrivalToMs: toMs } = scope;
    if (!Number.isSafeInteger(fromMs) || fromMs < 0) throw new Error('arrivalFromMs: expected a non-negative integer');
    if (!Number.isSafeInteger(toMs) || toMs <= fromMs)
      throw new Error('arrivalToMs: expected an integer after arrivalFromMs');
    const directory = await mkdtemp(join(this.options.workDirectory ?? tmpdir(), 'duckdb-batch-'));
    try {
      const started = performance.now();
      const objects = join(directory, 'objects');
      await mkdir(objects);
      const dataset = await downloadMasterDataset({
        s3: this.options.s3,
        bucket: this.options.bucket,
        prefix: this.options.prefix ?? 'events/',
        errorPrefix: this.options.errorPrefix ?? 'errors/',
        directory: objects,
        arrivals: { fromMs, toMs },
        maxHourListings: this.options.maxHourListings,
        concurrency: this.options.downloadConcurrency,
        pageSize: this.options.listPageSize,
      });
      const countedFrom = scope.countedFromMs ?? fromMs;
      const counts = ({ hourMs }: DownloadedObject) =>
        hourMs === undefined ? countedFrom === 0 : hourMs >= countedFrom && hourMs < toMs;
      const skippedLines = new Map<string, number>();
      const files: string[] = [];
      const countedFiles: string[] = [];
      for (const object of dataset.downloads) {
        const screened = await screenArchiveFile(object.path);
        files.push(screened.path);
        if (!counts(object)) continue;
        countedFiles.push(screened.path);
        for (const [reason, lines] of screened.refused) {
          skippedLines.set(reason, (skippedLines.get(reason) ?? 0) + lines);
        }
      }
      // Spill files and DuckDB's home in the run's directory: in Lambda only /tmp is writable.
      const instance = await DuckDBInstance.create(':memory:', {
        temp_directory: join(directory, 'spill'),
        home_directory: directory,
      });
      const connection = await instance.connect();
      let closed = false;
      const closeDuckDb = () => {
        if (closed) return;
        closed = true;
        connection.closeSync();
        instance.closeSync();
      };
      try {
        await connection.run(masterDatasetViewSql(SOURCE, files, this.options.schema));
        if (countedFiles.length > 0) {
          // Reported under the batch SQL's reason for a row without its envelope, which is what Athena counts them as.
          const [unplaced] = (
            await connection.runAndReadAll(unplacedRowsSql(countedFiles, this.options.schema))
          ).getRowObjects();
          const rows = Number(unplaced?.rows ?? 0);
          if (rows > 0) skippedLines.set(SKIP_REASONS.envelope, (skippedLines.get(SKIP_REASONS.envelope) ?? 0) + rows);
        }
      } catch (error) {
        closeDuckDb();
        throw error;
      }
      let exports = 0;
      return {
        source: `"${SOURCE}"`,
        dialect: 'duckdb',
        preparation: {
          objects: dataset.objects,
          bytes: dataset.bytes,
          seconds: (performance.now() - started) / 1000,
          skippedLines: Object.fromEntries(skippedLines),
        },
        run: async (sql: string): Promise<QueryResult> => {
          const queryStarted = performance.now();
          const reader = await connection.runAndReadAll(sql);
          const rows = reader.getRowObjects() as Record<string, SqlCell>[];
          // The view has no partitions to prune by: every query reads every file the session gathered.
          return { rows, bytesScanned: dataset.bytes, seconds: (performance.now() - queryStarted) / 1000 };
        },
        exportTo: async (sql: string, destination: ExportDestination): Promise<ExportedResult> => {
          exports += 1;
          const output = join(directory, `export-${exports}`);
          try {
            return await this.export(connection, sql, destination, output, dataset.bytes);
          } finally {
            await rm(output, { recursive: true, force: true });
          }
        },
        close: async () => {
          try {
            closeDuckDb();
          } finally {
            await rm(directory, { recursive: true, force: true });
          }
        },
      };
    } catch (error) {
      await rm(directory, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * COPY writes the result as gzip NDJSON files of about exportFileBytes each (DuckDB names them data_N.json.gz), then
   * they are uploaded as part-NNNNN.json.gz in N's order. The destination must be empty, as Athena's UNLOAD requires:
   * a retry that found a part of an earlier attempt's files would otherwise mix two results.
   */
  private async export(
    connection: DuckDBConnection,
    sql: string,
    { bucket, prefix }: ExportDestination,
    output: string,
    bytesScanned: number,
  ): Promise<ExportedResult> {
    const started = performance.now();
    const fileBytes = this.options.exportFileBytes ?? 4 * 1024 * 1024;
    if (!Number.isSafeInteger(fileBytes) || fileBytes < MIN_EXPORT_FILE_BYTES) {
      throw new Error(`exportFileBytes: expected an integer of at least ${MIN_EXPORT_FILE_BYTES}`);
    }
    if (bucket === '') throw new Error('export destination: expected a bucket');
    if (!prefix.endsWith('/'))
      throw new Error(`export destination: expected a prefix that ends with '/', got '${prefix}'`);
    const { s3 } = this.options;
    const existing = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }));
    if ((existing.Contents?.length ?? 0) > 0) {
      throw new Error(`export destination s3://${bucket}/${prefix} is not empty`);
    }
    const copied = await connection.runAndReadAll(
      `COPY (\n${await jsonSafeSql(connection, sql)}\n) TO ${sqlLiteral(output)} ` +
        `(FORMAT JSON, COMPRESSION GZIP, FILE_SIZE_BYTES ${fileBytes})`,
    );
    const rows = copied.rowsChanged;
    const seconds = () => (performance.now() - started) / 1000;
    // COPY leaves one empty gzip file for an empty result: no rows, no files to hand out.
    if (rows === 0) return { files: [], rows, bytesScanned, seconds: seconds() };
    const parts = (await readdir(output))
      .map((name) => ({ name, index: EXPORT_FILE.exec(name)?.[1] }))
      .filter((file): file is { name: string; index: string } => file.index !== undefined)
      .sort((a, b) => Number(a.index) - Number(b.index));
    const files = await mapConcurrently(parts, this.options.downloadConcurrency ?? 8, async ({ name }, index) => {
      const key = `${prefix}part-${String(index).padStart(5, '0')}.json.gz`;
      // Read whole rather than streamed: a file is about exportFileBytes, and a buffer carries its own length.
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(join(output, name)) }));
      return key;
    });
    // Sorted as text, which is the parts' order while they number fewer than 100,000.
    return { files: files.sort(), rows, bytesScanned, seconds: seconds() };
  }
}

/**
 * The query, wrapped so that every value it writes reads back from JSON exactly, or it fails: DuckDB writes BIGINT and
 * HUGEINT as JSON numbers, which a JSON reader holds as doubles, and a non-finite DOUBLE as the bare words NaN or
 * Infinity, which no JSON reader accepts. The batch SQL's values (epoch milliseconds, counts, sums of bounded values)
 * stay well inside both limits, so the check only turns a silent corruption into an error.
 */
async function jsonSafeSql(connection: DuckDBConnection, sql: string): Promise<string> {
  const prepared = await connection.prepare(sql);
  const checks: string[] = [];
  try {
    for (let index = 0; index < prepared.columnCount; index += 1) {
      const column = `"${prepared.columnName(index).replace(/"/g, '""')}"`;
      const problem = (what: string) =>
        `error(${sqlLiteral(`column ${prepared.columnName(index)}: ${what} has no exact JSON number`)})`;
      switch (prepared.columnTypeId(index)) {
        case DuckDBTypeId.BIGINT:
        case DuckDBTypeId.UBIGINT:
        case DuckDBTypeId.HUGEINT:
        case DuckDBTypeId.UHUGEINT:
          checks.push(
            `CASE WHEN ${column} IS NULL OR ${column} BETWEEN ${-Number.MAX_SAFE_INTEGER} AND ${Number.MAX_SAFE_INTEGER} ` +
              `THEN ${column} ELSE ${problem('an integer beyond 2^53')} END AS ${column}`,
          );
          break;
        case DuckDBTypeId.DOUBLE:
        case DuckDBTypeId.FLOAT:
          checks.push(
            `CASE WHEN ${column} IS NULL OR isfinite(${column}) THEN ${column} ELSE ${problem('NaN or infinity')} END AS ${column}`,
          );
          break;
      }
    }
  } finally {
    prepared.destroySync();
  }
  return checks.length === 0 ? sql : `SELECT * REPLACE (${checks.join(', ')}) FROM (\n${sql}\n)`;
}
