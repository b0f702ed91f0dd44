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

/** Batch partition key: view, batch version and dimension key. Each version is a separate set of items. */
export function batchPartitionKey(view: string, version: string, dimensionKey: string): string {
  return `${view}#${version}#${dimensionKey}`;
}

export function batchItemKey(
  view: string,
  version: string,
  dimensionKey: string,
  bucket: number,
): { pk: string; sk: string } {
  return { pk: batchPartitionKey(view, version, dimensionKey), sk: padTime(bucket) };
}
