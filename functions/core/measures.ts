/**
 * The measures of one aggregate: count, sum, min and max, each a commutative monoid, so the tuple is one too.
 * Merging is what makes batch ⊕ realtime, roll-ups and retries composable (DESIGN.md §2). avg is derived.
 */
export interface Measures {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

/** The identity: merging it changes nothing. min and max start at the infinities, which no stored item holds. */
export const EMPTY_MEASURES: Measures = Object.freeze({ count: 0, sum: 0, min: Infinity, max: -Infinity });

export function measuresOf(value: number): Measures {
  return { count: 1, sum: value, min: value, max: value };
}

export function mergeMeasures(a: Measures, b: Measures): Measures {
  return {
    count: a.count + b.count,
    sum: a.sum + b.sum,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
  };
}

export function mergeAllMeasures(parts: Iterable<Measures>): Measures {
  let total = EMPTY_MEASURES;
  for (const part of parts) total = mergeMeasures(total, part);
  return total;
}

export function isEmptyMeasures(measures: Measures): boolean {
  return measures.count === 0;
}

/** avg = sum / count, or null for an empty aggregate. */
export function averageOf(measures: Measures): number | null {
  return measures.count === 0 ? null : measures.sum / measures.count;
}
