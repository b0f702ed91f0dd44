import fc from 'fast-check';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import type { BatchEngine } from '../../functions/batch/batch-engine';
import type { ViewRunSummary, WindowStep } from '../../functions/batch/batch-job';
import { SKIPPED_RESULT_COLUMNS } from '../../functions/core/batch-sql';
import { beginRebuildRequest, rebuildId } from '../../functions/core/manifest';
import type { StreamRecord } from '../../functions/core/stream-record';
import { BASE_TIME_MS, cutoffArbitrary, streamArbitrary } from '../support/stream-arbitraries';
import {
  arrivingIn,
  BATCH_TEST_CONFIG,
  BatchEmulators,
  batchRunFixture,
  batchTestView as view,
  expectedBatchView,
  LATE_CUTOFF,
  nowFor,
  type BatchRunFixture,
  type RunOutcome,
} from './batch-run-fixture';
import { ACCESS_DENIED } from './dynamodb-write-faults';

const config = BATCH_TEST_CONFIG;
const EPOCH_MS = config.epochLengthMs;
const HOUR_MS = 3_600_000;

const emulators = BatchEmulators.forThisFile();
const fixture = (overrides: Partial<typeof config> = {}) => batchRunFixture(emulators, { ...config, ...overrides });

/** The view answers, from the batch layer alone, what brute force says of the records below its served cutoff. */
async function expectServedExact(
  setup: BatchRunFixture,
  name: string,
  cutoff: number,
  deliveries: readonly StreamRecord[],
): Promise<void> {
  const answer = await setup.answer(view(name));
  expect({ name, cutoff: answer.cutoff, buckets: answer.buckets }).toEqual({
    name,
    cutoff,
    buckets: expectedBatchView(view(name), deliveries, cutoff),
  });
}

const outcomeOf = (outcome: RunOutcome, name: string) =>
  outcome.summary.views.find((candidate) => candidate.view === name) as ViewRunSummary;
const outcomes = (outcome: RunOutcome) => outcome.summary.views.map((summary) => [summary.view, summary.outcome]);

describe('batch job with the DuckDB engine, over s3rver and dynalite', () => {
  // Law: after a first run at any moment, every view serves the one window [0, C), and its answers equal brute
  // force over the distinct valid records that arrived before the run's cutoff. 15 runs, each a full archive
  // (several transform invocations, GZIP objects per arrival hour, error objects) and a run over four views (about
  // 0.3 s each): duplicate deliveries, producer retries, late events, invalid records and records on both sides of
  // the cutoff occur in most runs, and the views cover every granularity, eventId de-duplication, a filter and
  // undeclared measures. Sequences of windows are batch-window-sequence.test.ts's.
  it('a first run serves the window [0, C) of each view, equal to brute force over the distinct valid records that arrived before C', async () => {
    await fc.assert(
      fc.asyncProperty(
        streamArbitrary({ minLength: 5 }),
        cutoffArbitrary(EPOCH_MS),
        fc.nat(EPOCH_MS - 1),
        fc.array(fc.nat(), { maxLength: 3 }),
        async ({ records, deliveries }, cutoff, into, invalidPicks) => {
          const setup = await fixture();
          const invalid = invalidPicks.map((pick) => ({
            ...records[pick % records.length],
            sequenceNumber: `9${records[pick % records.length].sequenceNumber}`,
          }));
          await setup.archive(deliveries, invalid);
          const nowMs = nowFor(cutoff, into);
          const { summary, failed, metrics } = await setup.run(nowMs);
          expect(failed).toBe(false);
          expect(summary.cutoff).toBe(cutoff);
          // Invalid records never reach the master dataset (the transform rejects them into the error prefix).
          expect(summary.skippedRows).toEqual({});
          expect(summary.views.map((outcome) => outcome.setAside)).toEqual(config.views.map(() => 0));
          for (const definition of config.views) {
            const outcome = summary.views.find((candidate) => candidate.view === definition.name);
            const expected = expectedBatchView(definition, deliveries, cutoff);
            // One row per key and bucket the window touched.
            expect(outcome).toMatchObject({
              outcome: 'flipped',
              cutoff,
              rows: expected.size,
              windows: [{ from: 0, to: cutoff, rows: expected.size, setAside: 0, outcome: 'flipped' }],
            });
            expect(await setup.served(definition.name)).toMatchObject({
              view: definition.name,
              cutoff,
              base: null,
              computedAt: new Date(nowMs).toISOString(),
            });
            expect(await setup.state(definition.name)).toMatchObject({ cutoff, windows: 1, pending: null });
            await expectServedExact(setup, definition.name, cutoff, deliveries);
          }
          expect(metrics.total('BatchRunSucceeded')).toBe(1);
          expect(metrics.total('BatchRunFailed')).toBe(0);
          expect(metrics.total('BatchViewRows')).toBe(summary.views.reduce((sum, outcome) => sum + outcome.rows, 0));
          expect(metrics.total('BatchWindowsFlipped')).toBe(config.views.length);
          expect(metrics.total('BatchWindowSeconds')).toBe(cutoff / 1000);
          expect(metrics.total('BatchCutoffAgeSeconds')).toBe((nowMs - cutoff) / 1000);
          expect(metrics.total('BatchRowsSkipped')).toBe(0);
          expect(metrics.total('BatchRowsSetAside')).toBe(0);
          setup.destroy();
        },
      ),
      { numRuns: 15 },
    );
  });

  it('the next run computes only the window since the served cutoff, and a run with nothing new is up to date and writes nothing', async () => {
    const setup = await fixture();
    const [sample] = fc.sample(streamArbitrary({ minLength: 40, maxLength: 40 }), { numRuns: 1, seed: 12 });
    const first = BASE_TIME_MS + 24 * HOUR_MS;
    const second = first + 3 * HOUR_MS;
    await setup.archive(sample.deliveries);
    await setup.run(nowFor(first));
    const next = await setup.run(nowFor(second));
    for (const definition of config.views) {
      const windowRows = expectedBatchView(definition, sample.deliveries, second, { fromMs: first });
      expect(outcomeOf(next, definition.name)).toMatchObject({
        outcome: 'flipped',
        cutoff: second,
        rows: windowRows.size,
        windows: [{ from: first, to: second, rows: windowRows.size, outcome: 'flipped' }],
      });
      await expectServedExact(setup, definition.name, second, sample.deliveries);
      // Every stored row is one window's: a key and bucket touched by both windows has a row in each.
      const stored = await setup.windowRows(definition.name);
      expect(stored.filter((row) => row.windowTo === second)).toHaveLength(windowRows.size);
      expect(stored.every((row) => (row.windowFrom === 0 && row.windowTo === first) || row.windowTo === second)).toBe(
        true,
      );
    }
    expect(next.metrics.total('BatchWindowSeconds')).toBe((second - first) / 1000);

    const updatesBefore = setup.faults.count('UpdateItemCommand');
    const writesBefore = setup.faults.count('BatchWriteItemCommand');
    const idle = await setup.run(nowFor(second, EPOCH_MS - 1));
    expect(idle.failed).toBe(false);
    expect(idle.summary.views.map((outcome) => [outcome.outcome, outcome.cutoff, outcome.windows])).toEqual(
      config.views.map(() => ['up-to-date', second, []]),
    );
    expect(idle.summary.preparation).toBeUndefined();
    expect(setup.faults.count('UpdateItemCommand')).toBe(updatesBefore);
    expect(setup.faults.count('BatchWriteItemCommand')).toBe(writesBefore);
    expect(idle.metrics.total('BatchWindowsFlipped')).toBe(0);
    expect(idle.metrics.total('BatchRunSucceeded')).toBe(1);
    setup.destroy();
  });

  it('readers see the served cutoff, complete, until the flip, never the pending window, and then the new cutoff', async () => {
    const setup = await fixture();
    const [sample] = fc.sample(streamArbitrary({ minLength: 40, maxLength: 40 }), { numRuns: 1, seed: 11 });
    const first = BASE_TIME_MS + 24 * HOUR_MS;
    const second = first + 3 * HOUR_MS;
    const more = arrivingIn(sample.deliveries, first, second, 'shardId-000000000007');
    const deliveries = [...sample.deliveries, ...more];
    await setup.archive(deliveries);
    await setup.run(nowFor(first));
    const name = 'site_metric_hour';
    const before = expectedBatchView(view(name), deliveries, first);
    const after = expectedBatchView(view(name), deliveries, second);
    expect(after).not.toEqual(before);

    // A reader polling throughout the second run: the cutoff it was served, and whether the answer was exact.
    const observations: { cutoff: number | null; exact: boolean }[] = [];
    const observe = async () => {
      const answer = await setup.answer(view(name));
      const expected = answer.cutoff === first ? before : answer.cutoff === second ? after : undefined;
      observations.push({ cutoff: answer.cutoff, exact: expected !== undefined && equal(answer.buckets, expected) });
    };
    let running = true;
    const reader = (async () => {
      while (running) await observe();
    })();
    // Just before the flip, the window's rows are all written, and still not served.
    let beforeFlip: { cutoff: number | null; pending: unknown; windowRows: number } | undefined;
    const onStep = async (step: WindowStep) => {
      if (step.view !== name || step.step !== 'flipping') return;
      const state = await setup.state(name);
      beforeFlip = {
        cutoff: state.cutoff,
        pending: state.pending,
        windowRows: (await setup.windowRows(name)).filter((row) => row.windowTo === second).length,
      };
      await observe();
    };
    const next = await setup.run(nowFor(second), { onStep });
    running = false;
    await reader;
    await observe();

    expect(beforeFlip).toEqual({
      cutoff: first,
      pending: { from: first, to: second, startedAt: nowFor(second) },
      windowRows: outcomeOf(next, name).rows,
    });
    expect(outcomeOf(next, name).rows).toBeGreaterThan(0);
    expect(observations.every((observation) => observation.exact)).toBe(true);
    const cutoffs = observations.map((observation) => observation.cutoff);
    const firstNew = cutoffs.indexOf(second);
    expect(firstNew).toBeGreaterThan(0);
    expect(cutoffs.slice(0, firstNew).every((cutoff) => cutoff === first)).toBe(true);
    expect(cutoffs.slice(firstNew).every((cutoff) => cutoff === second)).toBe(true);
    setup.destroy();
  });

  it('catches up window by window, at most maxWindowMs each, and a run out of time stops behind for the next one to go on', async () => {
    const setup = await fixture({ maxWindowMs: HOUR_MS });
    const [sample] = fc.sample(streamArbitrary({ minLength: 40, maxLength: 40 }), { numRuns: 1, seed: 13 });
    await setup.archive(sample.deliveries);
    const first = BASE_TIME_MS + 6 * HOUR_MS;
    const target = first + 4 * HOUR_MS;
    // The first window of a view starts at 0, however long.
    const initial = await setup.run(nowFor(first));
    expect(initial.summary.views.map((outcome) => outcome.windows.map(({ from, to }) => [from, to]))).toEqual(
      config.views.map(() => [[0, first]]),
    );

    // The clock moves a minute at each flip: the budget allows two windows.
    let clock = nowFor(target);
    const behind = await setup.run(clock, {
      now: () => clock,
      timeBudgetMs: 2 * config.views.length * 60_000,
      onStep: ({ step }) => {
        if (step === 'flipping') clock += 60_000;
      },
    });
    expect(behind.failed).toBe(false);
    expect(behind.summary.cutoff).toBe(target);
    for (const definition of config.views) {
      expect(outcomeOf(behind, definition.name)).toMatchObject({
        outcome: 'behind',
        cutoff: first + 2 * HOUR_MS,
        windows: [
          { from: first, to: first + HOUR_MS, outcome: 'flipped' },
          { from: first + HOUR_MS, to: first + 2 * HOUR_MS, outcome: 'flipped' },
        ],
      });
      await expectServedExact(setup, definition.name, first + 2 * HOUR_MS, sample.deliveries);
    }
    expect(behind.logger.at('warn')).toContainEqual(
      expect.objectContaining({ message: 'batch run out of time: the next run goes on from here' }),
    );
    expect(behind.metrics.total('BatchWindowsFlipped')).toBe(2 * config.views.length);

    const caughtUp = await setup.run(nowFor(target));
    for (const definition of config.views) {
      expect(outcomeOf(caughtUp, definition.name)).toMatchObject({
        outcome: 'flipped',
        cutoff: target,
        windows: [
          { from: first + 2 * HOUR_MS, to: first + 3 * HOUR_MS },
          { from: first + 3 * HOUR_MS, to: target },
        ],
      });
      await expectServedExact(setup, definition.name, target, sample.deliveries);
      expect(await setup.state(definition.name)).toMatchObject({ windows: 5, pending: null });
    }
    setup.destroy();
  });

  describe('overlapping runs corrupt nothing, and no window is served twice', () => {
    it('of two runs at the same clock, one flips each window and the other finds it flipped', async () => {
      const setup = await fixture();
      const [sample] = fc.sample(streamArbitrary({ minLength: 30 }), { numRuns: 1, seed: 9 });
      await setup.archive(sample.deliveries);
      const first = BASE_TIME_MS + 24 * HOUR_MS;
      for (const cutoff of [first, first + 2 * HOUR_MS]) {
        const both = await Promise.all([setup.run(nowFor(cutoff, 2_000)), setup.run(nowFor(cutoff, 1_000))]);
        expect(both.map((outcome) => outcome.failed)).toEqual([false, false]);
        for (const definition of config.views) {
          const windows = both.flatMap((outcome) => outcomeOf(outcome, definition.name).windows);
          expect(windows.filter((window) => window.outcome === 'flipped')).toHaveLength(1);
          expect(windows.every((window) => window.to === cutoff)).toBe(true);
          await expectServedExact(setup, definition.name, cutoff, sample.deliveries);
        }
      }
      for (const definition of config.views) {
        expect(await setup.state(definition.name)).toMatchObject({ windows: 2, pending: null });
      }
      setup.destroy();
    });

    const cases = [
      {
        name: 'an earlier run held before its flip: a later run resumes its window, flips it and the next, and the earlier one finds them flipped',
        held: 'earlier' as const,
        at: 'flipping' as const,
      },
      {
        name: 'a later run held after recording its window: an earlier run computes and flips that window, and the later one finds it flipped',
        held: 'later' as const,
        at: 'begun' as const,
      },
    ];
    it.each(cases)('$name', async ({ held, at }) => {
      const setup = await fixture();
      const [sample] = fc.sample(streamArbitrary({ minLength: 30 }), { numRuns: 1, seed: 5 });
      await setup.archive(sample.deliveries);
      const earlier = BASE_TIME_MS + 24 * HOUR_MS;
      const later = earlier + 2 * EPOCH_MS;
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      let reached: () => void = () => undefined;
      const holding = new Promise<void>((resolve) => (reached = resolve));
      const hold = async (step: WindowStep) => {
        if (step.step !== at) return;
        reached();
        await released;
      };
      const heldRun = setup.run(nowFor(held === 'earlier' ? earlier : later), { onStep: hold });
      await holding;
      const other = await setup.run(nowFor(held === 'earlier' ? later : earlier));
      release();
      const stalled = await heldRun;
      expect([other.failed, stalled.failed]).toEqual([false, false]);
      // The held run holds at the first view's step: the other views had not begun their window yet.
      const heldView = config.views[0].name;
      const flippedWindows = (name: string) =>
        [other, stalled]
          .flatMap((outcome) => outcomeOf(outcome, name).windows)
          .filter((window) => window.outcome === 'flipped')
          .map(({ from, to }) => [from, to])
          .sort(([a], [b]) => a - b);
      for (const definition of config.views) {
        expect((await setup.state(definition.name)).cutoff).toBe(later);
        await expectServedExact(setup, definition.name, later, sample.deliveries);
        const resumedByOther = held === 'earlier' ? [[0, earlier]] : [[0, later]];
        const otherViews =
          held === 'earlier'
            ? [[0, later]]
            : [
                [0, earlier],
                [earlier, later],
              ];
        // Each window was flipped once, and the held run's copy of its window found it flipped.
        expect(flippedWindows(definition.name)).toEqual(
          definition.name === heldView
            ? held === 'earlier'
              ? [...resumedByOther, [earlier, later]]
              : resumedByOther
            : otherViews,
        );
        if (definition.name === heldView) {
          expect(outcomeOf(stalled, heldView).windows.map((window) => window.outcome)).toEqual(['flipped-by-another']);
        }
      }
      setup.destroy();
    });
  });

  it('a run whose writes fail halfway for one view leaves that view served at its cutoff with the window pending, flips the others, and the next run resumes the window on its bounds', async () => {
    const setup = await fixture();
    const [sample] = fc.sample(streamArbitrary({ minLength: 60, maxLength: 60 }), { numRuns: 1, seed: 3 });
    const first = BASE_TIME_MS + 24 * HOUR_MS;
    const second = first + 3 * HOUR_MS;
    const deliveries = [...sample.deliveries, ...arrivingIn(sample.deliveries, first, second, 'shardId-000000000007')];
    await setup.archive(deliveries);
    await setup.run(nowFor(first));
    const name = 'device_metric_minute';
    const windowRows = expectedBatchView(view(name), deliveries, second, { fromMs: first }).size;
    expect(windowRows).toBeGreaterThan(25);

    // The second request carrying this view's items is denied: the first was written, the rest never are.
    let seen = 0;
    setup.faults.failWhen((request) => {
      if (!request.partitionKeys.some((pk) => pk.startsWith(`${name}#`))) return undefined;
      seen += 1;
      return seen === 2 ? ACCESS_DENIED : undefined;
    });
    const nowMs = nowFor(second);
    const failing = await setup.run(nowMs);
    setup.faults.heal();

    expect(failing.failed).toBe(true);
    expect(outcomeOf(failing, name)).toMatchObject({
      outcome: 'failed',
      cutoff: first,
      windows: [],
      error: expect.stringMatching(/^write: AccessDeniedException/),
    });
    expect(failing.logger.at('error')).toEqual([
      expect.objectContaining({
        message: 'batch window failed: the view serves what it did, and the next run resumes the window',
        attributes: expect.objectContaining({ view: name, from: new Date(first).toISOString() }),
      }),
    ]);
    expect(failing.metrics.total('BatchRunFailed')).toBe(1);
    expect(failing.metrics.total('BatchRunSucceeded')).toBe(0);
    // The age of what is served is the failed view's: it keeps growing until that view catches up.
    expect(failing.metrics.total('BatchCutoffAgeSeconds')).toBe((nowMs - first) / 1000);
    expect(await setup.state(name)).toMatchObject({
      cutoff: first,
      pending: { from: first, to: second, startedAt: nowMs },
    });
    // What the failed run did write is in the table, and not served.
    const written = (await setup.windowRows(name)).filter((row) => row.windowTo === second).length;
    expect(written).toBeGreaterThanOrEqual(25);
    expect(written).toBeLessThan(windowRows);
    await expectServedExact(setup, name, first, deliveries);
    for (const other of config.views.filter((definition) => definition.name !== name)) {
      expect(outcomeOf(failing, other.name)).toMatchObject({ outcome: 'flipped', cutoff: second });
      await expectServedExact(setup, other.name, second, deliveries);
    }

    // Later, the pending window is resumed on its own bounds before the view goes on.
    const third = second + EPOCH_MS;
    const resumed = await setup.run(nowFor(third));
    expect(resumed.failed).toBe(false);
    expect(outcomeOf(resumed, name).windows.map(({ from, to, rows }) => [from, to, rows])).toEqual([
      [first, second, windowRows],
      [second, third, expectedBatchView(view(name), deliveries, third, { fromMs: second }).size],
    ]);
    expect(resumed.logger.at('info')).toContainEqual(
      expect.objectContaining({
        message: 'resuming a pending batch window',
        attributes: expect.objectContaining({ view: name }),
      }),
    );
    for (const definition of config.views) await expectServedExact(setup, definition.name, third, deliveries);
    setup.destroy();
  });

  it('a run whose engine fails leaves every view served as it was, and a query that fails for one view leaves its window pending for the next run', async () => {
    const setup = await fixture();
    const [sample] = fc.sample(streamArbitrary({ minLength: 10 }), { numRuns: 1, seed: 4 });
    await setup.archive(sample.deliveries);
    await setup.run(nowFor(LATE_CUTOFF));

    const unopenable = await setup.run(nowFor(LATE_CUTOFF + EPOCH_MS), {
      engine: new DuckDbEngine({ s3: emulators.s3, bucket: 'no-such-bucket' }),
    });
    expect(unopenable.failed).toBe(true);
    expect(unopenable.summary.views.map((outcome) => outcome.error)).toEqual(
      Array(config.views.length).fill(expect.stringMatching(/^engine: NoSuchBucket/)),
    );
    expect(unopenable.metrics.total('BatchRunFailed')).toBe(1);
    for (const definition of config.views) {
      expect(await setup.state(definition.name)).toMatchObject({ cutoff: LATE_CUTOFF, pending: null });
    }

    // A query that fails for one view: the others still run and flip.
    const real = setup.engine();
    let viewQueries = 0;
    const flaky: BatchEngine = {
      open: async (scope) => {
        const session = await real.open(scope);
        return {
          ...session,
          run: async (sql) => {
            // The window's first query counts the skipped rows; the views' queries follow in declared order.
            if (!sql.includes(SKIPPED_RESULT_COLUMNS.rows)) viewQueries += 1;
            if (viewQueries === 2) throw new Error('Binder Error: injected');
            return session.run(sql);
          },
        };
      },
    };
    const cutoff = LATE_CUTOFF + 2 * EPOCH_MS;
    const halfFailed = await setup.run(nowFor(cutoff), { engine: flaky });
    expect(outcomes(halfFailed)).toEqual([
      ['device_metric_minute', 'flipped'],
      ['site_metric_hour', 'failed'],
      ['device_once_per_event', 'flipped'],
      ['warm_sites_day', 'flipped'],
    ]);
    expect(outcomeOf(halfFailed, 'site_metric_hour').error).toBe('query: Error: Binder Error: injected');
    expect(await setup.state('site_metric_hour')).toMatchObject({
      cutoff: LATE_CUTOFF,
      pending: { from: LATE_CUTOFF, to: cutoff },
    });
    expect((await setup.served('warm_sites_day'))?.cutoff).toBe(cutoff);

    const next = await setup.run(nowFor(cutoff));
    expect(outcomes(next)).toEqual([
      ['device_metric_minute', 'up-to-date'],
      ['site_metric_hour', 'flipped'],
      ['device_once_per_event', 'up-to-date'],
      ['warm_sites_day', 'up-to-date'],
    ]);
    for (const definition of config.views) await expectServedExact(setup, definition.name, cutoff, sample.deliveries);
    setup.destroy();
  });

  it('a view whose first base a rebuild is laying waits for it, and the others run', async () => {
    const setup = await fixture();
    const [sample] = fc.sample(streamArbitrary({ minLength: 10 }), { numRuns: 1, seed: 6 });
    await setup.archive(sample.deliveries);
    const name = 'warm_sites_day';
    const started = nowFor(LATE_CUTOFF);
    expect(
      await setup.store.updateManifest(
        beginRebuildRequest(
          name,
          { id: rebuildId(LATE_CUTOFF, started), cutoff: LATE_CUTOFF, startedAt: started },
          null,
        ),
      ),
    ).toBe(true);
    const outcome = await setup.run(nowFor(LATE_CUTOFF));
    expect(outcome.failed).toBe(false);
    expect(outcomeOf(outcome, name)).toMatchObject({ outcome: 'waiting-for-rebuild', cutoff: null, windows: [] });
    expect(await setup.served(name)).toBeNull();
    for (const other of config.views.filter((definition) => definition.name !== name)) {
      expect(outcomeOf(outcome, other.name).outcome).toBe('flipped');
    }
    setup.destroy();
  });
});

function equal<K, V>(a: Map<K, V>, b: Map<K, V>): boolean {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
}
