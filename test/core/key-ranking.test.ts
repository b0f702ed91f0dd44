import { rankKeys } from '../../functions/core/key-ranking';
import { EMPTY_MEASURES, measuresWith, type Measures } from '../../functions/core/measures';
import type { ServedBucket } from '../../functions/core/serving-rule';
import { defineViews } from '../../functions/core/view-declaration';

const [view] = defineViews([{ name: 'device_minute', dimensions: ['deviceId'], granularity: 'minute' }]);
const measure = (name: string) => {
  const found = view.measures.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(name);
  return found;
};
const MINUTE = 60_000;
const range = { from: 0, to: 10 * MINUTE };

/** A bucket of `values` of one key. */
function bucket(dimensionKey: string, minute: number, values: readonly number[]): ServedBucket {
  const attribute = (kind: string) => view.stored.find((stored) => stored.kind === kind)?.attribute ?? kind;
  const measures: Measures = measuresWith({
    count: values.length,
    sum: { [attribute('sum')]: values.reduce((a, b) => a + b, 0) },
    min: { [attribute('min')]: Math.min(...values) },
    max: { [attribute('max')]: Math.max(...values) },
  });
  return { dimensionKey, bucket: minute * MINUTE, measures, batch: EMPTY_MEASURES, realtime: measures };
}

describe('top-N ranking', () => {
  const buckets = [
    bucket('a', 0, [1, 9]),
    bucket('a', 1, [2]),
    bucket('b', 2, [10]),
    bucket('c', 3, [4]),
    bucket('c', 4, [4]),
    bucket('d', 5, [3, 3, 3, 3]),
  ];

  it('ranks keys by the measure over the whole range, descending, ties broken by key ascending', () => {
    expect(rankKeys(buckets, measure('sum'), 'desc', 10, range)).toEqual([
      { dimensionKey: 'a', value: 12, rank: 1 },
      { dimensionKey: 'd', value: 12, rank: 2 },
      { dimensionKey: 'b', value: 10, rank: 3 },
      { dimensionKey: 'c', value: 8, rank: 4 },
    ]);
  });

  it('ranks ascending with ties still broken by key ascending, and answers at most limit keys', () => {
    expect(rankKeys(buckets, measure('count'), 'asc', 3, range)).toEqual([
      { dimensionKey: 'b', value: 1, rank: 1 },
      { dimensionKey: 'c', value: 2, rank: 2 },
      { dimensionKey: 'a', value: 3, rank: 3 },
    ]);
  });

  it("takes avg as the range's sum over its count, not as a mean of the buckets' means", () => {
    // a: buckets averaging 5 and 2 → (1 + 9 + 2) / 3 = 4, not 3.5.
    expect(rankKeys(buckets, measure('avg'), 'desc', 10, range)).toEqual([
      { dimensionKey: 'b', value: 10, rank: 1 },
      { dimensionKey: 'a', value: 4, rank: 2 },
      { dimensionKey: 'c', value: 4, rank: 3 },
      { dimensionKey: 'd', value: 3, rank: 4 },
    ]);
  });

  it('leaves out keys without data in the range, and buckets outside it', () => {
    expect(rankKeys(buckets, measure('max'), 'desc', 10, { from: 3 * MINUTE, to: 5 * MINUTE })).toEqual([
      { dimensionKey: 'c', value: 4, rank: 1 },
    ]);
  });
});
