import type { AggregateKey } from './fold';

/**
 * DynamoDB key layout shared by the writers and the serving layer. Times are zero-padded to 16 digits (any safe
 * integer) so that sort keys order numerically and a time range is one key condition.
 */
const TIME_DIGITS = 16;

export function padTime(ms: number): string {
  return String(ms).padStart(TIME_DIGITS, '0');
}

/** Realtime partition key: view, generation (DESIGN.md Kappa mode) and dimension key. */
export function realtimePartitionKey(view: string, generation: number, dimensionKey: string): string {
  return `${view}@${generation}#${dimensionKey}`;
}

export function realtimeItemKey(key: AggregateKey, generation: number): { pk: string; sk: string } {
  return {
    pk: realtimePartitionKey(key.view, generation, key.dimensionKey),
    sk: `${padTime(key.bucket)}#${padTime(key.epoch)}`,
  };
}

export function parseRealtimeSortKey(sk: string): { bucket: number; epoch: number } {
  const [bucket, epoch] = sk.split('#');
  return { bucket: Number(bucket), epoch: Number(epoch) };
}

/** Inclusive sort-key bounds covering every epoch of the buckets from `firstBucket` to `lastBucket`. */
export function realtimeSortKeyRange(firstBucket: number, lastBucket: number): { from: string; to: string } {
  return { from: `${padTime(firstBucket)}#`, to: `${padTime(lastBucket)}#~` };
}

/**
 * Batch rows (DESIGN.md §6) come in two kinds. A window row holds what one arrival window added to a key and bucket;
 * its sort key ends with the window's end, so a reader asks for a bucket range and keeps the windows the manifest
 * serves. A base row holds what a rebuild computed for a key and bucket, under the rebuild's id.
 */
export function windowPartitionKey(view: string, dimensionKey: string): string {
  return `${view}#w#${dimensionKey}`;
}

export function windowItemKey(
  view: string,
  dimensionKey: string,
  bucket: number,
  windowTo: number,
): { pk: string; sk: string } {
  return { pk: windowPartitionKey(view, dimensionKey), sk: `${padTime(bucket)}#${padTime(windowTo)}` };
}

/** Inclusive sort-key bounds covering every window of the buckets from `firstBucket` to `lastBucket`. */
export function windowSortKeyRange(firstBucket: number, lastBucket: number): { from: string; to: string } {
  return { from: `${padTime(firstBucket)}#`, to: `${padTime(lastBucket)}#~` };
}

export function basePartitionKey(view: string, baseId: string, dimensionKey: string): string {
  return `${view}#b#${baseId}#${dimensionKey}`;
}

export function baseItemKey(
  view: string,
  baseId: string,
  dimensionKey: string,
  bucket: number,
): { pk: string; sk: string } {
  return { pk: basePartitionKey(view, baseId, dimensionKey), sk: padTime(bucket) };
}

/** The bucket of a batch row's sort key (a base row's, or a window row's). */
export function bucketOfBatchSortKey(sk: string): number {
  return Number(sk.split('#')[0]);
}
