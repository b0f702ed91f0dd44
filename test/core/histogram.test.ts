import fc from 'fast-check';
import {
  binBounds,
  binOf,
  decodeBins,
  EMPTY_BINS,
  encodeBins,
  estimateQuantile,
  exponentialBoundaries,
  MAX_HISTOGRAM_BOUNDARIES,
  maxEncodedBinBytes,
  maxRelativeError,
  MAX_RELATIVE_ACCURACY,
  mergeBins,
  MIN_RELATIVE_ACCURACY,
  quantileRank,
  singleValueBins,
  type BinCounts,
} from '../../functions/core/histogram';

/** Values that compare exactly and repeat often: quarters, small enough that boundaries fall among them. */
const valueArbitrary = fc.integer({ min: -400, max: 400 }).map((quarters) => quarters / 4);

/** Increasing boundaries, drawn from the same quarters so that values equal to a boundary are common. */
const boundariesArbitrary = fc
  .uniqueArray(valueArbitrary, { minLength: 1, maxLength: 30 })
  .map((values) => [...values].sort((a, b) => a - b));

/** Counts per bin of a histogram with `bins` bins. */
const binsArbitrary = (bins: number): fc.Arbitrary<BinCounts> =>
  fc
    .array(fc.tuple(fc.nat(bins - 1), fc.integer({ min: 1, max: 1000 })), { maxLength: bins })
    .map((entries) => new Map(entries));

/** The values counted per bin, brute force. */
function countBins(boundaries: readonly number[], values: readonly number[]): BinCounts {
  const bins = new Map<number, number>();
  for (const value of values) {
    const bin = boundaries.filter((boundary) => boundary < value).length;
    bins.set(bin, (bins.get(bin) ?? 0) + 1);
  }
  return bins;
}

/** The inner bins (a, b] that are empty (b ≤ a) or whose relative error (b − a)/(b + a) exceeds the bound. */
function binsBeyond(boundaries: readonly number[], bound: number): [number, number][] {
  const beyond: [number, number][] = [];
  for (let bin = 1; bin < boundaries.length; bin += 1) {
    const [a, b] = [boundaries[bin - 1] as number, boundaries[bin] as number];
    if (!(b > a) || (b - a) / (b + a) > bound) beyond.push([a, b]);
  }
  return beyond;
}

describe('histogram bins', () => {
  it('puts a value in the bin numbered by the boundaries strictly below it, equal values at or below', () => {
    fc.assert(
      fc.property(boundariesArbitrary, valueArbitrary, fc.nat(), (boundaries, drawn, pick) => {
        // Half the time, a value equal to a boundary.
        const value = pick % 2 === 0 ? drawn : (boundaries[pick % boundaries.length] as number);
        expect(binOf(boundaries, value)).toBe(boundaries.filter((boundary) => boundary < value).length);
      }),
      { numRuns: 2000 },
    );
  });

  it('bins (−∞, b0], (b0, b1], …, (b_last, ∞) by their bounds', () => {
    const boundaries = [1, 10, 100];
    expect([0.5, 1, 1.5, 10, 99, 100, 100.5].map((value) => binOf(boundaries, value))).toEqual([0, 0, 1, 1, 2, 2, 3]);
    expect([0, 1, 2, 3].map((bin) => binBounds(boundaries, bin))).toEqual([
      { lower: null, upper: 1 },
      { lower: 1, upper: 10 },
      { lower: 10, upper: 100 },
      { lower: 100, upper: null },
    ]);
    expect(singleValueBins(boundaries, 10)).toEqual(new Map([[1, 1]]));
  });

  it.each([
    [0.01, 1, 10_000],
    [0.001, 1, 5],
    [0.05, 0.001, 1e6],
    [0.5, 3, 4],
    [0.02, 123.456789, 1e5],
  ])(
    'exponential boundaries at accuracy %p from %p to %p: increasing, low first, high passed, bins within the accuracy',
    (accuracy, low, high) => {
      const boundaries = exponentialBoundaries(accuracy, low, high);
      expect(boundaries[0]).toBe(low);
      expect(boundaries[boundaries.length - 1]).toBeGreaterThanOrEqual(high);
      expect(boundaries[boundaries.length - 2] ?? -Infinity).toBeLessThan(high);
      expect(binsBeyond(boundaries, accuracy + 1e-5)).toEqual([]);
      expect(maxRelativeError(boundaries)).toBeLessThanOrEqual(accuracy + 1e-5);
      // Six significant digits, so that every layer spells them alike.
      expect(boundaries.every((boundary) => Number(boundary.toPrecision(6)) === boundary || boundary === low)).toBe(
        true,
      );
    },
  );

  it('generates boundaries within the accuracy for any accuracy allowed and any range', () => {
    fc.assert(
      fc.property(
        fc.double({ min: MIN_RELATIVE_ACCURACY, max: MAX_RELATIVE_ACCURACY, noNaN: true }),
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        fc.double({ min: 1.0001, max: 1e6, noNaN: true }),
        (accuracy, low, factor) => {
          const boundaries = exponentialBoundaries(accuracy, low, low * factor);
          if (boundaries.length > MAX_HISTOGRAM_BOUNDARIES) return;
          expect(boundaries[0]).toBe(low);
          expect(boundaries[boundaries.length - 1]).toBeGreaterThanOrEqual(low * factor);
          expect(binsBeyond(boundaries, accuracy + 1e-5)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('stops generating past the most boundaries a histogram may have, for the declaration to refuse', () => {
    expect(exponentialBoundaries(0.001, 1e-9, 1e9).length).toBe(MAX_HISTOGRAM_BOUNDARIES + 1);
  });

  it('states no relative accuracy for boundaries with a bin around or at 0', () => {
    expect(maxRelativeError([-1, 1])).toBeNull();
    expect(maxRelativeError([0, 1])).toBeNull();
    expect(maxRelativeError([-4, -2, -1])).toBeCloseTo(1 / 3, 12);
    expect(maxRelativeError([5])).toBe(0);
  });
});

describe('histogram merge', () => {
  const runs = { numRuns: 500 };
  const bins = binsArbitrary(12);

  it('is associative', () => {
    fc.assert(
      fc.property(bins, bins, bins, (a, b, c) => {
        expect(mergeBins(mergeBins(a, b), c)).toEqual(mergeBins(a, mergeBins(b, c)));
      }),
      runs,
    );
  });

  it('is commutative', () => {
    fc.assert(
      fc.property(bins, bins, (a, b) => {
        expect(mergeBins(a, b)).toEqual(mergeBins(b, a));
      }),
      runs,
    );
  });

  it('has the empty counts as identity on both sides', () => {
    fc.assert(
      fc.property(bins, (a) => {
        expect(mergeBins(a, EMPTY_BINS)).toEqual(a);
        expect(mergeBins(EMPTY_BINS, a)).toEqual(a);
      }),
      runs,
    );
  });

  it('counts merged parts as the values of both counted together', () => {
    fc.assert(
      fc.property(boundariesArbitrary, fc.array(valueArbitrary), fc.array(valueArbitrary), (boundaries, xs, ys) => {
        const counted = (values: number[]) =>
          values.reduce<BinCounts>((total, value) => mergeBins(total, singleValueBins(boundaries, value)), EMPTY_BINS);
        expect(mergeBins(counted(xs), counted(ys))).toEqual(countBins(boundaries, [...xs, ...ys]));
      }),
      runs,
    );
  });
});

describe('histogram quantiles', () => {
  it.each([
    [0.9, 10, 9],
    [0.5, 1, 1],
    [0.5, 10, 5],
    [0.5, 11, 6],
    [0.99, 100, 99],
    [0.999, 1000, 999],
    [0.3, 10, 3],
    [0.7, 10, 7],
    [0.25, 3, 1],
  ])('the %p-quantile of %i values is the value of rank %i', (q, n, rank) => {
    expect(quantileRank(q, n)).toBe(rank);
  });

  it('ranks the 0-quantile 1 and the 1-quantile n', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), (n) => {
        expect(quantileRank(0, n)).toBe(1);
        expect(quantileRank(1, n)).toBe(n);
      }),
    );
  });

  it('ranks the smallest r with r ≥ q·n, for q·n away from a whole number', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 999 }), (n, thousandths) => {
        const rank = quantileRank(thousandths / 1000, n);
        // In whole numbers: rank·1000 ≥ thousandths·n > (rank − 1)·1000, exact for these sizes.
        expect(rank * 1000).toBeGreaterThanOrEqual(thousandths * n);
        if (rank > 1) expect((rank - 1) * 1000).toBeLessThan(thousandths * n);
      }),
      { numRuns: 2000 },
    );
  });

  it('bounds the lower quantile of the values counted, with the estimate between finite bounds', () => {
    fc.assert(
      fc.property(
        boundariesArbitrary,
        fc.array(valueArbitrary, { minLength: 1, maxLength: 200 }),
        fc.oneof(fc.constantFrom(0, 0.5, 0.9, 0.99, 0.999, 1), fc.double({ min: 0, max: 1, noNaN: true })),
        (boundaries, values, q) => {
          const answer = estimateQuantile(boundaries, countBins(boundaries, values), q);
          const truth = [...values].sort((a, b) => a - b)[quantileRank(q, values.length) - 1] as number;
          expect(answer).toBeDefined();
          const { estimate, lower, upper } = answer!;
          if (lower !== null) expect(truth).toBeGreaterThan(lower);
          if (upper !== null) expect(truth).toBeLessThanOrEqual(upper);
          if (lower !== null && upper !== null) {
            expect(estimate).toBeGreaterThanOrEqual(lower);
            expect(estimate).toBeLessThanOrEqual(upper);
          }
          if (lower === null) expect(estimate).toBe(upper);
          if (upper === null) expect(estimate).toBe(lower);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('estimates from a bin of positive bounds the point of least relative error, 2ab/(a + b)', () => {
    const bins = new Map([[1, 10]]);
    expect(estimateQuantile([2, 6], bins, 0.5)).toEqual({ estimate: 3, lower: 2, upper: 6 });
    expect(estimateQuantile([-6, -2], bins, 0.5)).toEqual({ estimate: -3, lower: -6, upper: -2 });
    expect(estimateQuantile([-2, 6], bins, 0.5)).toEqual({ estimate: 2, lower: -2, upper: 6 });
  });

  it('estimates nothing from no values', () => {
    expect(estimateQuantile([1, 2], EMPTY_BINS, 0.5)).toBeUndefined();
  });
});

describe('histogram stored form', () => {
  it('round-trips any counts, and is canonical: one encoding, whatever the order of the bins', () => {
    fc.assert(
      fc.property(boundariesArbitrary, fc.array(valueArbitrary), fc.nat(), (boundaries, values, seed) => {
        const bins = countBins(boundaries, values);
        const text = encodeBins(bins);
        expect(decodeBins(text, boundaries)).toEqual(bins);
        const reordered = new Map([...bins].sort(([a], [b]) => ((a * 31 + seed) % 7) - ((b * 31 + seed) % 7)));
        expect(encodeBins(reordered)).toBe(text);
        expect(encodeBins(new Map([...bins, [boundaries.length + 5, 0]]))).toBe(text);
        expect(encodeBins(decodeBins(text, boundaries))).toBe(text);
        expect(text.length).toBeLessThanOrEqual(maxEncodedBinBytes(boundaries));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes bin:count pairs in bin order, and nothing for no values', () => {
    expect(
      encodeBins(
        new Map([
          [3, 2],
          [0, 7],
        ]),
      ),
    ).toBe('0:7,3:2');
    expect(encodeBins(EMPTY_BINS)).toBe('');
    expect(decodeBins('', [1])).toEqual(new Map());
  });

  it('takes the largest stored form within maxEncodedBinBytes', () => {
    const boundaries = Array.from({ length: MAX_HISTOGRAM_BOUNDARIES }, (_, index) => index);
    const full = new Map(boundaries.map((bin): [number, number] => [bin, Number.MAX_SAFE_INTEGER]));
    full.set(MAX_HISTOGRAM_BOUNDARIES, Number.MAX_SAFE_INTEGER);
    expect(encodeBins(full).length).toBeLessThanOrEqual(maxEncodedBinBytes(boundaries));
  });

  it.each([
    ['0:1,x', 'not a stored histogram of 3 bins: "x" is not bin:count (a count of at least 1)'],
    ['0:0', 'not a stored histogram of 3 bins: "0:0" is not bin:count (a count of at least 1)'],
    ['01:2', 'not a stored histogram of 3 bins: "01:2" is not bin:count (a count of at least 1)'],
    ['1:-2', 'not a stored histogram of 3 bins: "1:-2" is not bin:count (a count of at least 1)'],
    ['3:1', 'not a stored histogram of 3 bins: "3:1" names bin 3, past the last (2)'],
    ['1:1,0:1', 'not a stored histogram of 3 bins: "0:1" is out of bin order (after bin 1)'],
    ['1:1,1:1', 'not a stored histogram of 3 bins: "1:1" is out of bin order (after bin 1)'],
    ['0:99999999999999999', 'not a stored histogram of 3 bins: "0:99999999999999999" counts past 2^53'],
  ])('refuses %j: %s', (text, problem) => {
    expect(() => decodeBins(text, [1, 2])).toThrow(problem);
  });
});
