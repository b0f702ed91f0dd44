import type { BaselineView, WindowReadings } from '../../functions/adapters/baseline-reader';
import { trainingWindow } from '../../functions/core/baseline';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { BaselineCache } from '../../functions/speed/baseline-cache';

const HOUR_MS = 3_600_000;
const T = Date.UTC(2026, 10, 20, 14, 20);

const view = definePipelineConfig({
  views: [
    {
      name: 'site_hour',
      dimensions: ['site'],
      granularity: 'hour',
      baseline: { measure: 'value', seasonality: 'hourOfDay', trainingWindowDays: 1, minEvents: 2 },
    },
  ],
}).views[0] as BaselineView;

/** A baseline reader that counts its reads and answers when told: mean 10 and stddev 1 in every slot. */
class ScriptedReader {
  readonly reads: { dimensionKey: string; atMs: number }[] = [];
  private pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Reads wait for release() / fail() when true; otherwise they answer at once. */
  held = false;

  windowReadings = (_view: BaselineView, dimensionKey: string, atMs: number): Promise<WindowReadings> => {
    this.reads.push({ dimensionKey, atMs });
    const window = trainingWindow(view, atMs);
    const slots = new Map(Array.from({ length: 24 }, (_, slot) => [slot, { events: 3, sum: 30, sumSquares: 302 }]));
    const answer = { window, slots };
    if (!this.held) return Promise.resolve(answer);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve: () => resolve(answer), reject });
    });
  };

  release(): void {
    for (const { resolve } of this.pending.splice(0)) resolve();
  }

  fail(): void {
    for (const { reject } of this.pending.splice(0)) reject(new Error('read failed'));
  }
}

/** A lookup with its baseline awaited. */
async function look(cache: BaselineCache, ...args: Parameters<BaselineCache['lookup']>) {
  const { read, baseline } = cache.lookup(...args);
  return { read, baseline: await baseline };
}

function cacheWith(options: { maxStalenessMs?: number; capacity?: number } = {}) {
  const reader = new ScriptedReader();
  let now = 0;
  const cache = new BaselineCache({ baselines: reader, now: () => now, ...options });
  return { reader, cache, advance: (ms: number) => (now += ms) };
}

describe('BaselineCache', () => {
  it("serves the slot baseline of a reading's key and bucket from one read until it is stale", async () => {
    const { reader, cache, advance } = cacheWith({ maxStalenessMs: 60_000 });
    const first = await look(cache, view, 'a', T);
    expect(first).toMatchObject({ read: true, baseline: { status: 'ready', mean: 10, slotLabel: '14:00 UTC' } });
    expect(first.baseline.window).toEqual({ from: T - (T % HOUR_MS) - 86_400_000, to: T - (T % HOUR_MS) });
    advance(59_999);
    // Another reading of the same key in the same bucket: the same entry.
    expect(await look(cache, view, 'a', T + 30 * 60_000)).toMatchObject({ read: false });
    expect(reader.reads).toHaveLength(1);
    advance(1);
    expect(await look(cache, view, 'a', T)).toMatchObject({ read: true });
    expect(reader.reads).toHaveLength(2);
  });

  it('keeps one entry per view, key and reference bucket', async () => {
    const { reader, cache } = cacheWith();
    await look(cache, view, 'a', T);
    await look(cache, view, 'b', T);
    await look(cache, view, 'a', T + HOUR_MS);
    await look(cache, view, 'a', T + 1_000);
    expect(reader.reads.map(({ dimensionKey }) => dimensionKey)).toEqual(['a', 'b', 'a']);
    expect(cache.size).toBe(3);
  });

  it('shares one read among the readings that ask while it is in flight', async () => {
    const { reader, cache } = cacheWith();
    reader.held = true;
    const lookups = [look(cache, view, 'a', T), look(cache, view, 'a', T + 1), look(cache, view, 'a', T + 2)];
    reader.release();
    const results = await Promise.all(lookups);
    expect(results.map(({ read }) => read)).toEqual([true, false, false]);
    expect(reader.reads).toHaveLength(1);
  });

  it('does not keep a failed read: every reading waiting on it fails, and the next one reads again', async () => {
    const { reader, cache } = cacheWith();
    reader.held = true;
    const lookups = [look(cache, view, 'a', T), look(cache, view, 'a', T + 1)];
    reader.fail();
    for (const lookup of lookups) await expect(lookup).rejects.toThrow('read failed');
    expect(cache.size).toBe(0);
    reader.held = false;
    expect(await look(cache, view, 'a', T)).toMatchObject({ read: true, baseline: { status: 'ready' } });
    expect(reader.reads).toHaveLength(2);
  });

  it('holds at most its capacity, dropping the oldest read first', async () => {
    const { reader, cache } = cacheWith({ capacity: 2 });
    await look(cache, view, 'a', T);
    await look(cache, view, 'b', T);
    await look(cache, view, 'c', T);
    expect(cache.size).toBe(2);
    await look(cache, view, 'b', T);
    await look(cache, view, 'c', T);
    expect(reader.reads).toHaveLength(3);
    await look(cache, view, 'a', T);
    expect(reader.reads.map(({ dimensionKey }) => dimensionKey)).toEqual(['a', 'b', 'c', 'a']);
  });
});
