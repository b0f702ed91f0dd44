import fc from 'fast-check';
import {
  EMPTY_MEASURES,
  isEmptyMeasures,
  measuresOf,
  measureValue,
  mergeAllMeasures,
  mergeMeasures,
  presentMeasures,
  storedValue,
  type Measures,
} from '../../functions/core/measures';
import { measureAttributes, measuresFromAttributes } from '../../functions/core/aggregate-attributes';
import { defineViews } from '../../functions/core/view-declaration';
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
        expect(merged).toEqual({
          count: readings.length,
          sum: { humidity: total(humidities), meanTemperature: total(temperatures) },
          min: { coldest: Math.min(...temperatures), driest: Math.min(...humidities) },
          max: { hottest: Math.max(...temperatures), wettest: Math.max(...humidities) },
        });
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
