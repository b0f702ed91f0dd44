/**
 * Exactness of the batch layer over sequences of runs (DESIGN.md §4, §6; issue 14): random streams with late events,
 * duplicate deliveries and eventId copies around the de-dup horizon, archived progressively (everything that arrived
 * a buffer interval before the clock, so records past the cutoff are in the archive too), and batch runs at advancing
 * clocks with DuckDB over s3rver and dynalite. After every step of every run (a window recorded as pending, each
 * write chunk, just before the flip) and after every run, each view's answer, read as the serving layer reads it
 * (ViewReader: the manifest once, then the rows it names) and merged by the serving rule with batch rows only, at the
 * view's granularity and rolled up to days, equals brute force over the distinct valid records that arrived before
 * the served cutoff. At each step the window is the pending one, its rows are not served, and just before the flip
 * they are all in the table and exactly the window's.
 *
 * How much each property does, and why that is enough. Each case creates fresh tables and a bucket and archives its
 * stream; then each window costs a DuckDB session, five queries and the writes, and each step a read of the view
 * through the ViewReader (one Query per key): about 0.3 s per window with its checks on 2 shared cores. The file runs
 * in 70 to 90 s (fast-check stops at the first failure, endOnFailure: shrinking a case this costly would outlast the
 * test's timeout; the seed and path it prints replay the case).
 *
 * - Catching up (7 cases of 3 to 5 runs, up to 21 windows each): the first window [0, C), clocks that stay put
 *   (nothing to do) or jump by up to 5 epochs, windows of at most 1, 2 or 4 epochs, and half the runs with a time
 *   budget that stops them after 1 or 2 windows (then 'behind', and the next run goes on). The squeezed stream puts
 *   several arrivals in most epochs, so late events, duplicate deliveries and eventId copies straddle window bounds
 *   in most cases: that, and the de-dup horizon reaching into earlier windows, is what could go wrong.
 * - Failures and resumption (7 cases of 4 to 6 runs, then a clean one): each run is given one of twelve faults
 *   (none; a crash when the window is recorded, after a write chunk, or just before the flip; a refused, a throttled
 *   or a partly processed BatchWriteItem; a refused manifest write (a begin or a flip); a manifest write applied but
 *   its answer lost, so that the store's retry finds its condition false; a refused state read; an engine that does
 *   not start; a view's query that fails), at a random occurrence in the run. The next run must resume each pending
 *   window on its own bounds, and the clean run must bring every view to the cutoff. About 30 faults are drawn per
 *   run of the file, so each kind is hit two or three times, and each occurs at steps of different windows and views.
 * - Concurrent runs (5 cases of 2 to 4 rounds of two runs at the same cutoff, the first of them crashing at a random
 *   step in half the rounds): whatever the interleaving, the manifest counts each window flipped by exactly one run,
 *   and the answers are exact at every step of both runs.
 * - Write chunks (one case): a window of 1,110 rows for one view, three chunks of WINDOW_WRITE_CHUNK, that fails
 *   after chunk 0, then (resumed) after chunk 1, then with a refused request inside chunk 1, and is then resumed to
 *   its flip; its rows are never served before the flip, though the failed attempts may have written all of them.
 *
 * The sequences are short, but each law is per step: a step's correctness depends only on the manifest and the rows
 * before it, and every kind of step (first window, following window, resumed window, window after a failed one,
 * window computed twice, window written in several chunks) occurs many times per run of the file; fast-check's seed
 * changes on every run, so coverage accumulates across runs. What the same SQL does over many more streams and
 * windows is batch-sql.test.ts's (100 runs in DuckDB alone). That a rebuild's answers equal the incremental ones is
 * for the rebuild suites to prove.
 */
import fc from 'fast-check';
import type { BatchEngine } from '../../functions/batch/batch-engine';
import { WINDOW_WRITE_CHUNK, type WindowStep } from '../../functions/batch/batch-job';
import { SKIPPED_RESULT_COLUMNS } from '../../functions/core/batch-sql';
import { dimensionKeyOf } from '../../functions/core/dimension-key';
import type { Granularity } from '../../functions/core/granularity';
import type { ArrivalWindow } from '../../functions/core/manifest';
import type { PipelineConfig } from '../../functions/core/pipeline-config';
import { applyServingRule } from '../../functions/core/serving-rule';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { BASE_TIME_MS, sequenceNumber, streamArbitrary, type GeneratedStream } from '../support/stream-arbitraries';
import {
  BATCH_TEST_CONFIG,
  BatchEmulators,
  batchRunFixture,
  expectedBatchView,
  nowFor,
  presented,
  type BatchRunFixture,
  type RunOutcome,
} from './batch-run-fixture';
import { ACCESS_DENIED, THROTTLED, type WriteFault } from './dynamodb-write-faults';
import { eventIdCopiesArbitrary, withEventIdCopies } from './event-id-copies';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const EPOCH_MS = BATCH_TEST_CONFIG.epochLengthMs;
/** Half an hour: eventId copies around it fall in different windows, and a window reads two hours' objects. */
const HORIZON_MS = 30 * MINUTE_MS;
const config: PipelineConfig = { ...BATCH_TEST_CONFIG, dedupHorizonMs: HORIZON_MS };
const views = config.views;
const viewNamed = (name: string) => views.find((view) => view.name === name) as ViewDefinition;

/** The generated arrivals are squeezed into [T0, T0 + SPAN): a few hours, so that a case has a handful of windows. */
const T0 = BASE_TIME_MS + 24 * HOUR_MS;
const SPAN_MS = 2 * HOUR_MS;
/** How far streamArbitrary's arrivals spread: event times over 48 hours, up to 6 hours late. */
const GENERATED_SPAN_MS = 54 * HOUR_MS;

const emulators = BatchEmulators.forThisFile();

/**
 * The stream with its arrivals squeezed into [T0, T0 + SPAN), each event keeping its lateness, and on three devices
 * rather than six (one per site, as before): fewer keys to read at each check, and more keys and buckets that several
 * windows touch.
 */
function squeeze({ records, deliveries }: GeneratedStream): GeneratedStream {
  const move = (record: StreamRecord): StreamRecord => {
    const arrivalMs = T0 + Math.floor(((record.arrivalMs - BASE_TIME_MS) * SPAN_MS) / GENERATED_SPAN_MS);
    const ts = arrivalMs - (record.arrivalMs - (record.event.ts as number));
    const deviceId = `device-${(record.event.site as string).slice(-1)}`;
    return { ...record, arrivalMs, event: { ...record.event, deviceId, ts } };
  };
  // Duplicate deliveries are the same record, so they keep sharing their arrival.
  return { records: records.map(move), deliveries: deliveries.map(move) };
}

const sequenceStreamArbitrary = fc
  .tuple(streamArbitrary({ minLength: 8, maxLength: 40 }), eventIdCopiesArbitrary(HORIZON_MS, 5))
  .map(([stream, copies]) => withEventIdCopies(squeeze(stream), copies).deliveries);

/** Cutoffs of consecutive runs: a first one around T0, then steps of 0 to 5 epochs. */
const cutoffsArbitrary = (minRuns: number, maxRuns: number) =>
  fc
    .tuple(
      fc.integer({ min: -1, max: 4 }),
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: minRuns - 1, maxLength: maxRuns - 1 }),
    )
    .map(([first, steps]) => {
      const cutoffs = [T0 + first * EPOCH_MS];
      for (const step of steps) cutoffs.push(cutoffs[cutoffs.length - 1] + step * EPOCH_MS);
      return cutoffs;
    });
const maxWindowArbitrary = fc.constantFrom(1, 2, 4).map((epochs) => epochs * EPOCH_MS);

/** A view's answers are checked at its granularity and rolled up to days. */
const granularitiesOf = (view: ViewDefinition): Granularity[] => [...new Set([view.granularity, 'day' as const])];

/**
 * One case: a fixture, the stream, what has been archived so far, and the checks every step and run makes. The
 * expected answers are brute force over every delivery that arrived before the served cutoff (all of which have been
 * archived by then).
 */
class Sequence {
  private readonly unarchived: StreamRecord[];
  /** Per view, every key the stream can touch: the keys a check reads (a row at any other key fails the flip check). */
  private readonly keys: ReadonlyMap<string, ReadonlySet<string>>;
  /** The served cutoff each view was last seen at, to check that it never moves back (sequential runs only). */
  private readonly lastSeen = new Map<string, number | null>();

  constructor(
    readonly setup: BatchRunFixture,
    readonly deliveries: readonly StreamRecord[],
    private readonly sequential: boolean,
    private readonly invocationSize: number,
  ) {
    this.unarchived = [...deliveries];
    this.keys = new Map(
      views.map((view) => [view.name, new Set(deliveries.map((record) => dimensionKeyOf(view, record.event)))]),
    );
  }

  static async start(
    deliveries: readonly StreamRecord[],
    caseConfig: PipelineConfig,
    { sequential = true, invocationSize = 20 }: { sequential?: boolean; invocationSize?: number } = {},
  ) {
    return new Sequence(await batchRunFixture(emulators, caseConfig), deliveries, sequential, invocationSize);
  }

  /** Archives what Firehose has delivered by `nowMs`: every delivery that arrived a buffer interval before it. */
  async archiveUntil(nowMs: number): Promise<void> {
    const due = this.unarchived.filter((record) => record.arrivalMs < nowMs - config.bufferIntervalMs);
    if (due.length === 0) return;
    for (const record of due) this.unarchived.splice(this.unarchived.indexOf(record), 1);
    await this.setup.archive(due, [], { invocationSize: this.invocationSize });
  }

  /** The view's answer, read as the serving layer reads it, equals brute force at the cutoff it was served at. */
  async expectExact(name: string, label: string): Promise<number | null> {
    const definition = viewNamed(name);
    const { manifest, rows } = await this.setup.servedRows(name, this.keys.get(name));
    const cutoff = manifest?.cutoff ?? null;
    for (const granularity of granularitiesOf(definition)) {
      const served = presented(definition, applyServingRule({ batch: rows, realtime: [], cutoff, granularity }));
      const expected =
        cutoff === null
          ? new Map()
          : expectedBatchView(definition, this.deliveries, cutoff, { dedupHorizonMs: HORIZON_MS, granularity });
      expect({ label, view: name, cutoff, granularity, buckets: served }).toEqual({
        label,
        view: name,
        cutoff,
        granularity,
        buckets: expected,
      });
    }
    if (this.sequential) {
      const before = this.lastSeen.get(name) ?? null;
      expect({ label, view: name, movedBack: before !== null && (cutoff === null || cutoff < before) }).toEqual({
        label,
        view: name,
        movedBack: false,
      });
      this.lastSeen.set(name, cutoff);
    }
    return cutoff;
  }

  async expectAllExact(label: string): Promise<void> {
    for (const view of views) await this.expectExact(view.name, label);
  }

  /**
   * The check at a step of a window: the answer is exact; in a sequential case, the window is the pending one, the
   * served cutoff is its start, and just before the flip its rows are in the table and exactly the window's.
   */
  async checkStep(step: WindowStep, label: string): Promise<void> {
    const { from, to } = step.window;
    const where = `${label} ${step.view} ${step.step}${step.chunk ?? ''} [${from}, ${to})`;
    const cutoff = await this.expectExact(step.view, where);
    if (!this.sequential) return;
    const state = await this.setup.state(step.view);
    expect({ where, cutoff, pending: state.pending === null ? null : [state.pending.from, state.pending.to] }).toEqual({
      where,
      cutoff: from === 0 ? null : from,
      pending: [from, to],
    });
    if (step.step === 'flipping') {
      const written = (await this.setup.windowRows(step.view, to)).filter((row) => row.windowFrom === from);
      expect({ where, rows: presented(viewNamed(step.view), written) }).toEqual({
        where,
        rows: expectedBatchView(viewNamed(step.view), this.deliveries, to, {
          fromMs: from,
          dedupHorizonMs: HORIZON_MS,
        }),
      });
    }
  }
}

/** The windows a view computed in a run follow one another from where it was served, each at most maxWindowMs. */
function expectConsecutive(windows: readonly ArrivalWindow[], servedBefore: number | null, maxWindowMs: number) {
  let from = servedBefore ?? 0;
  for (const window of windows) {
    expect(window.from).toBe(from);
    if (window.from !== 0) expect(window.to - window.from).toBeLessThanOrEqual(maxWindowMs);
    expect(window.to).toBeGreaterThan(window.from);
    from = window.to;
  }
}

const servedCutoffs = async (sequence: Sequence) =>
  new Map(
    await Promise.all(views.map(async (view) => [view.name, (await sequence.setup.state(view.name)).cutoff] as const)),
  );

describe('sequences of batch runs (DuckDB over s3rver and dynalite)', () => {
  it('catch up window by window, stop when their time is spent, and go on: exact after every step', async () => {
    await fc.assert(
      fc.asyncProperty(
        sequenceStreamArbitrary,
        cutoffsArbitrary(3, 5),
        maxWindowArbitrary,
        fc.array(fc.option(fc.constantFrom(1, 2), { nil: undefined }), { minLength: 5, maxLength: 5 }),
        fc.nat(EPOCH_MS - 1),
        async (deliveries, cutoffs, maxWindowMs, budgets, into) => {
          const sequence = await Sequence.start(deliveries, { ...config, maxWindowMs });
          try {
            for (const [index, cutoff] of cutoffs.entries()) {
              const label = `run ${index} to ${cutoff}`;
              let clock = nowFor(cutoff, into);
              await sequence.archiveUntil(clock);
              const before = await servedCutoffs(sequence);
              const budget = budgets[index];
              const outcome = await sequence.setup.run(clock, {
                now: () => clock,
                // With a budget, the clock moves a minute at each flip: the run stops after `budget` windows (the
                // default budget, ten minutes, is never reached by a clock that stands still).
                ...(budget === undefined ? {} : { timeBudgetMs: budget * views.length * MINUTE_MS }),
                onStep: async (step) => {
                  await sequence.checkStep(step, label);
                  if (budget !== undefined && step.step === 'flipping') clock += MINUTE_MS;
                },
              });
              expect({ label, failed: outcome.failed }).toEqual({ label, failed: false });
              for (const view of outcome.summary.views) {
                const servedBefore = before.get(view.view) ?? null;
                expectConsecutive(view.windows, servedBefore, maxWindowMs);
                expect(view.windows.every((window) => window.outcome === 'flipped')).toBe(true);
                const needed = servedBefore === null ? 1 : Math.ceil(Math.max(0, cutoff - servedBefore) / maxWindowMs);
                const done = Math.min(needed, budget ?? needed);
                expect({ label, view: view.view, windows: view.windows.length }).toEqual({
                  label,
                  view: view.view,
                  windows: done,
                });
                expect(view.outcome).toBe(done < needed ? 'behind' : done > 0 ? 'flipped' : 'up-to-date');
                if (done === needed) expect(view.cutoff).toBe(cutoff);
              }
              await sequence.expectAllExact(label);
            }
          } finally {
            sequence.setup.destroy();
          }
        },
      ),
      { numRuns: 7, endOnFailure: true },
    );
  });

  /** What goes wrong in one run. `nth` counts the matching events of the run, from 1. */
  type Fault =
    | { readonly kind: 'none' }
    | { readonly kind: 'crash'; readonly step: WindowStep['step']; readonly nth: number }
    | {
        readonly kind: 'writeDenied' | 'writeThrottled' | 'writeUnprocessed' | 'manifestDenied' | 'stateDenied';
        readonly nth: number;
      }
    | { readonly kind: 'manifestAnswerLost' | 'engineDown' | 'queryFails'; readonly nth: number };
  /** The nth event of its kind in a run: a run has a few windows, each with about four of each event. */
  const nth = fc.integer({ min: 1, max: 6 });
  const faultArbitrary: fc.Arbitrary<Fault> = fc.oneof(
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('crash' as const),
        step: fc.constantFrom('begun', 'written', 'flipping'),
        nth,
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constantFrom(
          'writeDenied',
          'writeThrottled',
          'writeUnprocessed',
          'manifestDenied',
          'stateDenied',
          'manifestAnswerLost',
          'queryFails',
        ),
        nth,
      }),
    },
    // A run opens one session per window: the first or the second.
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('engineDown' as const), nth: fc.integer({ min: 1, max: 2 }) }),
    },
  );

  /** DynamoDB faults for one run, counted from now on; `heal` ends them. */
  function injectDynamoDbFault(
    setup: BatchRunFixture,
    lose: ReturnType<typeof loseManifestAnswers>,
    fault: Fault,
  ): void {
    lose.arm(fault.kind === 'manifestAnswerLost' ? fault.nth : null);
    const byKind: Partial<Record<Fault['kind'], [command: string, answer: WriteFault]>> = {
      writeDenied: ['BatchWriteItemCommand', ACCESS_DENIED],
      writeThrottled: ['BatchWriteItemCommand', THROTTLED],
      writeUnprocessed: ['BatchWriteItemCommand', { unprocessed: 3 }],
      manifestDenied: ['UpdateItemCommand', ACCESS_DENIED],
      stateDenied: ['GetItemCommand', ACCESS_DENIED],
    };
    const chosen = byKind[fault.kind];
    if (chosen === undefined || fault.kind === 'none' || fault.kind === 'crash') return;
    const [command, answer] = chosen;
    let seen = 0;
    setup.faults.failWhen((request) => {
      if (request.command !== command) return undefined;
      seen += 1;
      return seen === fault.nth ? answer : undefined;
    });
  }

  /** Loses the answers of manifest writes after they were applied (the store then retries them), when armed. */
  function loseManifestAnswers(setup: BatchRunFixture): { arm(nth: number | null): void } {
    let armed: number | null = null;
    let seen = 0;
    setup.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'UpdateItemCommand' && armed !== null) {
          seen += 1;
          if (seen === armed) {
            throw Object.assign(new Error('injected: the answer was lost'), {
              name: 'InternalServerError',
              $metadata: {},
            });
          }
        }
        return result;
      },
      { step: 'initialize', name: 'loseManifestAnswers' },
    );
    return {
      arm: (nth) => {
        armed = nth;
        seen = 0;
      },
    };
  }

  /** The fixture's engine, failing to open or failing a view's query as the fault says. */
  function engineFor(setup: BatchRunFixture, fault: Fault): BatchEngine {
    const real = setup.engine();
    let opened = 0;
    let queries = 0;
    return {
      open: async (scope) => {
        opened += 1;
        if (fault.kind === 'engineDown' && opened === fault.nth) throw new Error('injected: the engine did not start');
        const session = await real.open(scope);
        return {
          ...session,
          run: async (sql) => {
            if (!sql.includes(SKIPPED_RESULT_COLUMNS.rows)) {
              queries += 1;
              if (fault.kind === 'queryFails' && queries === fault.nth) throw new Error('injected: the query failed');
            }
            return session.run(sql);
          },
        };
      },
    };
  }

  it('fail at any step, and the next run resumes each pending window on its bounds: exact after every step', async () => {
    await fc.assert(
      fc.asyncProperty(
        sequenceStreamArbitrary,
        cutoffsArbitrary(4, 6),
        maxWindowArbitrary,
        fc.array(faultArbitrary, { minLength: 6, maxLength: 6 }),
        async (deliveries, cutoffs, maxWindowMs, faults) => {
          const sequence = await Sequence.start(deliveries, { ...config, maxWindowMs });
          const { setup } = sequence;
          const lose = loseManifestAnswers(setup);
          try {
            // The last run is a clean one at the last clock: whatever failed before, it catches every view up.
            const runs = [
              ...cutoffs.map((cutoff, index) => ({ cutoff, fault: faults[index] })),
              {
                cutoff: cutoffs[cutoffs.length - 1],
                fault: { kind: 'none' } as const,
              },
            ];
            for (const [index, { cutoff, fault }] of runs.entries()) {
              const label = `run ${index} to ${cutoff} with ${JSON.stringify(fault)}`;
              const clock = nowFor(cutoff);
              await sequence.archiveUntil(clock);
              const before = await Promise.all(views.map((view) => setup.state(view.name)));
              injectDynamoDbFault(setup, lose, fault);
              let crashes = 0;
              let outcome: RunOutcome;
              try {
                outcome = await setup.run(clock, {
                  engine: engineFor(setup, fault),
                  onStep: async (step) => {
                    await sequence.checkStep(step, label);
                    if (fault.kind === 'crash' && step.step === fault.step) {
                      crashes += 1;
                      if (crashes === fault.nth) throw new Error(`injected: crashed at ${step.step}`);
                    }
                  },
                });
              } finally {
                setup.faults.heal();
                lose.arm(null);
              }
              for (const [viewIndex, view] of outcome.summary.views.entries()) {
                const { pending, cutoff: servedBefore } = before[viewIndex];
                if (view.outcome === 'failed') continue;
                // A pending window is resumed first, on its own bounds.
                if (pending !== null) {
                  expect({
                    label,
                    view: view.view,
                    first: view.windows[0] && [view.windows[0].from, view.windows[0].to],
                  }).toEqual({ label, view: view.view, first: [pending.from, pending.to] });
                }
                expectConsecutive(
                  view.windows,
                  servedBefore,
                  Math.max(maxWindowMs, (pending?.to ?? 0) - (pending?.from ?? 0)),
                );
                expect({ label, view: view.view, cutoff: view.cutoff }).toEqual({ label, view: view.view, cutoff });
              }
              if (fault.kind === 'none' || fault.kind === 'writeThrottled' || fault.kind === 'writeUnprocessed') {
                // A run without a failure (retries are not failures) catches every view up.
                expect({ label, failed: outcome.failed }).toEqual({ label, failed: false });
              }
              await sequence.expectAllExact(label);
            }
            for (const view of views) {
              expect(await setup.state(view.name)).toMatchObject({
                cutoff: cutoffs[cutoffs.length - 1],
                pending: null,
              });
            }
          } finally {
            setup.destroy();
          }
        },
      ),
      { numRuns: 7, endOnFailure: true },
    );
  });

  it('run two at a time, at the same cutoff, one of them crashing: every window is flipped once, exact after every step', async () => {
    await fc.assert(
      fc.asyncProperty(
        sequenceStreamArbitrary,
        cutoffsArbitrary(2, 4),
        maxWindowArbitrary,
        fc.array(
          fc.record({
            into: fc.tuple(fc.nat(EPOCH_MS - 1), fc.nat(EPOCH_MS - 1)),
            crash: fc.option(
              fc.record({ step: fc.constantFrom('begun', 'written', 'flipping'), nth: fc.integer({ min: 1, max: 4 }) }),
              { nil: undefined },
            ),
          }),
          { minLength: 4, maxLength: 4 },
        ),
        async (deliveries, cutoffs, maxWindowMs, rounds) => {
          const sequence = await Sequence.start(deliveries, { ...config, maxWindowMs }, { sequential: false });
          const { setup } = sequence;
          const flipped = new Map(views.map((view) => [view.name, 0]));
          try {
            for (const [index, cutoff] of cutoffs.entries()) {
              const { into, crash } = rounds[index];
              const label = `round ${index} to ${cutoff}`;
              await sequence.archiveUntil(nowFor(cutoff));
              let steps = 0;
              const runs = await Promise.all(
                into.map((offset, runIndex) =>
                  setup.run(nowFor(cutoff, offset), {
                    onStep: async (step) => {
                      await sequence.checkStep(step, `${label} run ${runIndex}`);
                      if (runIndex === 0 && crash !== undefined && step.step === crash.step) {
                        steps += 1;
                        if (steps === crash.nth) throw new Error(`injected: crashed at ${step.step}`);
                      }
                    },
                  }),
                ),
              );
              // The run that does not crash finishes the round's windows, whatever the other did.
              expect({ label, failed: runs[1].failed }).toEqual({ label, failed: false });
              if (crash === undefined) expect({ label, failed: runs[0].failed }).toEqual({ label, failed: false });
              for (const run of runs) {
                for (const view of run.summary.views) {
                  flipped.set(
                    view.view,
                    (flipped.get(view.view) ?? 0) +
                      view.windows.filter((window) => window.outcome === 'flipped').length,
                  );
                }
              }
              for (const view of views) {
                const state = await setup.state(view.name);
                // Each window the manifest counts was flipped by exactly one of the runs.
                expect({
                  label,
                  view: view.name,
                  cutoff: state.cutoff,
                  pending: state.pending,
                  windows: state.windows,
                }).toEqual({
                  label,
                  view: view.name,
                  cutoff,
                  pending: null,
                  windows: flipped.get(view.name),
                });
              }
              await sequence.expectAllExact(label);
            }
          } finally {
            setup.destroy();
          }
        },
      ),
      { numRuns: 5, endOnFailure: true },
    );
  });

  it(`with more rows in a window than a write chunk (${WINDOW_WRITE_CHUNK}), a window that fails after one chunk, then after two, then inside one, is resumed each time: exact after every step`, async () => {
    // An hour of 1,110 records of 30 keys over 37 minutes for device_metric_minute: three chunks of its writes.
    const from = T0;
    const to = T0 + HOUR_MS;
    const deliveries = Array.from({ length: 1_110 }, (_, index): StreamRecord => ({
      event: {
        eventId: `bulk-${index}`,
        deviceId: `device-${index % 10}`,
        site: `site-${(index % 10) % 3}`,
        metric: ['temperature', 'humidity', 'pressure'][index % 3],
        value: (index % 17) - 4,
        // 37 minutes of each key, up to 40 minutes late.
        ts: from - 40 * MINUTE_MS + Math.floor(index / 30) * MINUTE_MS + (index % 7) * 1_000,
      },
      shardId: 'shardId-000000000000',
      sequenceNumber: sequenceNumber(0, BigInt(index + 1)),
      subSequenceNumber: 0,
      arrivalMs: from + 1_000 + index * 3_000,
    }));
    const big = 'device_metric_minute';
    const windowRows = expectedBatchView(viewNamed(big), deliveries, to, { dedupHorizonMs: HORIZON_MS }).size;
    expect(windowRows).toBeGreaterThan(2 * WINDOW_WRITE_CHUNK);
    const sequence = await Sequence.start(deliveries, { ...config, maxWindowMs: HOUR_MS }, { invocationSize: 500 });
    const { setup } = sequence;
    /** Items of the big view the job sent to BatchWriteItem (denied requests included). */
    const itemsSent = () =>
      setup.faults.requests
        .filter((request) => request.command === 'BatchWriteItemCommand')
        .flatMap((request) => request.partitionKeys)
        .filter((pk) => pk.startsWith(`${big}#`)).length;
    try {
      // The first window [0, T0) has nothing; the next is [T0, T0 + 1 h).
      await sequence.archiveUntil(nowFor(T0));
      await setup.run(nowFor(T0), { onStep: (step) => sequence.checkStep(step, 'initial') });
      await sequence.archiveUntil(nowFor(to));
      const failures = [
        { name: 'a crash after chunk 0', crashAfterChunk: 0, sent: [WINDOW_WRITE_CHUNK, WINDOW_WRITE_CHUNK] },
        { name: 'a crash after chunk 1', crashAfterChunk: 1, sent: [2 * WINDOW_WRITE_CHUNK, 2 * WINDOW_WRITE_CHUNK] },
        // Requests carry 25 items each: the view's 30th request is inside its second chunk. The ones in flight
        // beside it finish; none starts after it.
        { name: 'a refused request inside chunk 1', deniedRequest: 30, sent: [30 * 25, 2 * WINDOW_WRITE_CHUNK - 1] },
      ];
      for (const failure of failures) {
        const label = `[${from}, ${to}) with ${failure.name}`;
        let seen = 0;
        if (failure.deniedRequest !== undefined) {
          setup.faults.failWhen((request) => {
            if (!request.partitionKeys.some((pk) => pk.startsWith(`${big}#`))) return undefined;
            seen += 1;
            return seen === failure.deniedRequest ? ACCESS_DENIED : undefined;
          });
        }
        const sentBefore = itemsSent();
        const failed = await setup.run(nowFor(to), {
          onStep: async (step) => {
            await sequence.checkStep(step, label);
            if (step.view === big && step.step === 'written' && step.chunk === failure.crashAfterChunk) {
              throw new Error(`injected: crashed after chunk ${step.chunk}`);
            }
          },
        });
        setup.faults.heal();
        expect({ label, outcome: failed.summary.views.find((view) => view.view === big)?.outcome }).toEqual({
          label,
          outcome: 'failed',
        });
        const sent = itemsSent() - sentBefore;
        expect({ label, sent: sent >= failure.sent[0] && sent <= failure.sent[1] }).toEqual({ label, sent: true });
        // The window stays pending on its bounds, and none of its rows is served, though the table holds at least
        // what this attempt wrote (attempts write the rows in the engine's order, which varies: together they may
        // have written every row of the window).
        expect((await setup.state(big)).pending).toMatchObject({ from, to });
        const written = (await setup.windowRows(big, to)).length;
        expect({ label, written: written >= failure.sent[0] }).toEqual({ label, written: true });
        await sequence.expectAllExact(`${label}, failed`);
      }
      const resumed = await setup.run(nowFor(to), { onStep: (step) => sequence.checkStep(step, 'resumed') });
      expect(resumed.failed).toBe(false);
      expect(
        resumed.summary.views.map((view) => [view.view, view.outcome, view.windows.map((window) => window.rows)]),
      ).toEqual(
        views.map((view) => [view.name, ...(view.name === big ? ['flipped', [windowRows]] : ['up-to-date', []])]),
      );
      await sequence.expectAllExact('resumed');
    } finally {
      setup.destroy();
    }
  });
});
