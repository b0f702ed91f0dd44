import fc from 'fast-check';
import {
  EMPTY_MEASURES,
  isEmptyMeasures,
  measuresOf,
  measuresWith,
  measureValue,
  mergeAllMeasures,
  mergeMeasures,
  presentMeasures,
  storedValue,
  type Measures,
} from '../../functions/core/measures';
import { measureAttributes, measuresFromAttributes } from '../../functions/core/aggregate-attributes';
import { defineEventSchema } from '../../functions/core/event-schema-definition';
import { estimateQuantile, mergeBins, singleValueBins, type BinCounts } from '../../functions/core/histogram';
import {
  estimateCardinality,
  EMPTY_REGISTERS,
  mergeRegisters,
  singleValueRegisters,
} from '../../functions/core/hyperloglog';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';
import { climate, reading } from '../support/climate-view';
import { valueArbitrary } from '../support/stream-arbitraries';

const [legacyView] = defineViews([{ name: 'v', dimensions: ['deviceId'], granularity: 'minute' }]);

const readingArbitrary = fc.tuple(valueArbitrary, valueArbitrary);
const measuresArbitrary: fc.Arbitrary<Measures> = fc
  .array(readingArbitrary, { maxLength: 8 })
  .map((readings) => mergeAllMeasures(readings.map(([t, h]) => reading(t, h))));

// 1,000 runs per law: each run draws up to 24 readings; the laws are about structure, not magnitude, and a
// violation (a lost min, a double-counted count, one attribute merged as another) shows up in the first few dozen.
const runs = { numRuns: 1000 };

describe('measures monoid', () => {
  it('merging is associative', () => {
    fc.assert(
      fc.property(measuresArbitrary, measuresArbitrary, measuresArbitrary, (a, b, c) => {
        expect(mergeMeasures(mergeMeasures(a, b), c)).toEqual(mergeMeasures(a, mergeMeasures(b, c)));
      }),
      runs,
    );
  });

  it('merging is commutative', () => {
    fc.assert(
      fc.property(measuresArbitrary, measuresArbitrary, (a, b) => {
        expect(mergeMeasures(a, b)).toEqual(mergeMeasures(b, a));
      }),
      runs,
    );
  });

  it('the empty aggregate is the identity on both sides', () => {
    fc.assert(
      fc.property(measuresArbitrary, (a) => {
        expect(mergeMeasures(a, EMPTY_MEASURES)).toEqual(a);
        expect(mergeMeasures(EMPTY_MEASURES, a)).toEqual(a);
      }),
      runs,
    );
  });

  it('an empty aggregate read back from attributes (count 0, no parts) is an identity too', () => {
    const empty = measuresFromAttributes(undefined, climate.stored);
    fc.assert(
      fc.property(measuresArbitrary, (a) => {
        expect(mergeMeasures(a, empty)).toEqual(mergeMeasures(EMPTY_MEASURES, a));
      }),
      { numRuns: 100 },
    );
  });

  it('merged readings hold, per stored attribute, the sum, min or max of its own field', () => {
    fc.assert(
      fc.property(fc.array(readingArbitrary, { minLength: 1, maxLength: 20 }), (readings) => {
        const merged = mergeAllMeasures(readings.map(([t, h]) => reading(t, h)));
        const temperatures = readings.map(([t]) => t);
        const humidities = readings.map(([, h]) => h);
        const total = (values: number[]) => values.reduce((x, y) => x + y, 0);
        expect(merged).toEqual(
          measuresWith({
            count: readings.length,
            sum: { humidity: total(humidities), meanTemperature: total(temperatures) },
            min: { coldest: Math.min(...temperatures), driest: Math.min(...humidities) },
            max: { hottest: Math.max(...temperatures), wettest: Math.max(...humidities) },
          }),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('stored attributes round-trip through item attributes', () => {
    fc.assert(
      fc.property(
        measuresArbitrary.filter((m) => !isEmptyMeasures(m)),
        (m) => {
          const attributes = measureAttributes(m, climate.stored);
          expect(Object.keys(attributes).sort()).toEqual(
            ['count', 'coldest', 'hottest', 'driest', 'wettest', 'humidity', 'meanTemperature'].sort(),
          );
          expect(measuresFromAttributes(attributes, climate.stored)).toEqual(m);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('measure values', () => {
  it('avg is sum over count, and undefined for an empty aggregate', () => {
    const avg = legacyView.measures.find((measure) => measure.kind === 'avg');
    expect(avg).toBeDefined();
    const three = mergeAllMeasures([1, 2, 6].map((value) => measuresOf(legacyView, { value })));
    expect(measureValue(three, avg!)).toBe(3);
    expect(measureValue(EMPTY_MEASURES, avg!)).toBeNull();
  });

  it('presents every measure of a view by its name, each from its own field', () => {
    const merged = mergeAllMeasures([reading(20, 40), reading(26, 60), reading(17, 50)]);
    expect(presentMeasures(climate, merged)).toEqual({
      readings: 3,
      coldest: 17,
      hottest: 26,
      driest: 40,
      wettest: 60,
      humidity: 150,
      meanHumidity: 50,
      meanTemperature: 21,
    });
    expect(presentMeasures(climate, EMPTY_MEASURES)).toBeNull();
  });

  it('presents the default single-field view as count, sum, min, max and avg', () => {
    const merged = mergeAllMeasures([4, -2, 10].map((value) => measuresOf(legacyView, { value })));
    expect(presentMeasures(legacyView, merged)).toEqual({ count: 3, sum: 12, min: -2, max: 10, avg: 4 });
  });

  it('reads an absent stored part as its identity', () => {
    expect(storedValue(EMPTY_MEASURES, { kind: 'sum', attribute: 'x' })).toBe(0);
    expect(storedValue(EMPTY_MEASURES, { kind: 'min', attribute: 'x' })).toBe(Infinity);
    expect(storedValue(EMPTY_MEASURES, { kind: 'max', attribute: 'x' })).toBe(-Infinity);
  });

  it('answers null, not an identity, for a measure none of the rows holds (declared after they were written)', () => {
    // Items written under a declaration without humidity: the count and temperature parts only.
    const before = measuresFromAttributes(
      { count: { N: '2' }, coldest: { N: '18' }, hottest: { N: '21' }, meanTemperature: { N: '39' } },
      climate.stored,
    );
    expect(presentMeasures(climate, before)).toEqual({
      readings: 2,
      coldest: 18,
      hottest: 21,
      driest: null,
      wettest: null,
      humidity: null,
      meanHumidity: null,
      meanTemperature: 19.5,
    });
  });
});

/**
 * A view with every kind of stored part over one schema: a distinct of a dimension at precision 4 (16 registers, so
 * that a few events fill the dense form) and of the id field at 12, a histogram, and a sum, a sum of squares, an avg,
 * a variance and a stddev sharing them.
 */
const sensorSchema = defineEventSchema({ dimensions: ['room', 'sensor'], numbers: ['temperature'] });
const TEMPERATURE_BOUNDARIES = [-10, 0, 10, 20, 30];
const [sensors] = defineViews(
  [
    {
      name: 'sensors',
      dimensions: ['room'],
      granularity: 'minute',
      measures: {
        readings: 'count',
        sensors: { distinct: 'sensor', precision: 4 },
        events: { distinct: 'eventId' },
        temperatures: { histogram: 'temperature', boundaries: TEMPERATURE_BOUNDARIES },
        total: { sum: 'temperature' },
        squares: { sumSquares: 'temperature' },
        mean: { avg: 'temperature' },
        variance: { variance: 'temperature' },
        spread: { stddev: 'temperature' },
      },
    },
  ],
  sensorSchema,
) as [ViewDefinition];

/** One sensor reading: a sensor of a few, an id of many, and a temperature in quarters, whose sums are exact. */
const sensorReadingArbitrary = fc.record({
  sensor: fc.integer({ min: 0, max: 30 }).map((index) => `sensor-${index}`),
  eventId: fc.integer({ min: 0, max: 200 }).map((index) => `event-${index}`),
  temperature: fc.integer({ min: -200, max: 200 }).map((quarters) => quarters / 4),
});
type SensorReading = { sensor: string; eventId: string; temperature: number };
const sensorMeasures = (readings: readonly SensorReading[]) =>
  mergeAllMeasures(readings.map((event) => measuresOf(sensors, { room: 'lab', ...event })));
const sensorMeasuresArbitrary = fc.array(sensorReadingArbitrary, { maxLength: 12 }).map(sensorMeasures);
const measureNamed = (name: string) => {
  const measure = sensors.measures.find((candidate) => candidate.name === name);
  if (measure === undefined) throw new Error(`no measure ${name}`);
  return measure;
};

/** The sample variance, from the deviations from the mean. */
function sampleVariance(values: readonly number[]): number {
  const mean = values.reduce((x, y) => x + y, 0) / values.length;
  return values.reduce((total, value) => total + (value - mean) ** 2, 0) / (values.length - 1);
}

describe('measures monoid with sketches and sums of squares', () => {
  const sketchRuns = { numRuns: 300 };

  it('merging is associative', () => {
    fc.assert(
      fc.property(sensorMeasuresArbitrary, sensorMeasuresArbitrary, sensorMeasuresArbitrary, (a, b, c) => {
        expect(mergeMeasures(mergeMeasures(a, b), c)).toEqual(mergeMeasures(a, mergeMeasures(b, c)));
      }),
      sketchRuns,
    );
  });

  it('merging is commutative', () => {
    fc.assert(
      fc.property(sensorMeasuresArbitrary, sensorMeasuresArbitrary, (a, b) => {
        expect(mergeMeasures(a, b)).toEqual(mergeMeasures(b, a));
      }),
      sketchRuns,
    );
  });

  it('the empty aggregate, as a constant or read back from attributes, is the identity on both sides', () => {
    const read = measuresFromAttributes(undefined, sensors.stored);
    fc.assert(
      fc.property(sensorMeasuresArbitrary, (a) => {
        expect(mergeMeasures(a, EMPTY_MEASURES)).toEqual(a);
        expect(mergeMeasures(EMPTY_MEASURES, a)).toEqual(a);
        expect(mergeMeasures(a, read)).toEqual(a);
        expect(mergeMeasures(read, a)).toEqual(a);
      }),
      sketchRuns,
    );
  });

  it('merged readings hold per part what each part computes over all of them, brute force', () => {
    fc.assert(
      fc.property(fc.array(sensorReadingArbitrary, { minLength: 1, maxLength: 30 }), (readings) => {
        const temperatures = readings.map(({ temperature }) => temperature);
        const registers = (values: string[], precision: number) =>
          values.reduce(
            (total, value) => mergeRegisters(total, singleValueRegisters(value, precision)),
            EMPTY_REGISTERS,
          );
        const bins = temperatures.reduce<BinCounts>(
          (total, value) => mergeBins(total, singleValueBins(TEMPERATURE_BOUNDARIES, value)),
          new Map(),
        );
        expect(sensorMeasures(readings)).toEqual(
          measuresWith({
            count: readings.length,
            sum: { total: temperatures.reduce((x, y) => x + y, 0) },
            sumSquares: {
              [measureNamed('squares').attribute]: temperatures.reduce((total, value) => total + value * value, 0),
            },
            distinct: {
              [measureNamed('sensors').attribute]: registers(
                readings.map(({ sensor }) => sensor),
                4,
              ),
              [measureNamed('events').attribute]: registers(
                readings.map(({ eventId }) => eventId),
                12,
              ),
            },
            histogram: { [measureNamed('temperatures').attribute]: bins },
          }),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips through item attributes, sparse and dense sketches alike', () => {
    fc.assert(
      fc.property(
        sensorMeasuresArbitrary.filter((m) => !isEmptyMeasures(m)),
        (m) => {
          const attributes = measureAttributes(m, sensors.stored);
          expect(Object.keys(attributes).sort()).toEqual(
            [
              'count',
              ...['sensors', 'events', 'temperatures', 'total', 'squares'].map((name) => measureNamed(name).attribute),
            ].sort(),
          );
          expect(measuresFromAttributes(attributes, sensors.stored)).toEqual(m);
        },
      ),
      sketchRuns,
    );
  });
});

describe('spread and sketch measure values', () => {
  it('variance and stddev are the sample variance and its square root of the values folded', () => {
    fc.assert(
      fc.property(fc.array(sensorReadingArbitrary, { minLength: 2, maxLength: 40 }), (readings) => {
        const merged = sensorMeasures(readings);
        const expected = sampleVariance(readings.map(({ temperature }) => temperature));
        const variance = measureValue(merged, measureNamed('variance'));
        const spread = measureValue(merged, measureNamed('spread'));
        expect(Math.abs((variance as number) - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, expected));
        expect(Math.abs((spread as number) - Math.sqrt(expected))).toBeLessThanOrEqual(
          1e-9 * Math.max(1, Math.sqrt(expected)),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('variance and stddev of 1, 2, 3, 4 are 5/3 and √(5/3); of a constant series 0', () => {
    const of = (values: number[]) =>
      sensorMeasures(values.map((temperature) => ({ sensor: 's', eventId: 'e', temperature })));
    expect(measureValue(of([1, 2, 3, 4]), measureNamed('variance'))).toBeCloseTo(5 / 3, 12);
    expect(measureValue(of([1, 2, 3, 4]), measureNamed('spread'))).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(measureValue(of([21.25, 21.25, 21.25]), measureNamed('variance'))).toBe(0);
    expect(measureValue(of([21.25, 21.25, 21.25]), measureNamed('spread'))).toBe(0);
  });

  it('answers null for the variance and stddev of fewer than two events, as SQL does', () => {
    const one = sensorMeasures([{ sensor: 's', eventId: 'e', temperature: 20 }]);
    expect(measureValue(one, measureNamed('variance'))).toBeNull();
    expect(measureValue(one, measureNamed('spread'))).toBeNull();
    expect(measureValue(EMPTY_MEASURES, measureNamed('variance'))).toBeNull();
    expect(measureValue(one, measureNamed('mean'))).toBe(20);
  });

  it('answers a distinct as the rounded HyperLogLog estimate of its registers, exact for a few values', () => {
    fc.assert(
      fc.property(fc.array(sensorReadingArbitrary, { minLength: 1, maxLength: 40 }), (readings) => {
        const merged = sensorMeasures(readings);
        for (const [name, precision] of [
          ['sensors', 4],
          ['events', 12],
        ] as const) {
          const registers = merged.distinct[measureNamed(name).attribute];
          expect(registers).toBeDefined();
          expect(measureValue(merged, measureNamed(name))).toBe(Math.round(estimateCardinality(registers!, precision)));
        }
      }),
      { numRuns: 300 },
    );
    const readings = ['a', 'b', 'c', 'a', 'b'].map((sensor, index) => ({
      sensor,
      eventId: `e${index}`,
      temperature: 0,
    }));
    expect(measureValue(sensorMeasures(readings), measureNamed('events'))).toBe(5);
    expect(measureValue(EMPTY_MEASURES, measureNamed('events'))).toBeNull();
  });

  it('answers a histogram with no single number, and presents each quantile asked with its bounds, by its text', () => {
    const temperatures = [-12, -3, 4, 8, 12, 15, 18, 19, 25, 31];
    const merged = sensorMeasures(
      temperatures.map((temperature, index) => ({ sensor: 's', eventId: `e${index}`, temperature })),
    );
    expect(measureValue(merged, measureNamed('temperatures'))).toBeNull();
    const presented = presentMeasures(sensors, merged);
    // The 5th value (12) is in (10, 20], the 9th (25) and 10th (31) in (20, 30] and (30, ∞).
    expect(presented?.temperatures).toEqual({
      '0.5': { estimate: (2 * 10 * 20) / 30, lower: 10, upper: 20 },
      '0.9': { estimate: (2 * 20 * 30) / 50, lower: 20, upper: 30 },
      '0.99': { estimate: 30, lower: 30, upper: null },
    });
    const asked = presentMeasures(sensors, merged, [0, 0.25, 1]);
    expect(asked?.temperatures).toEqual({
      '0': { estimate: -10, lower: null, upper: -10 },
      '0.25': { estimate: 5, lower: 0, upper: 10 },
      '1': { estimate: 30, lower: 30, upper: null },
    });
    expect(asked).toMatchObject({ readings: 10, sensors: 1, events: 10, total: 117, mean: 11.7 });
  });

  it('presents every quantile asked as estimateQuantile computes it from the counts', () => {
    fc.assert(
      fc.property(
        fc.array(sensorReadingArbitrary, { minLength: 1, maxLength: 30 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
        (readings, quantiles) => {
          const merged = sensorMeasures(readings);
          const bins = merged.histogram[measureNamed('temperatures').attribute]!;
          expect(presentMeasures(sensors, merged, quantiles)?.temperatures).toEqual(
            Object.fromEntries(quantiles.map((q) => [String(q), estimateQuantile(TEMPERATURE_BOUNDARIES, bins, q)])),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers null for a sketch none of the rows holds (declared after they were written)', () => {
    const before = measuresFromAttributes({ count: { N: '3' }, total: { N: '60' } }, sensors.stored);
    expect(presentMeasures(sensors, before)).toEqual({
      readings: 3,
      sensors: null,
      events: null,
      temperatures: null,
      total: 60,
      squares: null,
      mean: 20,
      variance: null,
      spread: null,
    });
  });
});
