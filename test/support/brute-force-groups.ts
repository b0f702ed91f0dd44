import { GRANULARITY_MS, type Granularity } from '../../functions/core/granularity';
import { binOf, estimateQuantile, type QuantileEstimate } from '../../functions/core/histogram';
import { DEFAULT_HLL_PRECISION, estimateCardinality, registerOf } from '../../functions/core/hyperloglog';
import { DEFAULT_QUANTILES, type MeasureAnswer } from '../../functions/core/measures';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { MeasureDefinition, ViewDefinition } from '../../functions/core/view-declaration';
import { countedRecords } from './brute-force';

/** A measure's running parts, in the plainest form: every value it saw, by field. */
interface Tally {
  count: number;
  values: Map<string, unknown[]>;
}

/**
 * A measure's answer from every value it saw. The sums are exact (the generators' numbers are quarters), so the
 * sample variance, computed from them with the formula the answers use (measures.ts), is the answers' to the bit.
 * distinct's registers and a histogram's bins are built from the core's register and bin of each value (the core's
 * own tests hold those to their definitions), then estimated as a reader is served them.
 */
function measureAnswer(measure: MeasureDefinition, tally: Tally): MeasureAnswer {
  const values = measure.field === null ? [] : (tally.values.get(measure.field) ?? []);
  const numbers = values as number[];
  const sum = numbers.reduce((total, value) => total + value, 0);
  const sumSquares = numbers.reduce((total, value) => total + value * value, 0);
  const n = tally.count;
  const variance = n < 2 ? null : Math.max(0, (sumSquares - (sum * sum) / n) / (n - 1));
  switch (measure.kind) {
    case 'count':
      return n;
    case 'sum':
      return sum;
    case 'min':
      return Math.min(...numbers);
    case 'max':
      return Math.max(...numbers);
    case 'avg':
      return sum / n;
    case 'sumSquares':
      return sumSquares;
    case 'variance':
      return variance;
    case 'stddev':
      return variance === null ? null : Math.sqrt(variance);
    case 'distinct': {
      const precision = measure.precision ?? DEFAULT_HLL_PRECISION;
      const registers = new Map<number, number>();
      for (const value of values) {
        const { index, rank } = registerOf(String(value), precision);
        registers.set(index, Math.max(registers.get(index) ?? 0, rank));
      }
      return Math.round(estimateCardinality(registers, precision));
    }
    case 'histogram': {
      const boundaries = measure.boundaries ?? [];
      const bins = new Map<number, number>();
      for (const value of numbers) {
        const bin = binOf(boundaries, value);
        bins.set(bin, (bins.get(bin) ?? 0) + 1);
      }
      return Object.fromEntries(
        DEFAULT_QUANTILES.map((q) => [String(q), estimateQuantile(boundaries, bins, q) as QuantileEstimate]),
      );
    }
  }
}

function answerOf(view: ViewDefinition, tally: Tally): Record<string, MeasureAnswer> {
  return Object.fromEntries(view.measures.map((measure) => [measure.name, measureAnswer(measure, tally)]));
}

function tallyOf(view: ViewDefinition, records: readonly StreamRecord[]): Tally {
  const values = new Map<string, unknown[]>();
  const fields = new Set(view.measures.flatMap((measure) => (measure.field === null ? [] : [measure.field])));
  for (const field of fields)
    values.set(
      field,
      records.map((record) => record.event[field]),
    );
  return { count: records.length, values };
}

/** A series as the reference gives it: its key, and its buckets' measures by bucket start. */
export interface ExpectedSeries {
  readonly key: Readonly<Record<string, string>>;
  readonly buckets: ReadonlyMap<number, Record<string, MeasureAnswer>>;
}

function bucketsOf(
  view: ViewDefinition,
  records: readonly StreamRecord[],
  granularity: Granularity,
  from: number,
  to: number,
): Map<number, Record<string, MeasureAnswer>> {
  const size = GRANULARITY_MS[granularity];
  const byBucket = new Map<number, StreamRecord[]>();
  for (const record of records) {
    const ts = record.event[view.schema.time] as number;
    const bucket = ts - (ts % size);
    if (bucket < from || bucket >= to) continue;
    byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), record]);
  }
  return new Map([...byBucket].map(([bucket, grouped]) => [bucket, answerOf(view, tallyOf(view, grouped))]));
}

/**
 * The group-by answer: one series per combination of the given values of the given dimensions, each over every
 * counted record with those values, whatever its other dimensions.
 */
export function expectedGroups(
  view: ViewDefinition,
  records: readonly StreamRecord[],
  given: Readonly<Record<string, readonly string[]>>,
  range: { from: number; to: number; granularity: Granularity },
): ExpectedSeries[] {
  const dimensions = view.dimensions.filter((field) => given[field] !== undefined);
  const combinations = dimensions.reduce<Record<string, string>[]>(
    (partial, field) =>
      partial.flatMap((prefix) => (given[field] ?? []).map((value) => ({ ...prefix, [field]: value }))),
    [{}],
  );
  const counted = countedRecords(view, records);
  return combinations.map((key) => ({
    key,
    buckets: bucketsOf(
      view,
      counted.filter((record) => dimensions.every((field) => record.event[field] === key[field])),
      range.granularity,
      range.from,
      range.to,
    ),
  }));
}

/**
 * The top-N answer: every key with records in the range among those matching the given values, ranked by the
 * measure over the whole range (ties by the key's encoded form, ascending), the first `limit` of them.
 */
export function expectedTop(
  view: ViewDefinition,
  records: readonly StreamRecord[],
  given: Readonly<Record<string, readonly string[]>>,
  ranking: { measure: string; order: 'asc' | 'desc'; limit: number },
  range: { from: number; to: number; granularity: Granularity },
): (ExpectedSeries & { readonly value: number })[] {
  const measure = view.measures.find((candidate) => candidate.name === ranking.measure);
  if (measure === undefined) throw new Error(`no measure ${ranking.measure}`);
  const size = GRANULARITY_MS[range.granularity];
  const inRange = countedRecords(view, records).filter((record) => {
    const ts = record.event[view.schema.time] as number;
    const bucket = ts - (ts % size);
    return bucket >= range.from && bucket < range.to;
  });
  const byKey = new Map<string, StreamRecord[]>();
  for (const record of inRange) {
    if (
      !view.dimensions.every(
        (field) => given[field] === undefined || given[field]?.includes(record.event[field] as string),
      )
    ) {
      continue;
    }
    const key = view.dimensions.map((field) => encodeURIComponent(record.event[field] as string)).join('|');
    byKey.set(key, [...(byKey.get(key) ?? []), record]);
  }
  const ranked = [...byKey]
    .flatMap(([encoded, keyed]) => {
      // A key whose measure has no value over the range (a variance of one event) is not ranked.
      const value = answerOf(view, tallyOf(view, keyed))[measure.name];
      return typeof value === 'number' ? [{ encoded, keyed, value }] : [];
    })
    .sort((a, b) =>
      a.value !== b.value
        ? ranking.order === 'desc'
          ? b.value - a.value
          : a.value - b.value
        : a.encoded < b.encoded
          ? -1
          : a.encoded > b.encoded
            ? 1
            : 0,
    )
    .slice(0, ranking.limit);
  return ranked.map(({ keyed, value }) => ({
    key: Object.fromEntries(view.dimensions.map((field) => [field, keyed[0]?.event[field] as string])),
    value,
    buckets: bucketsOf(view, keyed, range.granularity, range.from, range.to),
  }));
}
