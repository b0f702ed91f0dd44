import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { mapConcurrently } from './concurrent-map';

/** Arrival times [fromMs, toMs), in epoch milliseconds. */
export interface ArrivalRange {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface MasterDatasetDownloadOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Every object under it is part of the master dataset, whatever its key looks like. */
  readonly prefix: string;
  /** Objects under this prefix (rejected records) are never read, even when it lies under `prefix`. */
  readonly errorPrefix: string;
  /** Where the files go; the caller owns (and removes) it. */
  readonly directory: string;
  /**
   * Only the objects of the arrival hours that can hold these arrivals (see downloadMasterDataset). Absent: every
   * object under the prefix.
   */
  readonly arrivals?: ArrivalRange;
  /**
   * A range of more arrival hours than this is gathered from one listing of the whole prefix rather than from each
   * hour's prefixes: past about two days, one paginated listing costs fewer requests than two per hour. @default 48
   */
  readonly maxHourListings?: number;
  /** Objects listed or downloaded at a time. @default 8 */
  readonly concurrency?: number;
  /** Keys per ListObjectsV2 page. @default 1000 */
  readonly pageSize?: number;
}

export interface DownloadedObject {
  readonly key: string;
  /** The local file, named `.json.gz` for gzip content and `.json` otherwise. */
  readonly path: string;
  readonly bytes: number;
  /** The start of the arrival hour the key names (ArrivalHour), or undefined for a key of unknown layout. */
  readonly hourMs: number | undefined;
}

export interface DownloadedMasterDataset {
  /** Local files, named `.json.gz` for gzip content and `.json` otherwise; the same order as `downloads`. */
  readonly files: readonly string[];
  readonly downloads: readonly DownloadedObject[];
  readonly objects: number;
  readonly bytes: number;
}

/** The arrival hour a key names, relative to the master dataset's prefix. */
interface ArrivalHour {
  readonly hourMs: number;
  /** `dt=YYYY-MM-DD/hour=HH/` (Firehose's dynamic partitions) or `YYYY/MM/DD/HH/` (its default prefix). */
  readonly layout: 'hive' | 'dated';
}

const HOUR_MS = 3_600_000;
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const HIVE_KEY = /^dt=(\d{4})-(\d{2})-(\d{2})\/hour=(\d{2})\//;
const DATED_KEY = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//;

/**
 * How far a `YYYY/MM/DD/HH/` object's records may have arrived from the hour its key names. Firehose's default prefix
 * is the time Firehose received the oldest record of the object, not each record's Kinesis arrival (the envelope's
 * arrival_ms, which the SQL reads): a record may have arrived up to one buffer interval (at most 15 minutes) before
 * the oldest one, or have reached Firehose late. An hour either side covers both, assuming Firehose reads the stream
 * less than an hour behind. Hive partitions need no margin: the transform names them after arrival_ms itself.
 */
const DATED_LAYOUT_MARGIN_MS = HOUR_MS;

/**
 * The arrival hour a key names, relative to the master dataset's prefix, or undefined when its layout is unknown (or
 * it names no real hour). Both layouts are UTC.
 */
function arrivalHourOf(relativeKey: string): ArrivalHour | undefined {
  const hive = HIVE_KEY.exec(relativeKey);
  const match = hive ?? DATED_KEY.exec(relativeKey);
  if (match === null) return undefined;
  const [year, month, day, hour] = match.slice(1).map(Number);
  const hourMs = Date.UTC(year, month - 1, day, hour);
  const date = new Date(hourMs);
  // Date.UTC rolls 2026-02-30 or hour 24 over into a real hour, which the key does not name.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  if (date.getUTCHours() !== hour) return undefined;
  return { hourMs, layout: hive === null ? 'dated' : 'hive' };
}

/** The prefix, relative to the master dataset's, of one arrival hour in a layout. */
function hourPrefix(hourMs: number, layout: ArrivalHour['layout']): string {
  const iso = new Date(hourMs).toISOString();
  const [day, hour] = [iso.slice(0, 10), iso.slice(11, 13)];
  return layout === 'hive' ? `dt=${day}/hour=${hour}/` : `${day.replace(/-/g, '/')}/${hour}/`;
}

/** The first and last arrival hours (their starts) a layout's objects can hold arrivals of the range in. */
function hoursToRead({ fromMs, toMs }: ArrivalRange, layout: ArrivalHour['layout']): [number, number] {
  const margin = layout === 'hive' ? 0 : DATED_LAYOUT_MARGIN_MS;
  const first = Math.floor(fromMs / HOUR_MS) * HOUR_MS - margin;
  const last = Math.floor((toMs - 1) / HOUR_MS) * HOUR_MS + margin;
  return [Math.max(0, first), last];
}

/**
 * Copies objects of the master dataset to local files, for an engine that reads files (DuckDB): with `arrivals`, only
 * those of the arrival hours that can hold them, so the work is proportional to the range, not to history.
 *
 * Firehose writes GZIP objects under Hive partitions of arrival (`dt=YYYY-MM-DD/hour=HH/`), but emulators (and
 * Firehose without dynamic partitioning) write under `YYYY/MM/DD/HH/`, sometimes one plain object per record. For a
 * range of up to `maxHourListings` hours, both prefixes of each hour are listed (the dated ones with a margin:
 * DATED_LAYOUT_MARGIN_MS). For a longer range (a first window, which starts at 0; a rebuild) the whole prefix is
 * listed once and the keys are kept by the hour they name; a key of unknown layout is then kept too, as the records
 * it holds may be of any arrival, and it is read only by such long ranges: an object must be under one of the two
 * layouts for a short range to see it. The SQL's arrival predicate, not the key, decides which records count: a key
 * only decides what is downloaded.
 *
 * Each file is named by its content, not its key, because DuckDB picks the decompression by extension.
 */
export async function downloadMasterDataset(options: MasterDatasetDownloadOptions): Promise<DownloadedMasterDataset> {
  const keys = await listKeys(options);
  const downloads: (DownloadedObject | undefined)[] = new Array(keys.length);
  let bytes = 0;
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < keys.length) {
      const index = next;
      next += 1;
      try {
        const file = await download(options, keys[index].key, index);
        if (file !== undefined) {
          downloads[index] = { ...keys[index], ...file };
          bytes += file.bytes;
        }
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, keys.length) }, worker));
  if (failure !== undefined) throw failure.error;
  const downloaded = downloads.filter((entry): entry is DownloadedObject => entry !== undefined);
  return {
    files: downloaded.map((entry) => entry.path),
    downloads: downloaded,
    objects: downloaded.length,
    bytes,
  };
}

interface ListedKey {
  readonly key: string;
  readonly hourMs: number | undefined;
}

async function listKeys(options: MasterDatasetDownloadOptions): Promise<ListedKey[]> {
  const { prefix, arrivals } = options;
  if (arrivals !== undefined) checkRange(arrivals);
  const hours = (range: ArrivalRange) => {
    const [first, last] = hoursToRead(range, 'hive');
    return (last - first) / HOUR_MS + 1;
  };
  if (arrivals === undefined || hours(arrivals) > (options.maxHourListings ?? 48)) {
    const keys: ListedKey[] = [];
    for (const key of await listPrefix(options, prefix)) {
      const hour = arrivalHourOf(key.slice(prefix.length));
      if (arrivals === undefined || hour === undefined || canHold(hour, arrivals)) {
        keys.push({ key, hourMs: hour?.hourMs });
      }
    }
    return keys;
  }
  const hourPrefixes: { prefix: string; hourMs: number }[] = [];
  for (const layout of ['hive', 'dated'] as const) {
    const [first, last] = hoursToRead(arrivals, layout);
    for (let hourMs = first; hourMs <= last; hourMs += HOUR_MS) {
      hourPrefixes.push({ prefix: prefix + hourPrefix(hourMs, layout), hourMs });
    }
  }
  const listed = await mapConcurrently(hourPrefixes, options.concurrency ?? 8, async (hour) =>
    (await listPrefix(options, hour.prefix)).map((key) => ({ key, hourMs: hour.hourMs })),
  );
  return listed.flat().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function canHold(hour: ArrivalHour, arrivals: ArrivalRange): boolean {
  const [first, last] = hoursToRead(arrivals, hour.layout);
  return hour.hourMs >= first && hour.hourMs <= last;
}

function checkRange({ fromMs, toMs }: ArrivalRange): void {
  if (!Number.isSafeInteger(fromMs) || fromMs < 0) throw new Error('arrivals.fromMs: expected a non-negative integer');
  if (!Number.isSafeInteger(toMs) || toMs <= fromMs) throw new Error('arrivals.toMs: expected an integer after fromMs');
}

/** The keys under a prefix that can hold records: no folder markers, no empty objects, nothing of the error prefix. */
async function listPrefix({ s3, bucket, errorPrefix, pageSize }: MasterDatasetDownloadOptions, prefix: string) {
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
