import { BatchRunError, type BatchRunSummary, type ViewRunSummary } from '../../functions/batch/batch-job';
import { FIRST_GENERATION, type GenerationState } from '../../functions/core/generation-manifest';
import { buildLocalHealth, type LocalHealthInputs } from '../../local/local-health';

const MINUTE = 60_000;
const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

function viewSummary(view: string, overrides: Partial<ViewRunSummary> = {}): ViewRunSummary {
  return {
    view,
    cutoff: NOW - 5 * MINUTE,
    windows: [],
    rows: 0,
    setAside: 0,
    setAsideRows: [],
    bytesScanned: 0,
    seconds: 0,
    writeSeconds: 0,
    outcome: 'up-to-date',
    ...overrides,
  };
}

function window(from: number, to: number, rows: number) {
  return { from, to, rows, setAside: 0, bytesScanned: 0, seconds: 0, writeSeconds: 0, outcome: 'flipped' as const };
}

const generation = (view: string, served = FIRST_GENERATION): GenerationState => ({
  view,
  served,
  servedFromMs: null,
  building: null,
  expiring: null,
});

function inputs(overrides: Partial<LocalHealthInputs> = {}): LocalHealthInputs {
  return {
    nowMs: NOW,
    startedAtMs: NOW - 10 * MINUTE,
    architecture: 'lambda',
    ingest: { accepted: { total: 1_000, inWindow: 100 }, rejected: { total: 7, inWindow: 2 } },
    speedLayer: { records: { total: 990, inWindow: 95 }, invocations: 12, iteratorAgeMs: 250, discardedBatches: 0 },
    batch: {
      runs: 0,
      cutoffs: [
        { view: 'a', cutoffMs: NOW - 5 * MINUTE },
        { view: 'b', cutoffMs: NOW - 15 * MINUTE },
      ],
      lastRun: null,
      nextRunAtMs: NOW + 30_000,
    },
    generations: [generation('a'), generation('b')],
    ...overrides,
  };
}

describe('the local health document', () => {
  it('rounds rates to a tenth over the last minute and keeps the totals', () => {
    const health = buildLocalHealth(inputs());
    expect(health).toMatchObject({
      now: iso(NOW),
      nowMs: NOW,
      architecture: 'lambda',
      // 100/60 = 1.666…, 2/60 = 0.0333…, 95/60 = 1.5833…
      ingest: { windowSeconds: 60, acceptedPerSecond: 1.7, rejectedPerSecond: 0, accepted: 1_000, rejected: 7 },
      speedLayer: { recordsPerSecond: 1.6, records: 990, invocations: 12, iteratorAgeMs: 250, discardedBatches: 0 },
    });
  });

  it('divides by the time since the start while the server is younger than a minute, and by at least a second', () => {
    const young = buildLocalHealth(inputs({ startedAtMs: NOW - 8_000 }));
    expect(young.ingest).toMatchObject({ windowSeconds: 60, acceptedPerSecond: 12.5, rejectedPerSecond: 0.3 });
    const newborn = buildLocalHealth(inputs({ startedAtMs: NOW - 100 }));
    expect(newborn.ingest.acceptedPerSecond).toBe(100);
  });

  it('reports the oldest served cutoff over the views, and its age', () => {
    const { batch } = buildLocalHealth(inputs());
    expect(batch).toMatchObject({
      runs: 0,
      cutoff: iso(NOW - 15 * MINUTE),
      cutoffMs: NOW - 15 * MINUTE,
      cutoffAgeMs: 15 * MINUTE,
      lastRun: null,
      nextRunAt: iso(NOW + 30_000),
    });
  });

  it('has no cutoff while any view has nothing served', () => {
    const { batch } = buildLocalHealth(
      inputs({
        batch: {
          ...inputs().batch,
          cutoffs: [
            { view: 'a', cutoffMs: NOW - 5 * MINUTE },
            { view: 'b', cutoffMs: null },
          ],
        },
      }),
    );
    expect(batch).toMatchObject({ cutoff: null, cutoffMs: null, cutoffAgeMs: null });
  });

  it('has no batch section in Kappa mode, and lists every view with its generations', () => {
    const health = buildLocalHealth(
      inputs({
        architecture: 'kappa',
        generations: [
          generation('a', 3),
          {
            ...generation('b'),
            building: { generation: 2, handoffMs: NOW + 5_000, startedAt: NOW, backfilledItems: null },
          },
        ],
      }),
    );
    expect(health.batch).toBeNull();
    expect(health.generations).toEqual([
      { view: 'a', served: 3, replays: 2, building: null },
      {
        view: 'b',
        served: 1,
        replays: 0,
        building: { generation: 2, handoff: iso(NOW + 5_000), handoffMs: NOW + 5_000 },
      },
    ]);
  });

  it('describes a successful run: its window over every view, rows summed, wall-clock seconds', () => {
    const summary: BatchRunSummary = {
      cutoff: NOW - 5 * MINUTE,
      startedAt: NOW - 2_000,
      skippedRows: {},
      bytesScanned: 4_096,
      views: [
        viewSummary('a', { outcome: 'flipped', rows: 10, windows: [window(NOW - 10 * MINUTE, NOW - 5 * MINUTE, 10)] }),
        viewSummary('b', {
          outcome: 'flipped',
          rows: 7,
          windows: [window(NOW - 20 * MINUTE, NOW - 15 * MINUTE, 3), window(NOW - 15 * MINUTE, NOW - 6 * MINUTE, 4)],
        }),
      ],
    };
    const { batch } = buildLocalHealth(
      inputs({
        batch: {
          ...inputs().batch,
          runs: 1,
          lastRun: { startedAtMs: NOW - 2_500, finishedAtMs: NOW - 1_250, succeeded: true, result: summary },
        },
      }),
    );
    expect(batch?.lastRun).toEqual({
      startedAt: iso(NOW - 2_500),
      finishedAt: iso(NOW - 1_250),
      outcome: 'succeeded',
      window: { from: iso(NOW - 20 * MINUTE), to: iso(NOW - 5 * MINUTE) },
      rows: 17,
      bytesScanned: 4_096,
      seconds: 1.25,
      views: [
        { view: 'a', outcome: 'flipped', rows: 10, cutoff: iso(NOW - 5 * MINUTE) },
        { view: 'b', outcome: 'flipped', rows: 7, cutoff: iso(NOW - 5 * MINUTE) },
      ],
    });
  });

  it('has no window for a run that found every view up to date', () => {
    const summary: BatchRunSummary = {
      cutoff: NOW - 5 * MINUTE,
      startedAt: NOW,
      skippedRows: {},
      bytesScanned: 0,
      views: [viewSummary('a'), viewSummary('b')],
    };
    const { batch } = buildLocalHealth(
      inputs({
        batch: {
          ...inputs().batch,
          lastRun: { startedAtMs: NOW, finishedAtMs: NOW, succeeded: true, result: summary },
        },
      }),
    );
    expect(batch?.lastRun).toMatchObject({ outcome: 'succeeded', window: null, rows: 0 });
  });

  it('describes a failed run with its error, and the figures of the summary the error carries', () => {
    const summary: BatchRunSummary = {
      cutoff: NOW - 5 * MINUTE,
      startedAt: NOW - 3_000,
      skippedRows: {},
      bytesScanned: 512,
      views: [
        viewSummary('a', { outcome: 'flipped', rows: 4, windows: [window(NOW - 10 * MINUTE, NOW - 5 * MINUTE, 4)] }),
        viewSummary('b', { outcome: 'failed', cutoff: null, error: 'query: boom' }),
      ],
    };
    const error = new BatchRunError(summary);
    const { batch } = buildLocalHealth(
      inputs({
        batch: {
          ...inputs().batch,
          runs: 1,
          lastRun: { startedAtMs: NOW - 3_000, finishedAtMs: NOW - 1_000, succeeded: false, error },
        },
      }),
    );
    expect(batch?.lastRun).toEqual({
      startedAt: iso(NOW - 3_000),
      finishedAt: iso(NOW - 1_000),
      outcome: 'failed',
      error: 'batch run failed for b (query: boom)',
      window: { from: iso(NOW - 10 * MINUTE), to: iso(NOW - 5 * MINUTE) },
      rows: 4,
      bytesScanned: 512,
      seconds: 2,
      views: [
        { view: 'a', outcome: 'flipped', rows: 4, cutoff: iso(NOW - 5 * MINUTE) },
        { view: 'b', outcome: 'failed', rows: 0, cutoff: null },
      ],
    });
  });

  it('describes a run that failed without a summary by its error alone', () => {
    const { batch } = buildLocalHealth(
      inputs({
        batch: {
          ...inputs().batch,
          lastRun: { startedAtMs: NOW - 1_000, finishedAtMs: NOW, succeeded: false, error: new Error('no engine') },
        },
      }),
    );
    expect(batch?.lastRun).toEqual({
      startedAt: iso(NOW - 1_000),
      finishedAt: iso(NOW),
      outcome: 'failed',
      error: 'no engine',
      window: null,
      rows: 0,
      bytesScanned: 0,
      seconds: 1,
      views: [],
    });
  });
});
