/**
 * What the dashboard knows of a view from `GET /views`, and what it reads out of an answer of `GET /views/{view}`:
 * the columns a view can show (one per measure, one per quantile of a histogram), and their numbers in a bucket.
 */

import type { Granularity } from '../../functions/core/granularity';

/** The quantiles a histogram measure is shown by: one column (and one line to chart) each. */
export const QUANTILES = [0.5, 0.9, 0.99] as const;
// The pipeline's own (pure) definitions: esbuild bundles them into the page.
export { GRANULARITIES, GRANULARITY_MS, type Granularity } from '../../functions/core/granularity';

/** A view as `GET /views` lists it (the fields the page reads). */
export interface ListedView {
  readonly name: string;
  readonly description?: string;
  readonly dimensions: readonly string[];
  readonly granularity: Granularity;
  readonly measures: readonly string[];
  readonly measureDefinitions?: Readonly<Record<string, string>>;
  readonly measureDetails?: Readonly<Record<string, { readonly kind?: string }>>;
  baseline?: ListedBaseline | null;
}

/** A view's baseline in the declaration's notation: the field it learns (older servers called it `measure`). */
export interface ListedBaseline {
  readonly field?: string;
  readonly measure?: string;
  readonly seasonality?: string;
  readonly threshold?: number;
}

/** One number the page can show per bucket: a measure, or one quantile of a histogram measure. */
export interface Column {
  readonly id: string;
  readonly name: string;
  readonly quantile?: string;
  readonly label: string;
}

export interface QuantileEstimate {
  readonly estimate: number;
  readonly lower: number | null;
  readonly upper: number | null;
}

/** A measure's value in an answer: a number, null, or a histogram's quantile estimates. */
export type MeasureValue = number | null | Readonly<Record<string, QuantileEstimate>>;
export type Measures = Readonly<Record<string, MeasureValue | undefined>>;

export interface AnsweredBucket {
  readonly start: string;
  readonly startMs: number;
  readonly batch: Measures;
  readonly realtime: Measures;
  readonly [measure: string]: MeasureValue | Measures | string | undefined;
}

export interface AnsweredSeries {
  readonly key: Readonly<Record<string, string>>;
  readonly buckets: readonly AnsweredBucket[];
}

export interface Provenance {
  readonly batchVersion: string;
  readonly cutoff: string;
  readonly cutoffMs: number;
  readonly computedAt: string;
}

/** `GET /views/{view}`'s answer, as far as the page reads it. */
export interface ViewAnswer {
  readonly view: string;
  readonly granularity: Granularity;
  readonly from: string;
  readonly to: string;
  readonly provenance: Provenance | null;
  readonly realtimeGeneration?: number;
  readonly accuracy?: Readonly<
    Record<string, { standardError?: number; relativeError?: number | null; range?: readonly [number, number] }>
  >;
  readonly series: readonly AnsweredSeries[];
}

/** A measure's kind (count, sum, avg, histogram, ...), from measureDetails or the `kind(field)` definition. */
export function kindOf(view: ListedView, name: string): string {
  return view.measureDetails?.[name]?.kind ?? String(view.measureDefinitions?.[name] ?? name).split('(')[0];
}

/** The view's count measure (whatever it is named): where a bucket's events were counted is read from it. */
export function countMeasure(view: ListedView): string {
  return view.measures.find((name) => view.measureDefinitions?.[name] === 'count') ?? view.measures[0];
}

/** `name = definition` when they differ (`requests = count`), else the name. */
export function measureLabel(view: ListedView, name: string): string {
  const definition = view.measureDefinitions?.[name];
  return definition === undefined || definition === name ? name : `${name} = ${definition}`;
}

export function columnsOf(view: ListedView): Column[] {
  return view.measures.flatMap((name): Column[] =>
    kindOf(view, name) === 'histogram'
      ? QUANTILES.map((q) => ({
          id: `${name}@${q}`,
          name,
          quantile: String(q),
          label: `${name} p${Number((q * 100).toPrecision(6))}`,
        }))
      : [{ id: name, name, label: name }],
  );
}

export function columnById(view: ListedView, id: string): Column {
  const columns = columnsOf(view);
  return columns.find((column) => column.id === id) ?? columns[0];
}

/** Whether the view has a histogram, whose quantiles must be asked for. */
export const hasHistogram = (view: ListedView): boolean =>
  view.measures.some((name) => kindOf(view, name) === 'histogram');

/** The measures a top-N can rank keys by: every one but a histogram, which has no single number. */
export const rankableMeasures = (view: ListedView): string[] =>
  view.measures.filter((name) => kindOf(view, name) !== 'histogram');

/** A column's number in a bucket (or one of its parts); null when there is none. */
export function valueOf(measures: Measures | AnsweredBucket | undefined, column: Column): number | null {
  const value = (measures as Measures | undefined)?.[column.name];
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') return value;
  return column.quantile === undefined ? null : (value[column.quantile]?.estimate ?? null);
}

/** The bin that holds a quantile's true value, for its cell's tooltip: `in (lower, upper]`. */
export function boundsOf(bucket: AnsweredBucket, column: Column): string {
  const value = bucket[column.name] as MeasureValue | undefined;
  if (column.quantile === undefined || value === null || value === undefined || typeof value === 'number') return '';
  const estimate = value[column.quantile];
  return estimate === undefined ? '' : `in (${estimate.lower ?? '−∞'}, ${estimate.upper ?? '∞'}]`;
}

/** What the answer says of its sketches' accuracy, in words. */
export function accuracyText(accuracy: ViewAnswer['accuracy']): string {
  return Object.entries(accuracy ?? {})
    .map(([name, figures]) =>
      figures.standardError !== undefined
        ? `${name}: standard error ${(figures.standardError * 100).toPrecision(2)}%`
        : `${name}: quantiles within ${
            figures.relativeError === null || figures.relativeError === undefined
              ? '(no bound)'
              : `${(figures.relativeError * 100).toPrecision(2)}%`
          } between ${figures.range?.[0]} and ${figures.range?.[1]}`,
    )
    .join('; ');
}

/** The view's baseline with the field it learns, or undefined. */
export function baselineOf(view: ListedView | undefined): (ListedBaseline & { field: string }) | undefined {
  const baseline = view?.baseline;
  if (baseline === undefined || baseline === null) return undefined;
  const field = baseline.field ?? baseline.measure;
  return typeof field === 'string' ? { ...baseline, field } : undefined;
}

/** The view's avg of a field, when it has one: the series a baseline's band is read against. */
export function averageOf(view: ListedView, field: string): Column | undefined {
  const name = view.measures.find((measure) => view.measureDefinitions?.[measure] === `avg(${field})`);
  return name === undefined ? undefined : { id: name, name, label: name };
}

/** A key in words: `site=s-1 metric=temperature`, or `all keys` for the merge of every key. */
export const keyText = (key: Readonly<Record<string, string>> | undefined): string =>
  Object.entries(key ?? {})
    .map(([field, value]) => `${field}=${value}`)
    .join(' ') || 'all keys';
