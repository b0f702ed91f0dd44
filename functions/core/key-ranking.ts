import { mergeAllMeasures, measureValue, type Measures } from './measures';
import type { TopOrder } from './query-request';
import type { ServedBucket } from './serving-rule';
import type { MeasureDefinition, ViewDefinition } from './view-declaration';

/** A key's place in a top-N: its measure over the whole range. */
export interface RankedKey {
  readonly dimensionKey: string;
  readonly rank: number;
  readonly value: number;
}

/**
 * Whether keys can be ranked by a measure: every measure with one number per aggregate can (distinct is its
 * estimate, variance and stddev are null below two events, and such a key is left out). A histogram answers several
 * quantiles, each with bounds, so it has no one number to rank by: ranking by one of its quantiles would need the
 * quantile in the query, and is not offered.
 */
export function isOrderable(measure: Pick<MeasureDefinition, 'kind'>): boolean {
  return measure.kind !== 'histogram';
}

/** The measures of a view that keys can be ranked by, in declared order. */
export function orderableMeasures(view: Pick<ViewDefinition, 'measures'>): MeasureDefinition[] {
  return view.measures.filter(isOrderable);
}

/**
 * The top-N (DESIGN.md §10): each key's served buckets in [from, to) merged into one aggregate (so avg is the
 * range's sum / count, not a mean of means), ranked by the measure, ties broken by dimension key ascending whatever
 * the order, so that the same data always gives the same answer. Keys without data in the range are left out, and
 * so are keys whose measure has no value (a variance or stddev of a single event). Sketches merge as every part
 * does (registers by max, bin counts by adding), so a key's distinct over the range counts each value once however
 * many buckets it appears in.
 */
export function rankKeys(
  buckets: Iterable<ServedBucket>,
  measure: MeasureDefinition,
  order: TopOrder,
  limit: number,
  range: { readonly from: number; readonly to: number },
): RankedKey[] {
  // parseViewQuery refuses such an orderBy with a 400; reaching here would rank every key as having no value.
  if (!isOrderable(measure)) throw new Error(`${measure.name} is a ${measure.kind}: keys cannot be ranked by it`);
  const parts = new Map<string, Measures[]>();
  for (const bucket of buckets) {
    if (bucket.bucket < range.from || bucket.bucket >= range.to) continue;
    const key = parts.get(bucket.dimensionKey);
    if (key === undefined) parts.set(bucket.dimensionKey, [bucket.measures]);
    else key.push(bucket.measures);
  }
  const direction = order === 'desc' ? -1 : 1;
  return [...parts]
    .flatMap(([dimensionKey, measures]) => {
      const value = measureValue(mergeAllMeasures(measures), measure);
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
