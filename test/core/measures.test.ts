import fc from 'fast-check';
import {
  averageOf,
  EMPTY_MEASURES,
  measuresOf,
  mergeAllMeasures,
  mergeMeasures,
  type Measures,
} from '../../functions/core/measures';
import { valueArbitrary } from '../support/stream-arbitraries';

const measuresArbitrary: fc.Arbitrary<Measures> = fc
  .array(valueArbitrary, { maxLength: 8 })
  .map((values) => mergeAllMeasures(values.map(measuresOf)));

// 1,000 runs per law: each run draws up to 24 values; the laws are about structure, not magnitude, and a
// violation (a lost min, a double-counted count) shows up in the first few dozen cases.
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

  it('avg is sum over count, and undefined for an empty aggregate', () => {
    expect(averageOf(mergeAllMeasures([measuresOf(1), measuresOf(2), measuresOf(6)]))).toBe(3);
    expect(averageOf(EMPTY_MEASURES)).toBeNull();
  });
});
