import { numberOf, type PipelineEvent } from './event-schema';
import { estimateQuantiles, mergeBins, singleValueBins, type BinCounts, type QuantileEstimate } from './histogram';
import {
  DEFAULT_HLL_PRECISION,
  estimateCardinality,
  mergeRegisters,
  singleValueRegisters,
  type HllRegisters,
} from './hyperloglog';
import type { MeasureDefinition, ViewDefinition } from './view-declaration';

/**
 * The stored measures of one aggregate: the count of events, and per stored attribute a sum, a min, a max, a sum of
 * squares, HyperLogLog registers or histogram counts (the view's `stored`, each over one field). Each is a
 * commutative monoid, so the whole is one too: merging needs no declaration, because each part is merged by what
 * it is. Merging is what makes batch ⊕ realtime, roll-ups, group-by and retries composable (DESIGN.md §2). avg,
 * variance and stddev are derived.
 */
export interface Measures {
  readonly count: number;
  readonly sum: Readonly<Record<string, number>>;
  readonly min: Readonly<Record<string, number>>;
  readonly max: Readonly<Record<string, number>>;
  readonly sumSquares: Readonly<Record<string, number>>;
  readonly distinct: Readonly<Record<string, HllRegisters>>;
  readonly histogram: Readonly<Record<string, BinCounts>>;
}

/** The numeric parts, each one number per attribute. */
export type NumericPart = 'sum' | 'min' | 'max' | 'sumSquares';

/** The identity: merging it changes nothing. An absent attribute is its part's identity (0, +∞, −∞, no registers). */
export const EMPTY_MEASURES: Measures = Object.freeze({
  count: 0,
  sum: Object.freeze({}),
  min: Object.freeze({}),
  max: Object.freeze({}),
  sumSquares: Object.freeze({}),
  distinct: Object.freeze({}),
  histogram: Object.freeze({}),
});

/** Measures from parts, the others empty. */
export function measuresWith(parts: Partial<Measures> & { readonly count: number }): Measures {
  return { ...EMPTY_MEASURES, ...parts };
}

/** One event's contribution to the view's stored measures. */
export function measuresOf(view: Pick<ViewDefinition, 'stored'>, event: PipelineEvent): Measures {
  const numbers: Record<NumericPart, Record<string, number>> = { sum: {}, min: {}, max: {}, sumSquares: {} };
  const distinct: Record<string, HllRegisters> = {};
  const histogram: Record<string, BinCounts> = {};
  for (const measure of view.stored) {
    switch (measure.kind) {
      case 'distinct':
        distinct[measure.attribute] = singleValueRegisters(String(event[measure.field]), measure.precision);
        break;
      case 'histogram':
        histogram[measure.attribute] = singleValueBins(measure.boundaries, numberOf(event, measure.field));
        break;
      case 'sumSquares': {
        const value = numberOf(event, measure.field);
        numbers.sumSquares[measure.attribute] = value * value;
        break;
      }
      default:
        numbers[measure.kind][measure.attribute] = numberOf(event, measure.field);
    }
  }
  return { count: 1, ...numbers, distinct, histogram };
}

function mergePart<T>(
  a: Readonly<Record<string, T>>,
  b: Readonly<Record<string, T>>,
  merge: (x: T, y: T) => T,
): Readonly<Record<string, T>> {
  const merged: Record<string, T> = { ...a };
  for (const [attribute, value] of Object.entries(b)) {
    const existing = merged[attribute];
    merged[attribute] = existing === undefined ? value : merge(existing, value);
  }
  return merged;
}

const add = (x: number, y: number) => x + y;

export function mergeMeasures(a: Measures, b: Measures): Measures {
  if (b === EMPTY_MEASURES) return a;
  if (a === EMPTY_MEASURES) return b;
  return {
    count: a.count + b.count,
    sum: mergePart(a.sum, b.sum, add),
    min: mergePart(a.min, b.min, Math.min),
    max: mergePart(a.max, b.max, Math.max),
    sumSquares: mergePart(a.sumSquares, b.sumSquares, add),
    distinct: mergePart(a.distinct, b.distinct, mergeRegisters),
    histogram: mergePart(a.histogram, b.histogram, mergeBins),
  };
}

/**
 * The merge of any number of aggregates, equal to folding mergeMeasures over them. Each sketch attribute is merged
 * into one map that grows in place, so merging n aggregates costs their total size: a left fold of mergeMeasures
 * copies the growing registers at every step, which a day of minute buckets rolled up makes dominate a query.
 */
export function mergeAllMeasures(parts: Iterable<Measures>): Measures {
  let count = 0;
  let first: Measures | undefined;
  let merged = 0;
  const numbers: Record<NumericPart, Record<string, number>> = { sum: {}, min: {}, max: {}, sumSquares: {} };
  const distinct: Record<string, Map<number, number>> = {};
  const histogram: Record<string, Map<number, number>> = {};
  const mergeNumbers = (
    part: NumericPart,
    values: Readonly<Record<string, number>>,
    merge: (x: number, y: number) => number,
  ) => {
    const into = numbers[part];
    for (const [attribute, value] of Object.entries(values)) {
      const existing = into[attribute];
      into[attribute] = existing === undefined ? value : merge(existing, value);
    }
  };
  const mergeCells = (
    into: Record<string, Map<number, number>>,
    sketches: Readonly<Record<string, ReadonlyMap<number, number>>>,
    merge: (x: number, y: number) => number,
  ) => {
    for (const [attribute, cells] of Object.entries(sketches)) {
      const target = into[attribute] ?? (into[attribute] = new Map());
      for (const [slot, value] of cells) {
        const existing = target.get(slot);
        target.set(slot, existing === undefined ? value : merge(existing, value));
      }
    }
  };
  for (const part of parts) {
    if (part === EMPTY_MEASURES) continue;
    first ??= part;
    merged += 1;
    count += part.count;
    mergeNumbers('sum', part.sum, add);
    mergeNumbers('min', part.min, Math.min);
    mergeNumbers('max', part.max, Math.max);
    mergeNumbers('sumSquares', part.sumSquares, add);
    mergeCells(distinct, part.distinct, Math.max);
    mergeCells(histogram, part.histogram, add);
  }
  if (first === undefined) return EMPTY_MEASURES;
  if (merged === 1) return first;
  return { count, ...numbers, distinct, histogram };
}

export function isEmptyMeasures(measures: Measures): boolean {
  return measures.count === 0;
}

/** A numeric stored part's value, or its identity when the aggregate holds none. */
export function storedValue(measures: Measures, measure: { readonly kind: NumericPart; readonly attribute: string }) {
  const value = measures[measure.kind][measure.attribute];
  if (value !== undefined) return value;
  return measure.kind === 'min' ? Infinity : measure.kind === 'max' ? -Infinity : 0;
}

/**
 * A numeric measure's answer for an aggregate: avg = sum / count, the sample variance (sumSquares − sum²/count) /
 * (count − 1) and its square root (null below two events, as SQL's variance and stddev are), distinct the
 * HyperLogLog estimate rounded to a whole number; null for an empty aggregate, and null for a measure none of the
 * aggregate's rows holds (rows written before the measure was declared, until a rebuild or replay rewrites them):
 * an absent sum read as 0 would be a wrong answer, not a missing one. A histogram has no single number (see
 * presentMeasures).
 */
export function measureValue(measures: Measures, measure: MeasureDefinition): number | null {
  if (measures.count === 0) return null;
  switch (measure.kind) {
    case 'count':
      return measures.count;
    case 'histogram':
      return null;
    case 'distinct': {
      const registers = measures.distinct[measure.attribute];
      if (registers === undefined) return null;
      return Math.round(estimateCardinality(registers, measure.precision ?? DEFAULT_HLL_PRECISION));
    }
    case 'variance':
    case 'stddev': {
      const squares = measures.sumSquares[measure.attribute];
      const sum = measures.sum[measure.sumAttribute ?? ''];
      if (squares === undefined || sum === undefined || measures.count < 2) return null;
      // Rounding can take a constant series' variance a little below 0.
      const variance = Math.max(0, (squares - (sum * sum) / measures.count) / (measures.count - 1));
      return measure.kind === 'variance' ? variance : Math.sqrt(variance);
    }
    case 'avg': {
      const sum = measures.sum[measure.attribute];
      return sum === undefined ? null : sum / measures.count;
    }
    default:
      return measures[measure.kind][measure.attribute] ?? null;
  }
}

/** The quantiles a histogram answers when a query names none. */
export const DEFAULT_QUANTILES: readonly number[] = [0.5, 0.9, 0.99];

/** A histogram measure's answer: per quantile asked (keyed by its decimal text), the estimate and its bounds. */
export type QuantilesAnswer = Readonly<Record<string, QuantileEstimate>>;

export type MeasureAnswer = number | QuantilesAnswer | null;

/** A histogram measure's quantiles for an aggregate; null when none of its rows holds the measure. */
export function histogramQuantiles(
  measures: Measures,
  measure: MeasureDefinition,
  quantiles: readonly number[],
): QuantilesAnswer | null {
  const bins = measures.histogram[measure.attribute];
  if (measures.count === 0 || bins === undefined) return null;
  const answer: Record<string, QuantileEstimate> = {};
  const estimates = estimateQuantiles(measure.boundaries ?? [], bins, quantiles);
  estimates.forEach((estimate, index) => {
    answer[String(quantiles[index])] = estimate;
  });
  return answer;
}

/**
 * Every measure of the view for an aggregate, by name; null for an empty aggregate. A histogram answers the
 * quantiles asked for (DEFAULT_QUANTILES when none are).
 */
export function presentMeasures(
  view: Pick<ViewDefinition, 'measures'>,
  measures: Measures,
  quantiles: readonly number[] = DEFAULT_QUANTILES,
): Record<string, MeasureAnswer> | null {
  if (measures.count === 0) return null;
  return Object.fromEntries(
    view.measures.map((measure) => [
      measure.name,
      measure.kind === 'histogram' ? histogramQuantiles(measures, measure, quantiles) : measureValue(measures, measure),
    ]),
  );
}
