import type { LocalHealth } from '../../../local/local-health';
import { healthTiles, ITERATOR_AGE_WARNING_MS } from '../../../local/dashboard/health-panel';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 30);

function health(overrides: Partial<LocalHealth> = {}): LocalHealth {
  return {
    now: new Date(NOW).toISOString(),
    nowMs: NOW,
    architecture: 'lambda',
    ingest: { windowSeconds: 60, acceptedPerSecond: 41.25, rejectedPerSecond: 0, accepted: 2475, rejected: 0 },
    speedLayer: { recordsPerSecond: 41.2, records: 2475, invocations: 30, iteratorAgeMs: 405, discardedBatches: 0 },
    batch: {
      runs: 1,
      cutoff: new Date(NOW - 30_000).toISOString(),
      cutoffMs: NOW - 30_000,
      cutoffAgeMs: 30_000,
      lastRun: {
        startedAt: new Date(NOW - 10_000).toISOString(),
        finishedAt: new Date(NOW - 9_334).toISOString(),
        outcome: 'succeeded',
        window: { from: new Date(NOW - 90_000).toISOString(), to: new Date(NOW - 30_000).toISOString() },
        rows: 120,
        bytesScanned: 205_136,
        seconds: 0.666,
        views: [],
      },
      nextRunAt: new Date(NOW + 50_000).toISOString(),
    },
    generations: [
      { view: 'a', served: 1, replays: 0, building: null },
      { view: 'b', served: 1, replays: 0, building: null },
    ],
    ...overrides,
  };
}

const tile = (h: LocalHealth, id: string) => healthTiles(h).find((t) => t.id === id);

describe('the health panel', () => {
  it('shows events in and rejected per second, rounded, with the totals', () => {
    expect(tile(health(), 'events-in')).toMatchObject({ value: '41.25/s' });
    expect(tile(health(), 'events-in')?.detail).toContain('2475 accepted');
    expect(tile(health(), 'events-rejected')).toMatchObject({ value: '0/s', warn: false });
    const rejecting = health({ ingest: { ...health().ingest, rejectedPerSecond: 1.5, rejected: 90 } });
    expect(tile(rejecting, 'events-rejected')).toMatchObject({ value: '1.5/s', warn: true });
  });

  it("warns when the speed layer's iterator falls a minute behind, or a batch was discarded", () => {
    expect(tile(health(), 'iterator-age')).toMatchObject({ value: '405 ms', warn: false });
    const behind = health({ speedLayer: { ...health().speedLayer, iteratorAgeMs: ITERATOR_AGE_WARNING_MS } });
    expect(tile(behind, 'iterator-age')).toMatchObject({ value: '1 min', warn: true });
    const discarding = health({ speedLayer: { ...health().speedLayer, discardedBatches: 2 } });
    expect(tile(discarding, 'iterator-age')?.detail).toBe('30 invocations, 2 batches discarded');
  });

  it("shows the batch cutoff's age and the last run's window, rows, bytes and seconds", () => {
    expect(tile(health(), 'cutoff-age')).toMatchObject({
      value: '30 s',
      detail: 'exact up to 2026-12-03 12:00:00 UTC',
    });
    expect(tile(health(), 'last-run')).toMatchObject({
      value: '120 rows',
      detail: 'window 11:59:00 UTC – 12:00:00 UTC, 200 KiB read, 0.666 s, next at 12:01:20 UTC',
    });
  });

  it("says a first run's window is everything archived, and writes a window across days in full", () => {
    const batch = health().batch!;
    const first = health({
      batch: {
        ...batch,
        lastRun: { ...batch.lastRun!, window: { from: new Date(0).toISOString(), to: batch.cutoff! } },
      },
    });
    expect(tile(first, 'last-run')?.detail).toMatch(/^window: everything archived before 2026-12-03 12:00:00 UTC,/);
    const overnight = health({
      batch: {
        ...batch,
        lastRun: { ...batch.lastRun!, window: { from: '2026-12-02T23:00:00.000Z', to: batch.cutoff! } },
      },
    });
    expect(tile(overnight, 'last-run')?.detail).toMatch(/^window 2026-12-02 23:00:00 UTC – 2026-12-03 12:00:00 UTC,/);
  });

  it('says when there is no cutoff or run yet, and marks a failed run', () => {
    const fresh = health({
      batch: { runs: 0, cutoff: null, cutoffMs: null, cutoffAgeMs: null, lastRun: null, nextRunAt: null },
    });
    expect(tile(fresh, 'cutoff-age')?.value).toBe('no cutoff yet');
    expect(tile(fresh, 'last-run')).toMatchObject({ value: 'none yet', detail: 'not scheduled' });
    const batch = health().batch!;
    const failed = health({
      batch: { ...batch, lastRun: { ...batch.lastRun!, outcome: 'failed', error: 'boom', window: null } },
    });
    expect(tile(failed, 'last-run')).toMatchObject({ value: 'failed', warn: true });
    expect(tile(failed, 'last-run')?.detail).toContain('nothing new to compute');
    expect(tile(failed, 'last-run')?.detail).toContain('boom');
  });

  it('shows Kappa mode its generations and replays, and no batch figures', () => {
    const kappa = health({
      architecture: 'kappa',
      batch: null,
      generations: [
        { view: 'a', served: 2, replays: 1, building: null },
        {
          view: 'b',
          served: 1,
          replays: 0,
          building: { generation: 2, handoff: '2026-12-03T12:01:00.000Z', handoffMs: NOW + 30_000 },
        },
      ],
    });
    expect(healthTiles(kappa).map((t) => t.id)).toEqual(['events-in', 'events-rejected', 'iterator-age', 'generation']);
    expect(tile(kappa, 'generation')).toMatchObject({
      value: '2, 1',
      detail: 'replay of b building generation 2, hand-off 2026-12-03 12:01:00 UTC',
    });
    const settled = health({ architecture: 'kappa', batch: null });
    expect(tile(settled, 'generation')).toMatchObject({
      value: '1',
      detail: '0 replays done; npm run replay rebuilds a view into a new generation',
    });
  });
});
