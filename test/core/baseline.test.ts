import fc from 'fast-check';
import {
  bandOf,
  BASELINE_DEFAULTS,
  forecast,
  readingsBySlot,
  scoreReading,
  slotBaseline,
  slotLabel,
  slotOf,
  trainingWindow,
  type BaselineDefinition,
  type Seasonality,
  type SlotReadings,
} from '../../functions/core/baseline';
import { measuresWith, type Measures } from '../../functions/core/measures';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Monday 2026-11-23 00:00 UTC. */
const MONDAY = Date.UTC(2026, 10, 23);

type BaselineView = ViewDefinition & { readonly baseline: BaselineDefinition };

function viewWith(seasonality: Seasonality, trainingWindowDays = 7, minEvents = 3): BaselineView {
  const [view] = defineViews([
    {
      name: `by_site_${seasonality.toLowerCase()}`,
      dimensions: ['site'],
      granularity: 'hour',
      baseline: { measure: 'value', seasonality, trainingWindowDays, minEvents },
    },
  ]);
  return view as BaselineView;
}

/** A bucket's measures holding `values`, under the baseline's sum and sum-of-squares attributes. */
function bucketOf(baseline: BaselineDefinition, bucket: number, values: readonly number[]) {
  const measures: Measures = measuresWith({
    count: values.length,
    sum: { [baseline.sumAttribute]: values.reduce((total, value) => total + value, 0) },
    sumSquares: { [baseline.sumSquaresAttribute]: values.reduce((total, value) => total + value * value, 0) },
  });
  return { bucket, measures };
}

/** The slot by the calendar (Date's UTC weekday and hour): an oracle written without slotOf's arithmetic. */
function calendarSlot(timeMs: number, seasonality: Seasonality): number {
  const date = new Date(timeMs);
  if (seasonality === 'none') return 0;
  if (seasonality === 'hourOfDay') return date.getUTCHours();
  return ((date.getUTCDay() + 6) % 7) * 24 + date.getUTCHours();
}

/** Any time Date can represent to the millisecond, negative ones included. */
const timeArbitrary = fc.integer({ min: -8.64e15, max: 8.64e15 });

describe('season slots', () => {
  it('hourOfWeek counts from Monday 00:00 UTC (slot 0) to Sunday 23:00 UTC (slot 167)', () => {
    expect(slotOf(MONDAY, 'hourOfWeek')).toBe(0);
    expect(slotOf(MONDAY + HOUR_MS - 1, 'hourOfWeek')).toBe(0);
    expect(slotOf(MONDAY + HOUR_MS, 'hourOfWeek')).toBe(1);
    expect(slotOf(MONDAY - 1, 'hourOfWeek')).toBe(167);
    expect(slotOf(MONDAY + 7 * DAY_MS, 'hourOfWeek')).toBe(0);
    expect(slotOf(MONDAY + 2 * DAY_MS + 14 * HOUR_MS + 59 * 60_000, 'hourOfWeek')).toBe(2 * 24 + 14);
  });

  it('the epoch (a Thursday) and times before it get their calendar slot', () => {
    expect(slotOf(0, 'hourOfWeek')).toBe(3 * 24);
    expect(slotOf(0, 'hourOfDay')).toBe(0);
    // 1969-12-31T23:59:59.999Z, a Wednesday.
    expect(slotOf(-1, 'hourOfWeek')).toBe(2 * 24 + 23);
    expect(slotOf(-1, 'hourOfDay')).toBe(23);
    // 1969-12-29T00:00:00.000Z, a Monday.
    expect(slotOf(-3 * DAY_MS, 'hourOfWeek')).toBe(0);
    expect(slotOf(-3 * DAY_MS - 1, 'hourOfWeek')).toBe(167);
  });

  it.each(['hourOfWeek', 'hourOfDay', 'none'] as const)(
    '%s: the slot of any time, to the millisecond and before 1970, is its calendar slot',
    (seasonality) => {
      fc.assert(
        fc.property(timeArbitrary, (timeMs) => {
          expect(slotOf(timeMs, seasonality)).toBe(calendarSlot(timeMs, seasonality));
        }),
        { numRuns: 2_000, seed: 17 },
      );
    },
  );

  it('every time of a bucket has the bucket start’s slot, and the slots of a week are each hit once', () => {
    const seen = new Set<number>();
    for (let hour = 0; hour < 168; hour += 1) {
      const bucket = MONDAY + hour * HOUR_MS;
      seen.add(slotOf(bucket, 'hourOfWeek'));
      expect(slotOf(bucket + HOUR_MS - 1, 'hourOfWeek')).toBe(slotOf(bucket, 'hourOfWeek'));
      expect(slotOf(bucket, 'hourOfDay')).toBe(hour % 24);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 168 }, (_, slot) => slot));
  });

  it('labels say the UTC hour, with the weekday for hourOfWeek', () => {
    expect(slotLabel(0, 'hourOfWeek')).toBe('Mon 00:00 UTC');
    expect(slotLabel(2 * 24 + 14, 'hourOfWeek')).toBe('Wed 14:00 UTC');
    expect(slotLabel(167, 'hourOfWeek')).toBe('Sun 23:00 UTC');
    expect(slotLabel(7, 'hourOfDay')).toBe('07:00 UTC');
    expect(slotLabel(23, 'hourOfDay')).toBe('23:00 UTC');
    expect(slotLabel(0, 'none')).toBe('every bucket');
  });
});

describe('training windows', () => {
  const view = viewWith('hourOfDay', 7);

  it('ends where the reading’s bucket starts, and spans trainingWindowDays before it', () => {
    const at = MONDAY + 10 * HOUR_MS + 1_234;
    expect(trainingWindow(view, at)).toEqual({
      reference: MONDAY + 10 * HOUR_MS,
      from: MONDAY + 10 * HOUR_MS - 7 * DAY_MS,
      to: MONDAY + 10 * HOUR_MS,
      firstBucket: MONDAY + 10 * HOUR_MS - 7 * DAY_MS,
      lastBucket: MONDAY + 9 * HOUR_MS,
    });
  });

  it('a reading at a bucket’s first or last millisecond gets that bucket’s window', () => {
    const start = MONDAY + 5 * HOUR_MS;
    expect(trainingWindow(view, start)).toEqual(trainingWindow(view, start + HOUR_MS - 1));
    expect(trainingWindow(view, start + HOUR_MS).reference).toBe(start + HOUR_MS);
    expect(trainingWindow(view, start - 1).reference).toBe(start - HOUR_MS);
  });

  it('before 1970 the window is still aligned to the reading’s bucket', () => {
    expect(trainingWindow(view, -1)).toMatchObject({ reference: -HOUR_MS, to: -HOUR_MS, lastBucket: -2 * HOUR_MS });
  });

  it('holds exactly trainingWindowDays × 24 hour buckets, from firstBucket to lastBucket inclusive', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 90 }), timeArbitrary, (days, at) => {
        const window = trainingWindow({ granularity: 'hour', baseline: { trainingWindowDays: days } }, at);
        expect((window.lastBucket - window.firstBucket) / HOUR_MS + 1).toBe(days * 24);
        expect(window.reference).toBeLessThanOrEqual(at);
        expect(at - window.reference).toBeLessThan(HOUR_MS);
      }),
      { numRuns: 500, seed: 18 },
    );
  });

  it('on a day view, the last bucket is the day before the reading’s', () => {
    const window = trainingWindow({ granularity: 'day', baseline: { trainingWindowDays: 3 } }, MONDAY + 5 * HOUR_MS);
    expect(window).toEqual({
      reference: MONDAY,
      from: MONDAY - 3 * DAY_MS,
      to: MONDAY,
      firstBucket: MONDAY - 3 * DAY_MS,
      lastBucket: MONDAY - DAY_MS,
    });
  });
});

describe('readings by slot', () => {
  const view = viewWith('hourOfDay', 7);
  const { baseline } = view;
  const window = trainingWindow(view, MONDAY);

  it('sums count, sum and sum of squares per slot over the buckets starting in [from, to)', () => {
    const slots = readingsBySlot(baseline, window, [
      bucketOf(baseline, window.from - HOUR_MS, [100]), // before the window
      bucketOf(baseline, window.from, [1, 2]), // first bucket, slot 0
      bucketOf(baseline, window.from + DAY_MS, [3]), // slot 0 again, a day later
      bucketOf(baseline, window.from + 5 * HOUR_MS, [-4]), // slot 5
      bucketOf(baseline, window.lastBucket, [10]), // last bucket, slot 23
      bucketOf(baseline, window.to, [1_000]), // the reading's own bucket
    ]);
    expect(slots).toEqual(
      new Map([
        [0, { events: 3, sum: 6, sumSquares: 14 }],
        [5, { events: 1, sum: -4, sumSquares: 16 }],
        [23, { events: 1, sum: 10, sumSquares: 100 }],
      ]),
    );
  });

  it('skips empty buckets, and reads a missing attribute as 0', () => {
    const slots = readingsBySlot(baseline, window, [
      { bucket: window.from, measures: measuresWith({ count: 0 }) },
      { bucket: window.from + HOUR_MS, measures: measuresWith({ count: 2 }) },
    ]);
    expect(slots).toEqual(new Map([[1, { events: 2, sum: 0, sumSquares: 0 }]]));
  });

  it.each(['hourOfWeek', 'hourOfDay', 'none'] as const)(
    '%s: equals brute force over the readings of the buckets, by their calendar slot',
    (seasonality) => {
      const seasonal = viewWith(seasonality, 7).baseline;
      const readingArbitrary = fc.record({
        hour: fc.integer({ min: -24, max: 9 * 24 }),
        values: fc.array(
          fc.integer({ min: -4_000, max: 4_000 }).map((quarters) => quarters / 4),
          { minLength: 0, maxLength: 4 },
        ),
      });
      fc.assert(
        // Windows and the day around them stay where Date (the oracle) can represent them.
        fc.property(
          fc.array(readingArbitrary, { maxLength: 60 }),
          fc.integer({ min: -8.6e15, max: 8.6e15 }),
          (readings, at) => {
            const reference = Math.floor(at / HOUR_MS) * HOUR_MS;
            const own = trainingWindow({ granularity: 'hour', baseline: seasonal }, at);
            const buckets = readings.map(({ hour, values }) =>
              bucketOf(seasonal, own.from - 24 * HOUR_MS + hour * HOUR_MS, values),
            );
            const expected = new Map<number, SlotReadings>();
            for (const { bucket, measures } of buckets) {
              if (bucket < reference - 7 * DAY_MS || bucket >= reference || measures.count === 0) continue;
              const slot = calendarSlot(bucket, seasonality);
              const current = expected.get(slot) ?? { events: 0, sum: 0, sumSquares: 0 };
              expected.set(slot, {
                events: current.events + measures.count,
                sum: current.sum + (measures.sum[seasonal.sumAttribute] ?? 0),
                sumSquares: current.sumSquares + (measures.sumSquares[seasonal.sumSquaresAttribute] ?? 0),
              });
            }
            expect(readingsBySlot(seasonal, own, buckets)).toEqual(expected);
          },
        ),
        { numRuns: 300, seed: 19 },
      );
    },
  );
});

describe('slot baselines', () => {
  const { baseline } = viewWith('hourOfDay', 7, 4);
  const window = { from: MONDAY - 7 * DAY_MS, to: MONDAY };
  const readingsOf = (values: readonly number[]): SlotReadings => ({
    events: values.length,
    sum: values.reduce((total, value) => total + value, 0),
    sumSquares: values.reduce((total, value) => total + value * value, 0),
  });

  it('is ready once the slot has minEvents readings, with their mean and sample standard deviation', () => {
    expect(slotBaseline(baseline, window, 9, readingsOf([1, 2, 3, 4]))).toEqual({
      slot: 9,
      slotLabel: '09:00 UTC',
      events: 4,
      window,
      status: 'ready',
      mean: 2.5,
      stddev: Math.sqrt(5 / 3),
    });
  });

  it('is cold with no readings, and says how many it has and needs', () => {
    expect(slotBaseline(baseline, window, 9, undefined)).toEqual({
      slot: 9,
      slotLabel: '09:00 UTC',
      events: 0,
      window,
      status: 'cold',
      mean: null,
      stddev: null,
      reason:
        '0 value readings at 09:00 UTC in the 7-day training window ending 2026-11-23T00:00:00.000Z; ' +
        'scoring needs 4',
    });
  });

  it('is cold below minEvents, with the mean (and the spread once there are two) it has so far', () => {
    const one = slotBaseline(baseline, window, 9, readingsOf([5]));
    expect(one).toMatchObject({ status: 'cold', events: 1, mean: 5, stddev: null });
    expect(one.status === 'cold' && one.reason).toMatch(/^1 value reading at 09:00 UTC .*scoring needs 4$/);
    const three = slotBaseline(baseline, window, 9, readingsOf([1, 2, 3]));
    expect(three).toMatchObject({ status: 'cold', events: 3, mean: 2, stddev: 1 });
    expect(three.status === 'cold' && three.reason).toMatch(/^3 value readings at 09:00 UTC/);
  });

  it('is cold when the readings never varied, however many there are', () => {
    const flat = slotBaseline(baseline, window, 9, readingsOf([7, 7, 7, 7, 7, 7]));
    expect(flat).toMatchObject({ status: 'cold', events: 6, mean: 7, stddev: 0 });
    expect(flat.status === 'cold' && flat.reason).toBe(
      'the value readings at 09:00 UTC never varied in the training window: a score needs a spread',
    );
  });

  it('a variance that rounding makes negative is no spread, not NaN', () => {
    const value = 0.1;
    const rounded = { events: 3, sum: 3 * value, sumSquares: 3 * value * value - 1e-18 };
    const served = slotBaseline(baseline, window, 9, rounded);
    expect(served).toMatchObject({ status: 'cold', stddev: 0 });
  });

  it('readings that never varied are cold whatever the rounding of their sums, and a small real spread is ready', () => {
    // Summed one by one as the speed layer does: Σx² − Σx·mean then leaves a few ulps instead of 0.
    const summed = (values: readonly number[]): SlotReadings => {
      let [sum, sumSquares] = [0, 0];
      for (const value of values) {
        sum += value;
        sumSquares += value * value;
      }
      return { events: values.length, sum, sumSquares };
    };
    for (const value of [0.1, 3.7, 20.3, 99.99, 1e6 + 0.1]) {
      for (const count of [4, 30, 300, 3_000]) {
        const served = slotBaseline(baseline, window, 9, summed(Array.from({ length: count }, () => value)));
        expect({ value, count, status: served.status, stddev: served.stddev }).toEqual({
          value,
          count,
          status: 'cold',
          stddev: 0,
        });
      }
    }
    const alternating = (mean: number, spread: number) =>
      summed(Array.from({ length: 3_000 }, (_, index) => mean + (index % 2 === 0 ? spread : -spread)));
    const small = slotBaseline(baseline, window, 9, alternating(20, 0.01));
    expect(small.status).toBe('ready');
    expect(small.stddev).toBeCloseTo(0.01 * Math.sqrt(3_000 / 2_999), 8);
    expect(slotBaseline(baseline, window, 9, alternating(1e6, 2)).status).toBe('ready');
  });

  it('defaults: 30 readings, threshold 4, 28 days, hourOfDay', () => {
    expect(BASELINE_DEFAULTS).toEqual({
      seasonality: 'hourOfDay',
      trainingWindowDays: 28,
      threshold: 4,
      minEvents: 30,
    });
  });
});

describe('scores and bands', () => {
  const threshold = { threshold: 4 };
  const ready = { mean: 10, stddev: 2 };

  it('a reading exactly threshold standard deviations away is an anomaly, either side', () => {
    expect(scoreReading(threshold, ready, 18)).toEqual({ score: 4, anomalous: true });
    expect(scoreReading(threshold, ready, 2)).toEqual({ score: -4, anomalous: true });
  });

  it('a reading just inside the band is not', () => {
    expect(scoreReading(threshold, ready, 17.999)).toMatchObject({ anomalous: false });
    expect(scoreReading(threshold, ready, 2.001)).toMatchObject({ anomalous: false });
    expect(scoreReading(threshold, ready, 10)).toEqual({ score: 0, anomalous: false });
  });

  it('the band is mean ± threshold × stddev, and its ends score ±threshold', () => {
    const band = bandOf(threshold, ready);
    expect(band).toEqual({ lower: 2, upper: 18 });
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        fc.double({ min: 0.5, max: 10, noNaN: true }),
        (mean, stddev, limit) => {
          const { lower, upper } = bandOf({ threshold: limit }, { mean, stddev });
          const inside = (value: number) => !scoreReading({ threshold: limit }, { mean, stddev }, value).anomalous;
          const middle = (lower + upper) / 2;
          expect(inside(middle)).toBe(true);
          expect(inside(upper + Math.abs(upper) * 1e-9 + stddev * 1e-6)).toBe(false);
          expect(inside(lower - Math.abs(lower) * 1e-9 - stddev * 1e-6)).toBe(false);
        },
      ),
      { numRuns: 500, seed: 20 },
    );
  });
});

describe('forecasts', () => {
  it('one bucket per hour of the horizon from the one `from` falls in, each its slot’s baseline over one window', () => {
    const view = viewWith('hourOfDay', 2, 2);
    const { baseline } = view;
    const from = MONDAY + 22 * HOUR_MS + 30 * 60_000;
    const window = trainingWindow(view, from);
    // Slot 22: 2 readings (ready); slot 23: 1 reading (cold); slot 0: 2 readings equal (no spread); slot 1: none.
    const buckets = [
      bucketOf(baseline, MONDAY - 2 * HOUR_MS, [10]),
      bucketOf(baseline, MONDAY - 2 * HOUR_MS - DAY_MS, [14]),
      bucketOf(baseline, MONDAY - HOUR_MS, [3]),
      bucketOf(baseline, MONDAY, [5]),
      bucketOf(baseline, MONDAY - DAY_MS, [5]),
      // In the reference bucket itself: not part of the window.
      bucketOf(baseline, window.reference, [1_000, 2_000]),
    ];
    const forecasted = forecast(view, buckets, from, 4);
    expect(forecasted.map((bucket) => bucket.bucket)).toEqual([0, 1, 2, 3].map((n) => window.reference + n * HOUR_MS));
    expect(forecasted.map((bucket) => bucket.baseline.slot)).toEqual([22, 23, 0, 1]);
    expect(forecasted.map((bucket) => bucket.baseline.window)).toEqual(
      forecasted.map(() => ({ from: window.from, to: window.to })),
    );
    const stddev = Math.sqrt(8);
    expect(forecasted[0]).toMatchObject({
      expected: 12,
      lower: 12 - 4 * stddev,
      upper: 12 + 4 * stddev,
      baseline: { status: 'ready', mean: 12, stddev, events: 2 },
    });
    expect(forecasted.slice(1).map((bucket) => [bucket.expected, bucket.lower, bucket.upper])).toEqual([
      [null, null, null],
      [null, null, null],
      [null, null, null],
    ]);
    expect(forecasted.slice(1).map((bucket) => [bucket.baseline.status, bucket.baseline.events])).toEqual([
      ['cold', 1],
      ['cold', 2],
      ['cold', 0],
    ]);
  });

  it('hourOfWeek: a day-and-more horizon walks the week’s slots past Sunday 23:00 back to Monday 00:00', () => {
    const view = viewWith('hourOfWeek', 7, 2);
    const from = MONDAY - 2 * HOUR_MS;
    const forecasted = forecast(view, [], from, 26);
    expect(forecasted).toHaveLength(26);
    expect(forecasted.map((bucket) => bucket.baseline.slot)).toEqual([
      166,
      167,
      ...Array.from({ length: 24 }, (_, hour) => hour),
    ]);
    expect(forecasted.every((bucket) => bucket.baseline.status === 'cold' && bucket.expected === null)).toBe(true);
  });

  it('none: every bucket of the horizon has the same baseline, over all the window’s readings', () => {
    const view = viewWith('none', 1, 2);
    const { baseline } = view;
    const buckets = [bucketOf(baseline, MONDAY - 3 * HOUR_MS, [1, 3]), bucketOf(baseline, MONDAY - HOUR_MS, [5])];
    const forecasted = forecast(view, buckets, MONDAY, 3);
    expect(forecasted.map((bucket) => [bucket.baseline.slot, bucket.expected, bucket.baseline.events])).toEqual([
      [0, 3, 3],
      [0, 3, 3],
      [0, 3, 3],
    ]);
    expect(forecasted[0].baseline).toMatchObject({ status: 'ready', stddev: 2, slotLabel: 'every bucket' });
  });
});
