import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import type { SqlCell } from '../../core/batch-sql';
import type { BatchEngine, BatchQuerySession, QueryResult } from '../../batch/batch-engine';
import { masterDatasetViewSql } from './master-dataset-view';

export interface DuckDbEngineOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** @default 'events/' */
  readonly prefix?: string;
  /** Objects under this prefix (rejected records) are never read. @default 'errors/' */
  readonly errorPrefix?: string;
}

const SOURCE = 'master_dataset';
const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * DuckDB over the master dataset, for local runs and targets without Athena. It reads every object under the
 * prefix through the S3 API, whatever the key layout (emulators write one uncompressed object per record under
 * YYYY/MM/DD/HH/, Firehose GZIP objects under Hive partitions), into a temporary directory, naming each file by
 * its content (gzip or plain) because DuckDB chooses the decompression by extension.
 */
export class DuckDbEngine implements BatchEngine {
  constructor(private readonly options: DuckDbEngineOptions) {}

  async open(): Promise<BatchQuerySession> {
    const directory = await mkdtemp(join(tmpdir(), 'duckdb-batch-'));
    try {
      const { files, bytes } = await this.download(directory);
      const instance = await DuckDBInstance.create(':memory:');
      const connection = await instance.connect();
      await connection.run(masterDatasetViewSql(SOURCE, files));
      let downloadedBytesReported = false;
      return {
        source: `"${SOURCE}"`,
        run: async (sql: string): Promise<QueryResult> => {
          const started = performance.now();
          const reader = await connection.runAndReadAll(sql);
          const rows = reader.getRowObjects() as Record<string, SqlCell>[];
          // The download is the bytes read; it happens once per run, so it is charged to the first query.
          const bytesScanned = downloadedBytesReported ? 0 : bytes;
          downloadedBytesReported = true;
          return { rows, bytesScanned, seconds: (performance.now() - started) / 1000 };
        },
        close: async () => {
          connection.closeSync();
          instance.closeSync();
          await rm(directory, { recursive: true, force: true });
        },
      };
    } catch (error) {
      await rm(directory, { recursive: true, force: true });
      throw error;
    }
  }

  private async download(directory: string): Promise<{ files: string[]; bytes: number }> {
    const { s3, bucket } = this.options;
    const prefix = this.options.prefix ?? 'events/';
    const errorPrefix = this.options.errorPrefix ?? 'errors/';
    const files: string[] = [];
    let bytes = 0;
    let continuationToken: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: continuationToken }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || object.Key.startsWith(errorPrefix) || object.Key.endsWith('/')) continue;
        const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
        const body = Buffer.from((await response.Body?.transformToByteArray()) ?? new Uint8Array());
        if (body.length === 0) continue;
        const gzip = body[0] === GZIP_MAGIC[0] && body[1] === GZIP_MAGIC[1];
        // Objects written one record at a time may lack the final newline; a file of its own reads fine either way.
        const file = join(directory, `${files.length}.json${gzip ? '.gz' : ''}`);
        await writeFile(file, body);
        files.push(file);
        bytes += body.length;
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
    return { files, bytes };
  }
}
