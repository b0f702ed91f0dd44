import { maxRelativeError } from '../core/histogram';
import { hllStandardError } from '../core/hyperloglog';
import type { MeasureDefinition, MeasureKind, ViewDefinition } from '../core/view-declaration';

/**
 * How far a sketch measure's answer may be from the exact one. Only sketches have an error: count, sum, min, max,
 * sumSquares are exact, and avg, variance and stddev are exact functions of them (up to floating point).
 *
 * - distinct: HyperLogLog's relative standard error, 1.04/√2^precision. It depends on the precision alone, not on
 *   the data or the bucket, so it is stated once per answer rather than in every bucket: about two estimates in
 *   three are within ±standardError × the true count of it, nineteen in twenty within twice that (small counts, held
 *   in the sparse form, are all but exact).
 * - histogram: each quantile comes with its bin's bounds (the true quantile is in (lower, upper]), which depend on
 *   the data and so are stated in every bucket. What the boundaries promise in advance is stated once: the largest
 *   relative error of an estimate whose bin lies inside `range` (the first to the last boundary). A quantile below
 *   the first or above the last boundary is only bounded on one side (its lower or upper is null), and its estimate
 *   is that boundary: no relative error is promised there.
 *
 * Both figures are stated twice, never per bucket (they do not vary by bucket): in GET /views, beside each measure's
 * kind and field, to choose a measure (and a precision or accuracy) before asking; and once at the top of every
 * answer of a view with sketches, so that an answer carries its own error bound and a client needs no second request
 * to read it.
 */
export type MeasureAccuracy =
  | { readonly precision: number; readonly standardError: number }
  | {
      /** The largest relative error of an estimate inside the range; null when a bin there spans 0. */
      readonly relativeError: number | null;
      /** [first boundary, last boundary]. */
      readonly range: readonly [number, number];
      /** Bins counted, the two outer ones included: what an item stores at most per histogram. */
      readonly bins: number;
    };

/** A sketch measure's accuracy; undefined for an exact measure. */
export function measureAccuracy(measure: MeasureDefinition): MeasureAccuracy | undefined {
  if (measure.kind === 'distinct' && measure.precision !== undefined) {
    return { precision: measure.precision, standardError: hllStandardError(measure.precision) };
  }
  if (measure.kind === 'histogram' && measure.boundaries !== undefined && measure.boundaries.length > 0) {
    const { boundaries } = measure;
    return {
      relativeError: maxRelativeError(boundaries),
      range: [boundaries[0] as number, boundaries[boundaries.length - 1] as number],
      bins: boundaries.length + 1,
    };
  }
  return undefined;
}

/** The accuracy of each sketch measure of the view, by name; empty for a view of exact measures only. */
export function viewAccuracy(view: Pick<ViewDefinition, 'measures'>): Record<string, MeasureAccuracy> {
  return Object.fromEntries(
    view.measures.flatMap((measure) => {
      const accuracy = measureAccuracy(measure);
      return accuracy === undefined ? [] : [[measure.name, accuracy]];
    }),
  );
}

/** A measure as GET /views describes it: what it computes over which field, and a sketch's accuracy. */
export type MeasureDetail = { readonly kind: MeasureKind; readonly field: string | null } & (
  MeasureAccuracy | Record<never, never>
);

export function measureDetail(measure: MeasureDefinition): MeasureDetail {
  return { kind: measure.kind, field: measure.field, ...measureAccuracy(measure) };
}
