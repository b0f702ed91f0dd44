import fc from 'fast-check';
import { GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import { supersededRowsExpiry } from '../../functions/adapters/superseded-batch-rows';
import type { BatchEngine, SessionScope } from '../../functions/batch/batch-engine';
import type { ManifestFlipRequest } from '../../functions/core/manifest';
import { definePipelineConfig, type PipelineConfig } from '../../functions/core/pipeline-config';
import type { StreamRecord } from '../../functions/core/stream-record';
import { createRebuildJob, type RebuildJobDependencies } from '../../functions/rebuild/rebuild-job';
import { ensureBucket } from '../../local/provision';
import {
  BATCH_TEST_CONFIG,
  BatchEmulators,
  batchRunFixture,
  expectedBatchView,
  nowFor,
} from '../batch/batch-run-fixture';
import { RecordingLogger } from '../support/recording-telemetry';
import { BASE_TIME_MS, streamArbitrary } from '../support/stream-arbitraries';
import { servedBatchAnswer } from './served-batch';

const emulators = BatchEmulators.forThisFile();
const HOUR = 3_600_000;

/** The same generated stream every run: late events, duplicate deliveries and producer retries. */
function generatedDeliveries(seed: number): StreamRecord[] {
  const [stream] = fc.sample(streamArbitrary({ minLength: 40, maxLength: 60 }), { seed, numRuns: 1 });
  return [...stream.deliveries];
}

let workCounter = 0;

async function rebuildFixture(config: PipelineConfig = BATCH_TEST_CONFIG) {
  const fixture = await batchRunFixture(emulators, config);
  workCounter += 1;
  const workBucket = `work-${workCounter}`;
  await ensureBucket(emulators.s3, workBucket);
  const rebuilder = (nowMs: number, overrides: Partial<RebuildJobDependencies> = {}) =>
    createRebuildJob({
      config,
      engine: new DuckDbEngine({ s3: emulators.s3, bucket: fixture.bucket, schema: config.schema }),
      store: fixture.store,
      work: { s3: emulators.s3, bucket: workBucket },
      expireSuperseded: supersededRowsExpiry(fixture.dynamodb, fixture.batchTable),
      logger: new RecordingLogger(),
      now: () => nowMs,
      ...overrides,
    });
  const served = (viewName: string) =>
    servedBatchAnswer(
      fixture.dynamodb,
      fixture,
      config.views.find((view) => view.name === viewName)!,
    );
  const expected = (viewName: string, deliveries: readonly StreamRecord[], cutoff: number) =>
    expectedBatchView(
      config.views.find((view) => view.name === viewName)!,
      deliveries,
      cutoff,
    );
  return { ...fixture, workBucket, rebuilder, served, expected };
}

/** Cutoffs at the ends of three arrival windows over the generated stream (arrivals span up to ~56 h). */
const C1 = BASE_TIME_MS + 12 * HOUR;
const C2 = BASE_TIME_MS + 30 * HOUR;
const C3 = BASE_TIME_MS + 60 * HOUR;

describe('rebuilds (DuckDB, s3rver, dynalite)', () => {
  // Few cases, each a whole pipeline history (archive, windows, a rebuild of every view, more windows): each costs
  // seconds of emulator round trips. Together with the fixed-seed cases below, and the window sequences of
  // test/batch/batch-window-sequence.test.ts, that covers random streams, late events, duplicates and cutoffs.
  it('property: a rebuild at any served cutoff answers as the windows did, and windows after it stay exact', async () => {
    const hour = fc.integer({ min: 0, max: 60 }).map((hours) => BASE_TIME_MS + hours * HOUR);
    await fc.assert(
      fc.asyncProperty(
        streamArbitrary({ minLength: 10, maxLength: 40 }),
        fc.uniqueArray(hour, { minLength: 3, maxLength: 3 }).map((cutoffs) => [...cutoffs].sort((a, b) => a - b)),
        async (stream, [first, atRebuild, last]) => {
          const fixture = await rebuildFixture();
          await fixture.archive(stream.deliveries);
          await fixture.run(nowFor(first));
          await fixture.run(nowFor(atRebuild));
          for (const view of BATCH_TEST_CONFIG.views) {
            const windows = await fixture.served(view.name);
            expect(windows).toEqual(fixture.expected(view.name, stream.deliveries, atRebuild));
            expect((await fixture.rebuilder(nowFor(atRebuild, 1_000), { chunkRows: 5 })(view.name)).done).toBe(true);
            expect(await fixture.served(view.name)).toEqual(windows);
          }
          await fixture.run(nowFor(last));
          for (const view of BATCH_TEST_CONFIG.views) {
            expect(await fixture.served(view.name)).toEqual(fixture.expected(view.name, stream.deliveries, last));
          }
        },
      ),
      { numRuns: 4, endOnFailure: true },
    );
  });

  it("a rebuild's answers equal the incremental windows', and later windows continue from its base", async () => {
    const fixture = await rebuildFixture();
    const deliveries = generatedDeliveries(14);
    await fixture.archive(deliveries);
    await fixture.run(nowFor(C1));
    await fixture.run(nowFor(C2));
    for (const view of BATCH_TEST_CONFIG.views) {
      const expected = fixture.expected(view.name, deliveries, C2);
      expect(expected.size).toBeGreaterThan(0);
      expect(await fixture.served(view.name)).toEqual(expected);
    }

    for (const view of BATCH_TEST_CONFIG.views) {
      const result = await fixture.rebuilder(nowFor(C2, 1_000))(view.name);
      expect(result).toMatchObject({ view: view.name, done: true, cutoff: C2 });
      const state = await fixture.store.state(view.name);
      expect(state.base).toMatchObject({ id: result.id, cutoff: C2 });
      expect(state.rebuild).toBeNull();
      expect(await fixture.served(view.name)).toEqual(fixture.expected(view.name, deliveries, C2));
    }

    const summary = await fixture.run(nowFor(C3));
    expect(summary.failed).toBe(false);
    for (const view of BATCH_TEST_CONFIG.views) {
      expect((await fixture.store.state(view.name)).cutoff).toBe(C3);
      expect(await fixture.served(view.name)).toEqual(fixture.expected(view.name, deliveries, C3));
    }
  });

  it('a rebuild stopped at any step (compute recorded, each chunk, the flip, the expiry) is finished by running it again', async () => {
    const view = 'device_metric_minute';
    const deliveries = generatedDeliveries(7);
    const CRASHES = {
      computed: 'crashed at computed',
      chunk: 'crashed at a chunk',
      flip: 'crashed at the flip',
      expiry: 'crashed at the expiry',
    } as const;
    const steps = Object.keys(CRASHES) as (keyof typeof CRASHES)[];
    for (const step of steps) {
      const fixture = await rebuildFixture();
      await fixture.archive(deliveries);
      await fixture.run(nowFor(C1));
      await fixture.run(nowFor(C2));
      let saves = 0;
      const crashing: BatchViewStore = Object.create(fixture.store) as BatchViewStore;
      crashing.updateManifest = async (request: ManifestFlipRequest) => {
        const expression = request.UpdateExpression;
        if (step === 'computed' && expression.includes('#rebuildPrefix =')) throw new Error('crashed at computed');
        if (step === 'chunk' && expression.includes('#rebuildFilesDone = :files,') && ++saves === 2) {
          throw new Error('crashed at a chunk');
        }
        if (step === 'flip' && expression.includes('#baseId = :id')) throw new Error('crashed at the flip');
        return fixture.store.updateManifest(request);
      };
      const first = fixture.rebuilder(nowFor(C2, 1_000), {
        store: crashing,
        chunkRows: 7,
        ...(step === 'expiry'
          ? {
              expireSuperseded: async () => {
                throw new Error('crashed at the expiry');
              },
            }
          : {}),
      });
      await expect(first(view)).rejects.toThrow(CRASHES[step]);
      // Until the flip, readers see what the windows served; after it, the base: equal either way.
      expect(await fixture.served(view)).toEqual(fixture.expected(view, deliveries, C2));

      const resumed = await fixture.rebuilder(nowFor(C2, 2_000), { chunkRows: 7 })(view);
      expect(resumed).toMatchObject({ done: true, cutoff: C2 });
      const state = await fixture.store.state(view);
      expect(state.rebuild).toBeNull();
      expect(state.expiring).toBeNull();
      expect(state.base?.cutoff).toBe(C2);
      expect(await fixture.served(view)).toEqual(fixture.expected(view, deliveries, C2));
    }
  });

  it('starts from the new served cutoff when a window flips between its read of the state and its start', async () => {
    const view = 'site_metric_hour';
    const fixture = await rebuildFixture();
    const deliveries = generatedDeliveries(23);
    await fixture.archive(deliveries);
    await fixture.run(nowFor(C2));
    let raced = false;
    const racing: BatchViewStore = Object.create(fixture.store) as BatchViewStore;
    racing.updateManifest = async (request: ManifestFlipRequest) => {
      if (!raced && request.UpdateExpression.startsWith('SET #rebuildId = :id')) {
        raced = true;
        expect((await fixture.run(nowFor(C3))).failed).toBe(false);
      }
      return fixture.store.updateManifest(request);
    };
    const result = await fixture.rebuilder(nowFor(C3, 1_000), { store: racing })(view);
    expect(raced).toBe(true);
    expect(result).toMatchObject({ done: true, cutoff: C3 });
    expect(await fixture.served(view)).toEqual(fixture.expected(view, deliveries, C3));
  });

  it('an invocation past its deadline pauses between chunks, and the next one goes on from the saved progress', async () => {
    const view = 'site_metric_hour';
    const fixture = await rebuildFixture();
    const deliveries = generatedDeliveries(21);
    await fixture.archive(deliveries);
    await fixture.run(nowFor(C2));
    let clock = nowFor(C2, 1_000);
    const progress: number[] = [];
    let invocations = 0;
    for (;;) {
      invocations += 1;
      // Each invocation writes one chunk: its clock passes the deadline as soon as that chunk is saved.
      const deadline = clock + 1;
      const step = await fixture.rebuilder(clock, {
        chunkRows: 3,
        now: () => clock,
        logger: new RecordingLogger(),
      })(view, {
        deadlineMs: deadline,
        onProgress: (report) => {
          if (report.phase === 'writing') {
            progress.push(report.rowsWritten ?? 0);
            clock = deadline;
          }
        },
      });
      clock += 1_000;
      if (step.done) break;
      expect(invocations).toBeLessThan(100);
    }
    expect(invocations).toBeGreaterThan(2);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(await fixture.served(view)).toEqual(fixture.expected(view, deliveries, C2));
  });

  it('gives the rows it supersedes a TTL: the windows below the new base, and the old base', async () => {
    const view = 'warm_sites_day';
    const fixture = await rebuildFixture();
    const deliveries = generatedDeliveries(3);
    await fixture.archive(deliveries);
    await fixture.run(nowFor(C1));
    const now = nowFor(C1, 1_000);
    const first = await fixture.rebuilder(now)(view);
    await fixture.run(nowFor(C2));
    const second = await fixture.rebuilder(nowFor(C2, 1_000))(view);
    const { Items = [] } = await fixture.dynamodb.send(new ScanCommand({ TableName: fixture.batchTable }));
    const ttl = (prefix: string) =>
      Items.filter((item) => item.pk?.S?.startsWith(prefix)).map((item) => Number(item.expiresAt?.N ?? Infinity));
    const graceEnds = Math.ceil((nowFor(C2, 1_000) + 600_000) / 1000);
    expect(ttl(`${view}#b#${first.id}#`).length).toBeGreaterThan(0);
    expect(ttl(`${view}#b#${first.id}#`).every((expiresAt) => expiresAt <= graceEnds)).toBe(true);
    // A day view is kept for ever: its current base and the window rows above it have no TTL.
    expect(ttl(`${view}#b#${second.id}#`).every((expiresAt) => expiresAt === Infinity)).toBe(true);
    const windows = Items.filter((item) => item.pk?.S?.startsWith(`${view}#w#`));
    expect(windows.length).toBeGreaterThan(0);
    for (const item of windows) {
      const below = Number(item.windowTo?.N) <= C2;
      expect(Number(item.expiresAt?.N ?? Infinity) <= graceEnds).toBe(below);
    }
    expect(await fixture.served(view)).toEqual(fixture.expected(view, deliveries, C2));
  });

  it("lays a new view's first base while its windows wait, and the windows then continue from the base", async () => {
    const view = 'device_metric_minute';
    const fixture = await rebuildFixture();
    const deliveries = generatedDeliveries(5);
    await fixture.archive(deliveries);
    const now = nowFor(C2);
    // Stopped after computing, before any write: the view has a rebuild in progress and nothing served.
    const paused = await fixture.rebuilder(now)(view, { deadlineMs: now });
    expect(paused.done).toBe(false);
    const run = await fixture.run(nowFor(C2, 60_000));
    const summary = run.summary.views.find((candidate) => candidate.view === view)!;
    expect(summary.outcome).toBe('waiting-for-rebuild');
    expect(await fixture.served(view)).toEqual(new Map());

    expect((await fixture.rebuilder(nowFor(C2, 120_000))(view)).done).toBe(true);
    expect((await fixture.store.state(view)).cutoff).toBe(C2);
    expect(await fixture.served(view)).toEqual(fixture.expected(view, deliveries, C2));
    await fixture.run(nowFor(C3));
    expect(await fixture.served(view)).toEqual(fixture.expected(view, deliveries, C3));
  });

  it("takes over a new view's first window when it is pending, or being computed, and the windows continue from the base", async () => {
    const view = 'site_metric_hour';
    const deliveries = generatedDeliveries(17);
    for (const when of ['pending', 'computing'] as const) {
      const fixture = await rebuildFixture();
      await fixture.archive(deliveries);
      let rebuilt = false;
      const run = await fixture.run(nowFor(C1), {
        onStep: async (step) => {
          if (step.view !== view) return;
          if (when === 'pending' && step.step === 'begun') throw new Error('stopped with the window pending');
          if (when === 'computing' && step.step === 'flipping' && !rebuilt) {
            // While the run is about to flip [0, C1), a rebuild takes the view over and lays its base at C2.
            rebuilt = (await fixture.rebuilder(nowFor(C2))(view)).done;
          }
        },
      });
      const summary = run.summary.views.find((candidate) => candidate.view === view)!;
      if (when === 'pending') {
        expect(summary.outcome).toBe('failed');
        expect((await fixture.store.state(view)).pending).toEqual(expect.objectContaining({ from: 0, to: C1 }));
        expect((await fixture.rebuilder(nowFor(C2))(view)).done).toBe(true);
      } else {
        expect(rebuilt).toBe(true);
        expect(summary.outcome).not.toBe('failed');
        expect(summary.windows).toEqual([]);
      }
      const state = await fixture.store.state(view);
      expect(state).toMatchObject({ pending: null, cutoff: C2, base: { cutoff: C2 } });
      expect(await fixture.served(view)).toEqual(fixture.expected(view, deliveries, C2));
      expect((await fixture.run(nowFor(C3))).failed).toBe(false);
      expect(await fixture.served(view)).toEqual(fixture.expected(view, deliveries, C3));
    }
  });

  it('after an upgrade from whole-version batch views, the first window or a rebuild replaces the old manifest', async () => {
    const deliveries = generatedDeliveries(11);
    for (const first of ['window', 'rebuild'] as const) {
      const fixture = await rebuildFixture();
      await fixture.archive(deliveries);
      // What the release before arrival windows left in the manifest: a served version, whose rows expire by TTL.
      for (const view of BATCH_TEST_CONFIG.views) {
        await fixture.dynamodb.send(
          new PutItemCommand({
            TableName: fixture.manifestTable,
            Item: {
              pk: { S: view.name },
              sk: { S: 'batch' },
              version: { S: `v${String(C1).padStart(16, '0')}-${String(C1).padStart(16, '0')}` },
              cutoff: { N: String(C1) },
              rowCount: { N: '7' },
              computedAt: { S: new Date(C1).toISOString() },
            },
          }),
        );
        expect((await fixture.store.state(view.name)).cutoff).toBeNull();
      }
      if (first === 'rebuild') {
        for (const view of BATCH_TEST_CONFIG.views)
          expect((await fixture.rebuilder(nowFor(C2))(view.name)).done).toBe(true);
      }
      expect((await fixture.run(nowFor(C3))).failed).toBe(false);
      for (const view of BATCH_TEST_CONFIG.views) {
        const { Item } = await fixture.dynamodb.send(
          new GetItemCommand({ TableName: fixture.manifestTable, Key: { pk: { S: view.name }, sk: { S: 'batch' } } }),
        );
        expect(Item?.version).toBeUndefined();
        expect(Item?.rowCount).toBeUndefined();
        expect(Number(Item?.cutoff?.N)).toBe(C3);
        expect(await fixture.served(view.name)).toEqual(fixture.expected(view.name, deliveries, C3));
      }
    }
  });

  it('reads only the arrivals that can hold buckets within retention, and counts only those buckets', async () => {
    const config = definePipelineConfig({
      views: [{ name: 'recent_minutes', dimensions: ['deviceId'], granularity: 'minute', retentionDays: 1 }],
      eventTimeSkewHours: 2,
    });
    const fixture = await rebuildFixture(config);
    const deliveries = generatedDeliveries(9);
    await fixture.archive(deliveries);
    const now = nowFor(C3);
    const scopes: SessionScope[] = [];
    const engine = new DuckDbEngine({ s3: emulators.s3, bucket: fixture.bucket });
    const watched: BatchEngine = {
      open: (scope) => {
        scopes.push(scope);
        return engine.open(scope);
      },
    };
    const result = await fixture.rebuilder(now, { engine: watched })('recent_minutes');
    expect(result.done).toBe(true);
    const firstKept = Math.ceil((now - 86_400_000) / 60_000) * 60_000;
    expect(scopes).toEqual([{ arrivalFromMs: firstKept - 2 * HOUR, arrivalToMs: result.cutoff }]);
    const expected = fixture.expected('recent_minutes', deliveries, result.cutoff);
    const all = expected.size;
    for (const key of [...expected.keys()]) {
      if (Number(key.split('@')[1]) < firstKept) expected.delete(key);
    }
    // The stream straddles the retention boundary: some buckets are past it, some within.
    expect(expected.size).toBeGreaterThan(0);
    expect(expected.size).toBeLessThan(all);
    expect(await fixture.served('recent_minutes')).toEqual(expected);
  });
});
