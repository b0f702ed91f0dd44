import type { StreamRecord } from '../../functions/core/stream-record';
import type { Granularity } from '../../functions/core/granularity';
import type { ViewDefinition } from '../../functions/core/view-declaration';

/** Expected answer for one bucket, computed the slow, obvious way. */
export interface ExpectedBucket {
  count: number;
  sum: number;
  min: number;
  max: number;
}

const SIZE: Record<Granularity, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * The reference every layer is held to: a brute-force aggregation written without the core's fold, keys or
 * filter code, over the distinct records (by shard, sequence and subsequence; by eventId, earliest arrival, for
 * views that de-duplicate by it). Keyed by `dimension values joined by |` and bucket start.
 */
export function bruteForce(
  view: ViewDefinition,
  records: readonly StreamRecord[],
  granularity: Granularity = view.granularity,
  includeRecord: (record: StreamRecord) => boolean = () => true,
): Map<string, ExpectedBucket> {
  const seen = new Map<string, StreamRecord>();
  for (const record of records) {
    const id = view.dedupeByEventId
      ? record.event.eventId
      : `${record.shardId}|${record.sequenceNumber}|${record.subSequenceNumber}`;
    const kept = seen.get(id);
    const earlier =
      kept === undefined ||
      record.arrivalMs < kept.arrivalMs ||
      (record.arrivalMs === kept.arrivalMs &&
        (record.shardId < kept.shardId ||
          (record.shardId === kept.shardId && BigInt(record.sequenceNumber) < BigInt(kept.sequenceNumber))));
    if (earlier) seen.set(id, record);
  }
  const result = new Map<string, ExpectedBucket>();
  for (const record of seen.values()) {
    if (!includeRecord(record)) continue;
    const event = record.event;
    const passes = view.filter.every((condition) => {
      const actual = event[condition.field];
      const value = condition.value;
      if (condition.op === 'eq') return actual === value;
      if (condition.op === 'ne') return actual !== value;
      if (condition.op === 'in') return (value as (string | number)[]).includes(actual);
      if (condition.op === 'notIn') return !(value as (string | number)[]).includes(actual);
      if (condition.op === 'gt') return Number(actual) > Number(value);
      if (condition.op === 'gte') return Number(actual) >= Number(value);
      if (condition.op === 'lt') return Number(actual) < Number(value);
      return Number(actual) <= Number(value);
    });
    if (!passes) continue;
    const bucket = event.ts - (event.ts % SIZE[granularity]);
    const key = `${view.dimensions.map((field) => encodeURIComponent(event[field])).join('|')}@${bucket}`;
    const current = result.get(key) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity };
    current.count += 1;
    current.sum += event.value;
    current.min = Math.min(current.min, event.value);
    current.max = Math.max(current.max, event.value);
    result.set(key, current);
  }
  return result;
}

/** A view's answer in the same shape as bruteForce's, for a direct toEqual. */
export function asExpected(
  buckets: Iterable<{ dimensionKey: string; bucket: number; measures: ExpectedBucket }>,
): Map<string, ExpectedBucket> {
  const result = new Map<string, ExpectedBucket>();
  for (const { dimensionKey, bucket, measures } of buckets) {
    result.set(`${dimensionKey}@${bucket}`, {
      count: measures.count,
      sum: measures.sum,
      min: measures.min,
      max: measures.max,
    });
  }
  return result;
}

/** The series of a GET /views answer, as far as a comparison with bruteForce needs them. */
export type AnswerSeries = readonly {
  readonly key: Readonly<Record<string, string>>;
  readonly buckets: readonly (ExpectedBucket & { readonly startMs: number })[];
}[];

/** An API answer's buckets keyed as bruteForce keys them, for the view's dimensions. */
export function answerBuckets(series: AnswerSeries, dimensions: readonly string[]): Map<string, ExpectedBucket> {
  return asExpected(
    series.flatMap(({ key, buckets }) =>
      buckets.map((bucket) => ({
        dimensionKey: dimensions.map((dimension) => encodeURIComponent(key[dimension])).join('|'),
        bucket: bucket.startMs,
        measures: bucket,
      })),
    ),
  );
}
