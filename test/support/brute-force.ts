import type { Granularity } from '../../functions/core/granularity';
import {
  DEFAULT_QUANTILES,
  measuresOf,
  mergeMeasures,
  presentMeasures,
  type MeasureAnswer,
  type Measures,
} from '../../functions/core/measures';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';

/**
 * Expected stored measures for one bucket: the count, and per stored attribute of the view a sum, min, max, sum of
 * squares, HyperLogLog registers or histogram bin counts. The monoid itself (measuresOf, mergeMeasures) is trusted
 * here: its laws are proven on their own (measures.test.ts), and so are the registers and bins of a value
 * (hyperloglog.test.ts, histogram.test.ts).
 */
export type ExpectedBucket = Measures;

/**
 * Expected answer for one bucket as a reader is served it: every measure of the view by name (the derived ones
 * included; a histogram's default quantiles).
 */
export type PresentedBucket = Readonly<Record<string, MeasureAnswer>>;

const SIZE: Record<Granularity, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * The reference every layer is held to: a brute-force aggregation written without the core's fold, keys or
 * filter code, over the distinct records (by shard, sequence and subsequence; by the schema's id field, earliest
 * arrival, for views that de-duplicate by it), for any schema and any declared measures. Keyed by `dimension values
 * joined by |` and bucket start.
 */
export function bruteForce(
  view: ViewDefinition,
  records: readonly StreamRecord[],
  granularity: Granularity = view.granularity,
  includeRecord: (record: StreamRecord) => boolean = () => true,
): Map<string, ExpectedBucket> {
  const result = new Map<string, ExpectedBucket>();
  for (const record of countedRecords(view, records)) {
    if (!includeRecord(record)) continue;
    const event = record.event;
    const ts = event[view.schema.time] as number;
    const bucket = ts - (ts % SIZE[granularity]);
    const key = `${view.dimensions.map((field) => encodeURIComponent(event[field] as string)).join('|')}@${bucket}`;
    const current = result.get(key);
    const contribution = measuresOf(view, event);
    result.set(key, current === undefined ? contribution : mergeMeasures(current, contribution));
  }
  return result;
}

/**
 * The records a view counts, written without the core's code: the distinct records (by shard, sequence and
 * subsequence; by the schema's id field, earliest arrival, for views that de-duplicate by it: the generators'
 * copies of an event arrive within the de-dup horizon) that pass the view's filter.
 */
export function countedRecords(view: ViewDefinition, records: readonly StreamRecord[]): StreamRecord[] {
  const seen = new Map<string, StreamRecord>();
  for (const record of records) {
    const id = view.dedupeByEventId
      ? `id|${String(record.event[view.schema.id])}`
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
  return [...seen.values()].filter((record) =>
    view.filter.every((condition) => {
      const actual = record.event[condition.field] as string | number;
      const value = condition.value;
      if (condition.op === 'eq') return actual === value;
      if (condition.op === 'ne') return actual !== value;
      if (condition.op === 'in') return (value as (string | number)[]).includes(actual);
      if (condition.op === 'notIn') return !(value as (string | number)[]).includes(actual);
      if (condition.op === 'gt') return Number(actual) > Number(value);
      if (condition.op === 'gte') return Number(actual) >= Number(value);
      if (condition.op === 'lt') return Number(actual) < Number(value);
      return Number(actual) <= Number(value);
    }),
  );
}

/** Stored measures in a plain shape (no extra fields, no frozen identities), for a direct toEqual. */
export function plainMeasures(measures: Measures): ExpectedBucket {
  return {
    count: measures.count,
    sum: { ...measures.sum },
    min: { ...measures.min },
    max: { ...measures.max },
    sumSquares: { ...measures.sumSquares },
    distinct: { ...measures.distinct },
    histogram: { ...measures.histogram },
  };
}

/** A view's aggregates (batch rows, realtime items, served buckets) in the same shape as bruteForce's. */
export function asExpected(
  buckets: Iterable<{ dimensionKey: string; bucket: number; measures: Measures }>,
): Map<string, ExpectedBucket> {
  const result = new Map<string, ExpectedBucket>();
  for (const { dimensionKey, bucket, measures } of buckets)
    result.set(`${dimensionKey}@${bucket}`, plainMeasures(measures));
  return result;
}

/**
 * Expected stored measures as a reader is served them: every measure of the view by name (presentMeasures), a
 * histogram answering `quantiles`.
 */
export function presentedBuckets(
  view: Pick<ViewDefinition, 'measures'>,
  buckets: ReadonlyMap<string, Measures>,
  quantiles: readonly number[] = DEFAULT_QUANTILES,
): Map<string, PresentedBucket> {
  const result = new Map<string, PresentedBucket>();
  for (const [key, measures] of buckets) {
    const answer = presentMeasures(view, measures, quantiles);
    if (answer !== null) result.set(key, answer);
  }
  return result;
}

/** bruteForce as a reader is served it (a histogram answering `quantiles`): comparable with answerBuckets. */
export function bruteForceAnswer(
  view: ViewDefinition,
  records: readonly StreamRecord[],
  granularity: Granularity = view.granularity,
  includeRecord?: (record: StreamRecord) => boolean,
  quantiles: readonly number[] = DEFAULT_QUANTILES,
): Map<string, PresentedBucket> {
  return presentedBuckets(view, bruteForce(view, records, granularity, includeRecord), quantiles);
}

/** One bucket of a GET /views answer: start, startMs, every measure by name, and the batch and realtime parts. */
export type AnswerBucket = Readonly<Record<string, unknown>> & { readonly startMs: number };

/** The series of a GET /views answer, as far as a comparison with bruteForceAnswer needs them. */
export type AnswerSeries = readonly {
  readonly key: Readonly<Record<string, string>>;
  readonly buckets: readonly AnswerBucket[];
}[];

/** What an answer's bucket holds besides its measures: its start, and its batch and realtime parts. */
const BUCKET_FIELDS: readonly string[] = ['start', 'startMs', 'batch', 'realtime'];

/** The measures of an answer's bucket, by name: numbers, null, or a histogram's quantiles. */
export function answerMeasures(bucket: AnswerBucket): PresentedBucket {
  return Object.fromEntries(
    Object.entries(bucket).filter((entry): entry is [string, MeasureAnswer] => !BUCKET_FIELDS.includes(entry[0])),
  );
}

/** An API answer's buckets keyed as bruteForce keys them, for the view's dimensions. */
export function answerBuckets(series: AnswerSeries, dimensions: readonly string[]): Map<string, PresentedBucket> {
  const result = new Map<string, PresentedBucket>();
  for (const { key, buckets } of series) {
    const dimensionKey = dimensions.map((dimension) => encodeURIComponent(key[dimension] ?? '')).join('|');
    for (const bucket of buckets) result.set(`${dimensionKey}@${bucket.startMs}`, answerMeasures(bucket));
  }
  return result;
}
