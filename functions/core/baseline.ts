import { bucketStart, GRANULARITY_MS, type Granularity } from './granularity';
import type { Measures } from './measures';

/**
 * Baselines (DESIGN.md §12): what a view's readings of one numeric field usually are, per key and season slot, over
 * a trailing training window, learned from the view's own buckets. A view with a baseline stores the field's sum and
 * sum of squares beside the count in every item, so the batch layer computes them from the master dataset (versioned
 * and flipped with the view's batch rows) and the speed layer adds the epochs since the cutoff; the served baseline
 * is the serving rule's answer over the window, rolled up by slot. There is no training job to schedule or to fall
 * behind: a baseline covers every record that has arrived, and adapts as data changes.
 */

/** How readings repeat: by hour of the week, by hour of the day (both UTC), or not at all. */
export const SEASONALITIES = ['hourOfWeek', 'hourOfDay', 'none'] as const;
export type Seasonality = (typeof SEASONALITIES)[number];

/** A baseline as a view declares it. */
export interface BaselineDeclaration {
  /** The numeric field whose readings are learned and scored, for example `value`. */
  readonly measure: string;
  /** @default 'hourOfDay' */
  readonly seasonality?: Seasonality;
  /** Days of buckets before the bucket scored that the baseline learns from. @default 28 */
  readonly trainingWindowDays?: number;
  /** A reading this many standard deviations or more from the slot's mean is an anomaly. @default 4 */
  readonly threshold?: number;
  /** Readings a slot needs in its window before it scores anything (cold start). @default 30 */
  readonly minEvents?: number;
}

/** A validated baseline with its defaults applied and the stored attributes it reads. */
export interface BaselineDefinition {
  readonly field: string;
  readonly seasonality: Seasonality;
  readonly trainingWindowDays: number;
  readonly threshold: number;
  readonly minEvents: number;
  /** The stored attribute holding the field's sum (a declared sum of the field's, when there is one). */
  readonly sumAttribute: string;
  /** The stored attribute holding the field's sum of squares. */
  readonly sumSquaresAttribute: string;
}

export const BASELINE_DEFAULTS = {
  seasonality: 'hourOfDay',
  trainingWindowDays: 28,
  threshold: 4,
  minEvents: 30,
} as const satisfies Omit<Required<BaselineDeclaration>, 'measure'>;

/**
 * The longest training window: a baseline reads every bucket of the window once per key when a consumer's cache
 * or a forecast asks for it, and 90 days of hours is 2,160 buckets (a few DynamoDB pages).
 */
export const MAX_TRAINING_WINDOW_DAYS = 90;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * The season slot of a bucket: its UTC hour of the week (0 = Monday 00:00), its UTC hour of the day, or 0. Time
 * zones are left out on purpose: a slot is then the same in every layer and every region, and a daylight-saving
 * change cannot merge or split one.
 */
export function slotOf(bucketMs: number, seasonality: Seasonality): number {
  if (seasonality === 'none') return 0;
  const hourOfDay = Math.floor((((bucketMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS);
  if (seasonality === 'hourOfDay') return hourOfDay;
  // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday.
  const weekday = (((Math.floor(bucketMs / DAY_MS) + 3) % 7) + 7) % 7;
  return weekday * 24 + hourOfDay;
}

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** The slot as people read it: `14:00 UTC`, `Tue 14:00 UTC`, or `every bucket`. */
export function slotLabel(slot: number, seasonality: Seasonality): string {
  if (seasonality === 'none') return 'every bucket';
  const hour = `${String(slot % 24).padStart(2, '0')}:00 UTC`;
  return seasonality === 'hourOfDay' ? hour : `${WEEKDAYS[Math.floor(slot / 24)]} ${hour}`;
}

/** The buckets a baseline learns from: those starting in [from, to), where `to` is the bucket scored. */
export interface TrainingWindow {
  /** The bucket scored or forecast from: the window ends where it starts. */
  readonly reference: number;
  readonly from: number;
  readonly to: number;
  /** The first and last bucket of the window (inclusive), as the stores' range reads take them. */
  readonly firstBucket: number;
  readonly lastBucket: number;
}

/**
 * The training window for a reading at `atMs`: the `trainingWindowDays` days before the start of its bucket. The
 * reading's own bucket is left out, so a burst cannot raise the bar it is measured against while it happens.
 */
export function trainingWindow(
  view: { readonly granularity: Granularity; readonly baseline: Pick<BaselineDefinition, 'trainingWindowDays'> },
  atMs: number,
): TrainingWindow {
  const reference = bucketStart(atMs, view.granularity);
  const from = reference - view.baseline.trainingWindowDays * DAY_MS;
  return {
    reference,
    from,
    to: reference,
    firstBucket: from,
    lastBucket: reference - GRANULARITY_MS[view.granularity],
  };
}

/** A slot's readings over a window: the monoid the view's items store (count, sum, sum of squares). */
export interface SlotReadings {
  readonly events: number;
  readonly sum: number;
  readonly sumSquares: number;
}

/** The readings per slot of the served buckets that start inside the window. */
export function readingsBySlot(
  baseline: BaselineDefinition,
  window: Pick<TrainingWindow, 'from' | 'to'>,
  buckets: Iterable<{ readonly bucket: number; readonly measures: Measures }>,
): Map<number, SlotReadings> {
  const slots = new Map<number, { events: number; sum: number; sumSquares: number }>();
  for (const { bucket, measures } of buckets) {
    if (bucket < window.from || bucket >= window.to || measures.count === 0) continue;
    const slot = slotOf(bucket, baseline.seasonality);
    let readings = slots.get(slot);
    if (readings === undefined) {
      readings = { events: 0, sum: 0, sumSquares: 0 };
      slots.set(slot, readings);
    }
    readings.events += measures.count;
    readings.sum += measures.sum[baseline.sumAttribute] ?? 0;
    readings.sumSquares += measures.sumSquares[baseline.sumSquaresAttribute] ?? 0;
  }
  return slots;
}

/** The baseline a reading is scored against: its slot's mean and spread over the window, or why there is none. */
export type SlotBaseline = {
  readonly slot: number;
  readonly slotLabel: string;
  readonly events: number;
  readonly window: { readonly from: number; readonly to: number };
} & (
  | { readonly status: 'ready'; readonly mean: number; readonly stddev: number }
  | { readonly status: 'cold'; readonly mean: number | null; readonly stddev: number | null; readonly reason: string }
);

/**
 * The baseline of one slot from its readings: the mean and the sample standard deviation (as SQL's stddev), ready
 * once the slot has `minEvents` readings that vary. Below that it is cold, and the reason says what is missing.
 */
export function slotBaseline(
  baseline: BaselineDefinition,
  window: Pick<TrainingWindow, 'from' | 'to'>,
  slot: number,
  readings: SlotReadings | undefined,
): SlotBaseline {
  const events = readings?.events ?? 0;
  const label = slotLabel(slot, baseline.seasonality);
  const common = { slot, slotLabel: label, events, window: { from: window.from, to: window.to } };
  const mean = events > 0 && readings !== undefined ? readings.sum / events : null;
  const variance =
    events > 1 && readings !== undefined && mean !== null
      ? spreadOf(readings.sumSquares - readings.sum * mean, readings.sumSquares, events)
      : null;
  const stddev = variance === null ? null : Math.sqrt(variance);
  if (events < baseline.minEvents) {
    return {
      ...common,
      status: 'cold',
      mean,
      stddev,
      reason:
        `${events} ${baseline.field} reading${events === 1 ? '' : 's'} at ${label} in the ` +
        `${baseline.trainingWindowDays}-day training window ending ${new Date(window.to).toISOString()}; ` +
        `scoring needs ${baseline.minEvents}`,
    };
  }
  if (stddev === null || stddev === 0 || mean === null) {
    return {
      ...common,
      status: 'cold',
      mean,
      stddev,
      reason: `the ${baseline.field} readings at ${label} never varied in the training window: a score needs a spread`,
    };
  }
  return { ...common, status: 'ready', mean, stddev };
}

/**
 * The sample variance from Σx² − Σx·mean, or 0 when that is within the rounding of the sums: readings that never
 * varied leave a residue of a few ulps of Σx² (its size depending on the order of addition, which differs between
 * the speed layer, the batch engine and a roll-up), and a spread made of rounding would score the next different
 * reading millions of standard deviations away, or not, depending on the batch cutoff.
 */
function spreadOf(deviations: number, sumSquares: number, events: number): number {
  // Adding n values rounds Σx² by at most about n ulps of it, and one value added n times can come within a
  // small factor of that bound.
  const rounding = events * Number.EPSILON * Math.abs(sumSquares);
  return deviations <= rounding ? 0 : deviations / (events - 1);
}

/** The band inside which a reading is not an anomaly: mean ± threshold × stddev. */
export function bandOf(baseline: Pick<BaselineDefinition, 'threshold'>, ready: { mean: number; stddev: number }) {
  return {
    lower: ready.mean - baseline.threshold * ready.stddev,
    upper: ready.mean + baseline.threshold * ready.stddev,
  };
}

/** A reading's z-score against a ready baseline, and whether it is an anomaly (|z| >= threshold). */
export function scoreReading(
  baseline: Pick<BaselineDefinition, 'threshold'>,
  ready: { mean: number; stddev: number },
  value: number,
): { score: number; anomalous: boolean } {
  const score = (value - ready.mean) / ready.stddev;
  return { score, anomalous: Math.abs(score) >= baseline.threshold };
}

/** One coming bucket of a forecast: the expected reading and the band, or why there is none. */
export interface ForecastBucket {
  readonly bucket: number;
  readonly baseline: SlotBaseline;
  readonly expected: number | null;
  readonly lower: number | null;
  readonly upper: number | null;
}

/**
 * The forecast of `horizon` buckets from the one `fromMs` falls in: per bucket, its slot's baseline over the one
 * window that ends where the forecast starts (everything known at `fromMs`), the expected reading (the mean) and
 * the band a reading may take without being an anomaly.
 */
export function forecast(
  view: { readonly granularity: Granularity; readonly baseline: BaselineDefinition },
  buckets: Iterable<{ readonly bucket: number; readonly measures: Measures }>,
  fromMs: number,
  horizon: number,
): ForecastBucket[] {
  const window = trainingWindow(view, fromMs);
  const slots = readingsBySlot(view.baseline, window, buckets);
  const size = GRANULARITY_MS[view.granularity];
  return Array.from({ length: horizon }, (_, index) => {
    const bucket = window.reference + index * size;
    const slot = slotOf(bucket, view.baseline.seasonality);
    const served = slotBaseline(view.baseline, window, slot, slots.get(slot));
    if (served.status !== 'ready') return { bucket, baseline: served, expected: null, lower: null, upper: null };
    return { bucket, baseline: served, expected: served.mean, ...bandOf(view.baseline, served) };
  });
}
