import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { SKIP_REASONS, type SqlCell } from '../../core/batch-sql';
import type { BatchEngine, BatchQuerySession, QueryResult } from '../../batch/batch-engine';
import { downloadMasterDataset } from '../master-dataset-download';
import { screenArchiveFile } from './archive-line-screen';
import { masterDatasetViewSql, unplacedRowsSql } from './master-dataset-view';

export interface DuckDbEngineOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** @default 'events/' */
  readonly prefix?: string;
  /** Objects under this prefix (rejected records) are never read. @default 'errors/' */
  readonly errorPrefix?: string;
  /** Objects downloaded at a time. @default 8 */
  readonly downloadConcurrency?: number;
  /** Keys per ListObjectsV2 page. @default 1000 */
  readonly listPageSize?: number;
  /** Parent of the run's working directory. @default os.tmpdir() (Lambda's /tmp) */
  readonly workDirectory?: string;
}

const SOURCE = 'master_dataset';

/**
 * DuckDB over the master dataset, for local runs and targets without Athena. A session copies every object under
 * the prefix to a temporary directory (see master-dataset-download.ts), screens out the lines DuckDB cannot read or
 * whose shape breaks the event rules (archive-line-screen.ts), defines the master dataset over the files with the
 * columns Glue declares, and runs the same SQL text Athena runs. Closing it removes the directory.
 *
 * Why a screen in JavaScript rather than only read_json's `ignore_errors`: a lone surrogate or too deep a nesting in
 * an extra field is refused by every other layer, and no SQL column shows it; the screen applies the core's own
 * check to every line, and names the reason. It parses each line once more, which is the replay's cost too.
 */
export class DuckDbEngine implements BatchEngine {
  constructor(private readonly options: DuckDbEngineOptions) {}

  async open(): Promise<BatchQuerySession> {
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
        concurrency: this.options.downloadConcurrency,
        pageSize: this.options.listPageSize,
      });
      const skippedLines = new Map<string, number>();
      const files: string[] = [];
      for (const file of dataset.files) {
        const screened = await screenArchiveFile(file);
        files.push(screened.path);
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
        await connection.run(masterDatasetViewSql(SOURCE, files));
        // Reported under the batch SQL's reason for a row without its envelope, which is what Athena counts them as.
        const [unplaced] = (await connection.runAndReadAll(unplacedRowsSql(SOURCE))).getRowObjects();
        const rows = Number(unplaced?.rows ?? 0);
        if (rows > 0) skippedLines.set(SKIP_REASONS.envelope, (skippedLines.get(SKIP_REASONS.envelope) ?? 0) + rows);
      } catch (error) {
        closeDuckDb();
        throw error;
      }
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
          // The view has no partitions to prune by: every query reads every file.
          return { rows, bytesScanned: dataset.bytes, seconds: (performance.now() - queryStarted) / 1000 };
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
}
