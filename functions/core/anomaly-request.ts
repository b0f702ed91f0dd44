import type { AnomalyQuery } from './anomaly';
import type { BaselineDefinition } from './baseline';
import { MIN_EVENT_TIME_MS } from './event-limits';
import {
  DEFAULT_RANGE_MS,
  dimensionValuesOf,
  parseCount,
  parseTime,
  quote,
  readParameters,
  unknownParameters,
} from './query-request';
import type { ViewDefinition } from './view-declaration';

/** The anomalies a page of GET /views/{view}/anomalies holds when `limit` is not given. */
export const DEFAULT_ANOMALY_LIMIT = 100;
/** The largest `limit` of a page of anomalies: one DynamoDB Query page of them is well under 1 MB. */
export const MAX_ANOMALY_LIMIT = 1000;

/** A view that declares a baseline: the only views with anomalies and forecasts. */
type WithBaseline = ViewDefinition & { readonly baseline: BaselineDefinition };

/** A validated `GET /views/{view}/anomalies`: the view and what to read of its anomalies. */
export interface AnomalyListing {
  readonly view: WithBaseline;
  readonly query: AnomalyQuery;
}

export type AnomalyListingParseResult =
  { ok: true; listing: AnomalyListing } | { ok: false; status: 400; errors: string[] };

const ANOMALY_PARAMETERS: readonly string[] = ['from', 'to', 'limit', 'next'];

/**
 * Why a view that declares no baseline has no anomalies or forecast to answer, naming the views that have them:
 * anomalies are scored against a baseline (DESIGN.md §12), so without one there is nothing to ask for.
 */
export function noBaselineProblem(view: ViewDefinition, views: readonly ViewDefinition[]): string {
  const withBaseline = views.filter((other) => other.baseline !== undefined).map((other) => other.name);
  return (
    `view: view ${view.name} declares no baseline ` +
    `(views with one: ${withBaseline.length === 0 ? 'none' : withBaseline.join(', ')})`
  );
}

/**
 * Parses `GET /views/{view}/anomalies` parameters: one value per dimension given (each narrows the list; none: every
 * key), from and to as the view query takes them (default: the day before now), limit and next. Errors name the
 * parameter.
 */
export function parseAnomalyListing(
  view: WithBaseline,
  parameters: Readonly<Record<string, readonly string[] | undefined>>,
  nowMs: number,
): AnomalyListingParseResult {
  const { given, errors, single } = readParameters(parameters);
  unknownParameters(view, given, ANOMALY_PARAMETERS, errors);
  const dimensions = singleValues(view, dimensionValuesOf(view, given, errors), 'an anomaly is of one key', errors);
  const limit = parseCount('limit', single('limit'), DEFAULT_ANOMALY_LIMIT, MAX_ANOMALY_LIMIT, errors);
  const next = single('next');
  if (next === '') errors.push('next: expected the `next` of the previous page as it was given, got ""');
  const toMs = parseTime('to', single('to'), nowMs, errors);
  const fromMs = parseTime('from', single('from'), Math.max(MIN_EVENT_TIME_MS, toMs - DEFAULT_RANGE_MS), errors);
  if (errors.length > 0 || limit === undefined) return { ok: false, status: 400, errors };
  if (fromMs >= toMs) {
    return {
      ok: false,
      status: 400,
      errors: [`from: must be before to (from ${iso(fromMs)}, to ${iso(toMs)})`],
    };
  }
  return {
    ok: true,
    listing: {
      view,
      query: { fromMs, toMs, dimensions, limit, ...(next === undefined ? {} : { after: next }) },
    },
  };
}

/**
 * The dimensions given, field → value, each with one value: an anomaly belongs to one key, so a list of values (as
 * the view query's comma-separated ones) is refused rather than read as one value with commas in it.
 */
export function singleValues(
  view: ViewDefinition,
  valuesPerDimension: readonly (readonly string[])[],
  why: string,
  errors: string[],
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [index, field] of view.dimensions.entries()) {
    const given = valuesPerDimension[index] ?? [];
    if (given.length > 1) {
      errors.push(`${field}: expected one value (${why}), got ${given.length}: ${given.map(quote).join(', ')}`);
    } else if (given.length === 1) {
      values[field] = given[0];
    }
  }
  return values;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
