import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

export interface MasterDatasetDownloadOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Every object under it is part of the master dataset, whatever its key looks like. */
  readonly prefix: string;
  /** Objects under this prefix (rejected records) are never read, even when it lies under `prefix`. */
  readonly errorPrefix: string;
  /** Where the files go; the caller owns (and removes) it. */
  readonly directory: string;
  /** Objects downloaded at a time. @default 8 */
  readonly concurrency?: number;
  /** Keys per ListObjectsV2 page. @default 1000 */
  readonly pageSize?: number;
}

export interface DownloadedMasterDataset {
  /** Local files, named `.json.gz` for gzip content and `.json` otherwise. */
  readonly files: readonly string[];
  readonly objects: number;
  readonly bytes: number;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/**
 * Copies every object of the master dataset to local files, for an engine that reads files (DuckDB). It lists the
 * prefix through the S3 API rather than walking a key layout: Firehose writes GZIP objects under Hive partitions,
 * but emulators may write one plain object per record under `YYYY/MM/DD/HH/`. Each file is named by its content,
 * not its key, because DuckDB picks the decompression by extension.
 */
export async function downloadMasterDataset(options: MasterDatasetDownloadOptions): Promise<DownloadedMasterDataset> {
  const keys = await listKeys(options);
  const files: (string | undefined)[] = new Array(keys.length);
  let bytes = 0;
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < keys.length) {
      const index = next;
      next += 1;
      try {
        const file = await download(options, keys[index], index);
        if (file !== undefined) {
          files[index] = file.path;
          bytes += file.bytes;
        }
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, keys.length) }, worker));
  if (failure !== undefined) throw failure.error;
  const downloaded = files.filter((file): file is string => file !== undefined);
  return { files: downloaded, objects: downloaded.length, bytes };
}

async function listKeys({ s3, bucket, prefix, errorPrefix, pageSize }: MasterDatasetDownloadOptions) {
  const keys: string[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ContinuationToken: continuationToken,
        MaxKeys: pageSize ?? 1000,
      }),
    );
    for (const object of page.Contents ?? []) {
      const key = object.Key;
      if (key === undefined || key.endsWith('/') || object.Size === 0) continue;
      if (errorPrefix !== '' && key.startsWith(errorPrefix)) continue;
      keys.push(key);
    }
    continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (continuationToken !== undefined);
  return keys;
}

/** Streams one object to disk (objects can be far larger than memory allows to hold several of). */
async function download(
  { s3, bucket, directory }: MasterDatasetDownloadOptions,
  key: string,
  index: number,
): Promise<{ path: string; bytes: number } | undefined> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const partial = join(directory, `${index}.part`);
  const body = response.Body;
  if (body instanceof Readable) await pipeline(body, createWriteStream(partial));
  else await writeFile(partial, body === undefined ? new Uint8Array() : await body.transformToByteArray());
  const { size } = await stat(partial);
  if (size === 0) {
    await rm(partial, { force: true });
    return undefined;
  }
  const head = Buffer.alloc(GZIP_MAGIC.length);
  const handle = await open(partial, 'r');
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  const path = join(directory, `${index}.json${head.equals(GZIP_MAGIC) ? '.gz' : ''}`);
  await rename(partial, path);
  return { path, bytes: size };
}
