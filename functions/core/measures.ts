import { numberOf, type PipelineEvent } from './event-schema';
import type { MeasureDefinition, StoredMeasure, ViewDefinition } from './view-declaration';

/**
 * The stored measures of one aggregate: the count of events, and per stored attribute a sum, a min or a max (the
 * view's `stored`, each over one numeric field). Each is a commutative monoid, so the whole is one too: merging
 * needs no declaration, because each part is merged by what it is. Merging is what makes batch ⊕ realtime,
 * roll-ups, group-by and retries composable (DESIGN.md §2). avg is derived.
 */
export interface Measures {
  readonly count: number;
  readonly sum: Readonly<Record<string, number>>;
  readonly min: Readonly<Record<string, number>>;
  readonly max: Readonly<Record<string, number>>;
}

/** The identity: merging it changes nothing. An absent attribute is its part's identity (0, +∞, −∞). */
export const EMPTY_MEASURES: Measures = Object.freeze({
  count: 0,
  sum: Object.freeze({}),
  min: Object.freeze({}),
  max: Object.freeze({}),
});

/** One event's contribution to the view's stored measures. */
export function measuresOf(view: Pick<ViewDefinition, 'stored'>, event: PipelineEvent): Measures {
  const sum: Record<string, number> = {};
  const min: Record<string, number> = {};
  const max: Record<string, number> = {};
  const parts = { sum, min, max };
  for (const measure of view.stored) parts[measure.kind][measure.attribute] = numberOf(event, measure.field);
  return { count: 1, sum, min, max };
}

function mergePart(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
  merge: (x: number, y: number) => number,
): Readonly<Record<string, number>> {
  const merged: Record<string, number> = { ...a };
  for (const [attribute, value] of Object.entries(b)) {
    const existing = merged[attribute];
    merged[attribute] = existing === undefined ? value : merge(existing, value);
  }
  return merged;
}

export function mergeMeasures(a: Measures, b: Measures): Measures {
  if (b === EMPTY_MEASURES) return a;
  if (a === EMPTY_MEASURES) return b;
  return {
    count: a.count + b.count,
    sum: mergePart(a.sum, b.sum, (x, y) => x + y),
    min: mergePart(a.min, b.min, Math.min),
    max: mergePart(a.max, b.max, Math.max),
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

/** A stored part's value, or its identity when the aggregate holds none. */
export function storedValue(measures: Measures, measure: Pick<StoredMeasure, 'kind' | 'attribute'>): number {
  const value = measures[measure.kind][measure.attribute];
  if (value !== undefined) return value;
  return measure.kind === 'sum' ? 0 : measure.kind === 'min' ? Infinity : -Infinity;
}

/**
 * A measure's answer for an aggregate: avg = sum / count; null for an empty aggregate, and null for a measure none
 * of the aggregate's rows holds (rows written before the measure was declared, until a rebuild or replay rewrites
 * them): an absent sum read as 0 would be a wrong answer, not a missing one.
 */
export function measureValue(measures: Measures, measure: MeasureDefinition): number | null {
  if (measures.count === 0) return null;
  if (measure.kind === 'count') return measures.count;
  const kind = measure.kind === 'avg' ? 'sum' : measure.kind;
  const value = measures[kind][measure.attribute];
  if (value === undefined) return null;
  return measure.kind === 'avg' ? value / measures.count : value;
}

/** Every measure of the view for an aggregate, by name; null for an empty aggregate. */
export function presentMeasures(
  view: Pick<ViewDefinition, 'measures'>,
  measures: Measures,
): Record<string, number | null> | null {
  if (measures.count === 0) return null;
  return Object.fromEntries(view.measures.map((measure) => [measure.name, measureValue(measures, measure)]));
}
