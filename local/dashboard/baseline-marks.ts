import { formatValue } from './number-format';
import {
  averageOf,
  GRANULARITY_MS,
  valueOf,
  type AnsweredBucket,
  type Column,
  type ListedBaseline,
  type ListedView,
  type ViewAnswer,
} from './view-catalogue';

/** A bucket of `GET /views/{view}/forecast`: the band of a ready slot, or why a cold one has none. */
export interface ForecastBucket {
  readonly start: string;
  readonly startMs: number;
  readonly slot: string;
  readonly status: 'ready' | 'cold';
  readonly expected: number | null;
  readonly lower: number | null;
  readonly upper: number | null;
  readonly events: number;
  readonly reason?: string;
}

/** An anomaly of `GET /views/{view}/anomalies`, as far as the page reads it. */
export interface ListedAnomaly {
  readonly id: string;
  readonly key: Readonly<Record<string, string>>;
  readonly time: string;
  readonly timeMs: number;
  readonly field: string;
  readonly value: number;
  readonly score: number;
  readonly direction: string;
  readonly threshold: number;
  readonly baseline?: {
    readonly slot?: string;
    readonly expected?: number;
    readonly lower?: number;
    readonly upper?: number;
    readonly events?: number;
  };
}

/** What the page fetched of a view's baseline for the chart's range: anomalies, and a key's forecast. */
export interface BaselineOverlay {
  readonly view: string;
  readonly baseline: ListedBaseline & { field: string };
  /** Every dimension's value, when each is given (one key): only then is there a band. */
  readonly key: Readonly<Record<string, string>> | undefined;
  forecast: { readonly buckets: readonly ForecastBucket[] } | undefined;
  anomalies: readonly ListedAnomaly[];
  /** The requests that failed, and why: their part is left out, the buckets still show. */
  readonly problems: string[];
}

/** What of the baseline goes on the chart, and the note under it. */
export interface BaselineMarks {
  readonly field: string;
  /** The ready buckets of the range, each with its band and expected value. */
  readonly band: readonly (ForecastBucket & { expected: number; lower: number; upper: number })[];
  /** The avg of the baseline's field, which the band is read against (undefined: the view has none). */
  readonly average: Column | undefined;
  readonly anomalies: readonly ListedAnomaly[];
  /** Why there is no band, or which part failed; empty when all is drawn. */
  readonly note: string;
}

/**
 * The baseline's marks for a chart of one key: the ready forecast buckets in the answer's range (when the chart is
 * in the view's own buckets: a band is a bucket's), the anomalies in the range, and the note saying why a part is
 * missing. Without a full key the note asks for one and nothing is marked.
 */
export function baselineMarks(
  view: ListedView,
  answer: Pick<ViewAnswer, 'from' | 'to' | 'granularity'>,
  overlay: BaselineOverlay | undefined,
): BaselineMarks | undefined {
  if (overlay === undefined || overlay.view !== view.name) return undefined;
  const { baseline } = overlay;
  const notes = [...overlay.problems];
  const average = averageOf(view, baseline.field);
  if (overlay.key === undefined) {
    notes.unshift(
      `give every dimension (${view.dimensions.join(', ')}) a value to draw the ${baseline.field} baseline's ` +
        'band and mark its anomalies on the chart',
    );
    return { field: baseline.field, band: [], average, anomalies: [], note: notes.join('; ') };
  }
  const from = Date.parse(answer.from);
  const to = Date.parse(answer.to);
  const size = GRANULARITY_MS[view.granularity];
  const inRange = (overlay.forecast?.buckets ?? []).filter((b) => b.startMs + size > from && b.startMs < to);
  const sameBuckets = answer.granularity === view.granularity;
  const band = sameBuckets
    ? inRange.flatMap((b) =>
        b.status === 'ready' && b.expected !== null && b.lower !== null && b.upper !== null
          ? [{ ...b, expected: b.expected, lower: b.lower, upper: b.upper }]
          : [],
      )
    : [];
  const cold = inRange.find((b) => b.status === 'cold');
  if (!sameBuckets && inRange.length > 0) notes.unshift(`the band is drawn in the view's ${view.granularity}s`);
  else if (cold !== undefined) notes.unshift(`no baseline yet: ${cold.reason ?? `${cold.slot} is cold`}`);
  const anomalies = overlay.anomalies.filter((a) => a.timeMs >= from && a.timeMs < to);
  return { field: baseline.field, band, average, anomalies, note: notes.join('; ') };
}

/** An anomaly in words, for its dot's tooltip and its row in the list. */
export function anomalyText(anomaly: ListedAnomaly): string {
  const b = anomaly.baseline ?? {};
  return (
    `${anomaly.time}: ${anomaly.field} ${formatValue(anomaly.value)}, score ${formatValue(anomaly.score)} ` +
    `(${anomaly.direction}, threshold ${anomaly.threshold}); expected ${formatValue(b.expected)}, band ` +
    `${formatValue(b.lower)} – ${formatValue(b.upper)} at slot ${b.slot} (${b.events} readings)`
  );
}

/** A ready bucket's band in words, for its tooltip. */
export function bandText(b: BaselineMarks['band'][number]): string {
  return (
    `${b.start} (${b.slot}): expected ${formatValue(b.expected)}, band ${formatValue(b.lower)} – ` +
    `${formatValue(b.upper)} from ${b.events} readings`
  );
}

/** The avg series of the baseline's field in the chart's buckets: what the band is read against. */
export function averagePoints(
  buckets: readonly AnsweredBucket[],
  average: Column,
): { startMs: number; value: number }[] {
  return buckets.flatMap((b) => {
    const value = valueOf(b, average);
    return value === null ? [] : [{ startMs: b.startMs, value }];
  });
}
