import { mapConcurrently } from '../../functions/adapters/concurrent-map';

describe('bounded concurrency', () => {
  it('never has more than the limit in flight, and returns results in input order', async () => {
    let inFlight = 0;
    let highest = 0;
    const items = Array.from({ length: 40 }, (_, index) => index);
    const results = await mapConcurrently(items, 6, async (item) => {
      inFlight += 1;
      highest = Math.max(highest, inFlight);
      // Later items finish first, so order comes from the indexes, not from completion.
      await new Promise((resolve) => setTimeout(resolve, (40 - item) % 7));
      inFlight -= 1;
      return item * 2;
    });
    expect(results).toEqual(items.map((item) => item * 2));
    expect(highest).toBe(6);
  });

  it('handles fewer items than the limit, and none', async () => {
    expect(await mapConcurrently([1, 2], 16, async (item) => item + 1)).toEqual([2, 3]);
    expect(await mapConcurrently([], 16, async (item: number) => item)).toEqual([]);
  });

  it('rejects a limit that is not a positive integer', async () => {
    await expect(mapConcurrently([1], 0, async (item) => item)).rejects.toThrow(/positive integer/);
  });
});
