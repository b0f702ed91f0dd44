import { EMPTY_MEASURES, mergeMeasures, measureValue, type Measures } from './measures';
import type { TopOrder } from './query-request';
import type { ServedBucket } from './serving-rule';
import type { MeasureDefinition } from './view-declaration';

/** A key's place in a top-N: its measure over the whole range. */
export interface RankedKey {
  readonly dimensionKey: string;
  readonly rank: number;
  readonly value: number;
}

/**
 * The top-N (DESIGN.md §10): each key's served buckets in [from, to) merged into one aggregate (so avg is the
 * range's sum / count, not a mean of means), ranked by the measure, ties broken by dimension key ascending whatever
 * the order, so that the same data always gives the same answer. Keys without data in the range are left out.
 */
export function rankKeys(
  buckets: Iterable<ServedBucket>,
  measure: MeasureDefinition,
  order: TopOrder,
  limit: number,
  range: { readonly from: number; readonly to: number },
): RankedKey[] {
  const totals = new Map<string, Measures>();
  for (const bucket of buckets) {
    if (bucket.bucket < range.from || bucket.bucket >= range.to) continue;
    totals.set(bucket.dimensionKey, mergeMeasures(totals.get(bucket.dimensionKey) ?? EMPTY_MEASURES, bucket.measures));
  }
  const direction = order === 'desc' ? -1 : 1;
  return [...totals]
    .flatMap(([dimensionKey, total]) => {
      const value = measureValue(total, measure);
      return value === null ? [] : [{ dimensionKey, value }];
    })
    .sort(
      (a, b) =>
        (a.value === b.value ? 0 : a.value < b.value ? -direction : direction) ||
        (a.dimensionKey < b.dimensionKey ? -1 : a.dimensionKey > b.dimensionKey ? 1 : 0),
    )
    .slice(0, limit)
    .map((entry, index) => ({ ...entry, rank: index + 1 }));
}
