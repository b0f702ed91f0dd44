import { GRANULARITY_MS, type Granularity } from '../../functions/core/granularity';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { countedRecords } from './brute-force';

/** A measure's running parts, in the plainest form: every value it saw. */
interface Tally {
  count: number;
  values: Map<string, number[]>;
}

function answerOf(view: ViewDefinition, tally: Tally): Record<string, number> {
  const answer: Record<string, number> = {};
  for (const measure of view.measures) {
    const values = measure.field === null ? [] : (tally.values.get(measure.field) ?? []);
    const sum = values.reduce((total, value) => total + value, 0);
    answer[measure.name] =
      measure.kind === 'count'
        ? tally.count
        : measure.kind === 'sum'
          ? sum
          : measure.kind === 'min'
            ? Math.min(...values)
            : measure.kind === 'max'
              ? Math.max(...values)
              : sum / tally.count;
  }
  return answer;
}

function tallyOf(view: ViewDefinition, records: readonly StreamRecord[]): Tally {
  const values = new Map<string, number[]>();
  for (const field of view.schema.numbers)
    values.set(
      field,
      records.map((record) => record.event[field] as number),
    );
  return { count: records.length, values };
}

/** A series as the reference gives it: its key, and its buckets' measures by bucket start. */
export interface ExpectedSeries {
  readonly key: Readonly<Record<string, string>>;
  readonly buckets: ReadonlyMap<number, Record<string, number>>;
}

function bucketsOf(
  view: ViewDefinition,
  records: readonly StreamRecord[],
  granularity: Granularity,
  from: number,
  to: number,
): Map<number, Record<string, number>> {
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
    .map(([encoded, keyed]) => ({
      encoded,
      keyed,
      value: answerOf(view, tallyOf(view, keyed))[measure.name] as number,
    }))
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
