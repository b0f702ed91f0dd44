import { singleValues } from './anomaly-request';
import { trainingWindow, type BaselineDefinition } from './baseline';
import { encodeDimensionKey } from './dimension-key';
import { parseCount, parseTime, readParameters, dimensionValuesOf, unknownParameters } from './query-request';
import type { ViewDefinition } from './view-declaration';

/** The buckets a forecast answers when `horizon` is not given: a day of hours. */
export const DEFAULT_FORECAST_HORIZON = 24;
/** The most buckets a forecast answers: a week of hours, one full cycle of the longest seasonality. */
export const MAX_FORECAST_HORIZON = 168;

/** A validated `GET /views/{view}/forecast`: one key, where to start, and how many buckets. */
export interface ForecastRequest {
  readonly view: ViewDefinition & { readonly baseline: BaselineDefinition };
  /** Every dimension of the view, with its value. */
  readonly key: Readonly<Record<string, string>>;
  readonly dimensionKey: string;
  /** The forecast starts with the bucket this time falls in; its training window ends where that bucket starts. */
  readonly fromMs: number;
  /** Buckets of the view's granularity. */
  readonly horizon: number;
}

export type ForecastParseResult = { ok: true; request: ForecastRequest } | { ok: false; status: 400; errors: string[] };

const DAY_MS = 86_400_000;
const FORECAST_PARAMETERS: readonly string[] = ['from', 'horizon'];

/**
 * Parses `GET /views/{view}/forecast` parameters: every dimension with one value (a forecast is of one key's
 * baseline), from (default now) as the view query takes times, and horizon. Errors name the parameter.
 */
export function parseForecastRequest(
  view: ViewDefinition & { readonly baseline: BaselineDefinition },
  parameters: Readonly<Record<string, readonly string[] | undefined>>,
  nowMs: number,
): ForecastParseResult {
  const { given, errors, single } = readParameters(parameters);
  unknownParameters(view, given, FORECAST_PARAMETERS, errors);
  const key = singleValues(view, dimensionValuesOf(view, given, errors), 'a forecast is of one key', errors);
  for (const field of view.dimensions) {
    if (!given.has(field)) {
      errors.push(
        `${field}: required: a forecast is of one key, so give every dimension of view ${view.name} ` +
          `(${view.dimensions.join(', ')})`,
      );
    }
  }
  const horizon = parseCount('horizon', single('horizon'), DEFAULT_FORECAST_HORIZON, MAX_FORECAST_HORIZON, errors);
  const fromMs = parseTime('from', single('from'), nowMs, errors);
  if (errors.length > 0 || horizon === undefined) return { ok: false, status: 400, errors };
  // Buckets past retention have expired: a window reaching further back than the window of a reading arriving now
  // (what the speed layer scores against) would answer a baseline short of readings.
  const window = trainingWindow(view, fromMs);
  const kept = view.retentionDays === null ? null : trainingWindow(view, nowMs).reference - view.retentionDays * DAY_MS;
  if (kept !== null && window.from < kept) {
    return {
      ok: false,
      status: 400,
      errors: [
        `from: the training window of a forecast from ${iso(fromMs)} starts ${iso(window.from)} ` +
          `(${view.baseline.trainingWindowDays} days before), past the retention of view ${view.name} ` +
          `(${view.retentionDays} days of ${view.granularity} buckets, from ${iso(kept)})`,
      ],
    };
  }
  return {
    ok: true,
    request: {
      view,
      key,
      dimensionKey: encodeDimensionKey(view.dimensions.map((field) => key[field] ?? '')),
      fromMs,
      horizon,
    },
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
