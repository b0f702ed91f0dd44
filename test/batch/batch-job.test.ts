import fc from 'fast-check';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import type { BatchEngine } from '../../functions/batch/batch-engine';
import type { BatchViewWriter } from '../../functions/batch/batch-job';
import { SKIPPED_RESULT_COLUMNS } from '../../functions/core/batch-sql';
import type { BatchManifest } from '../../functions/core/manifest';
import type { StreamRecord } from '../../functions/core/stream-record';
import { asExpected } from '../support/brute-force';
import { BASE_TIME_MS, cutoffArbitrary, streamArbitrary } from '../support/stream-arbitraries';
import {
  BATCH_TEST_CONFIG,
  BatchEmulators,
  batchRunFixture,
  batchTestView as view,
  expectedBatchView,
  LATE_CUTOFF,
  nowFor,
  type RunOutcome,
} from './batch-run-fixture';
import { ACCESS_DENIED } from './dynamodb-write-faults';

const config = BATCH_TEST_CONFIG;
const EPOCH_MS = config.epochLengthMs;

const emulators = BatchEmulators.forThisFile();
const fixture = () => batchRunFixture(emulators, config);
const expected = expectedBatchView;

async function expectVersionExact(
  setup: Awaited<ReturnType<typeof fixture>>,
  name: string,
  version: string,
  cutoff: number,
  deliveries: readonly StreamRecord[],
) {
  expect(asExpected(await setup.version(name, version))).toEqual(expected(view(name), deliveries, cutoff));
}

describe('batch job with the DuckDB engine, over s3rver and dynalite', () => {
  // Law: after a run at any moment, every view's served version equals brute force over the distinct valid records
  // that arrived before the run's cutoff. 15 runs, each a full archive (several transform invocations, GZIP
  // objects per arrival hour, error objects) and a run over four views (about 0.3 s each): duplicate deliveries,
  // producer retries, late events, invalid records and records on both sides of the cutoff occur in most runs, and
  // the views cover every granularity, eventId de-duplication, a filter and undeclared measures.
  it('each view version equals brute force over the distinct valid records that arrived before the cutoff', async () => {
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
            expect(outcome).toMatchObject({ outcome: 'flipped', version: summary.version });
            expect(await setup.served(definition.name)).toEqual({
              view: definition.name,
              version: summary.version,
              cutoff,
              rowCount: outcome?.rows,
              computedAt: new Date(nowMs).toISOString(),
            });
            await expectVersionExact(setup, definition.name, summary.version, cutoff, deliveries);
          }
          expect(metrics.total('BatchRunSucceeded')).toBe(1);
          expect(metrics.total('BatchRunFailed')).toBe(0);
          expect(metrics.total('BatchViewRows')).toBe(summary.views.reduce((sum, outcome) => sum + outcome.rows, 0));
          expect(metrics.total('BatchCutoffAgeSeconds')).toBe((nowMs - cutoff) / 1000);
          expect(metrics.total('BatchRowsSkipped')).toBe(0);
          expect(metrics.total('BatchRowsSetAside')).toBe(0);
          setup.dynamodb.destroy();
        },
      ),
      { numRuns: 15 },
    );
  });

  it('readers see the old version, complete, until the flip, and then only the complete new one', async () => {
    const setup = await fixture();
    const [first, second] = fc.sample(streamArbitrary({ minLength: 30, maxLength: 40 }), { numRuns: 2, seed: 11 });
    await setup.archive(first.deliveries);
    const old = await setup.run(nowFor(LATE_CUTOFF));
    const shifted = second.deliveries.map((record) => ({ ...record, shardId: 'shardId-000000000007' }));
    await setup.archive(shifted);

    // A reader polling throughout the second run: the manifest it reads, and how many items that version has.
    const observations: { version: string; rowCount: number; items: number }[] = [];
    let running = true;
    const observe = async () => {
      const manifest = (await setup.served('site_metric_hour')) as BatchManifest;
      const items = (await setup.version('site_metric_hour', manifest.version)).length;
      observations.push({ version: manifest.version, rowCount: manifest.rowCount, items });
    };
    const reader = (async () => {
      while (running) await observe();
    })();
    // Just before the flip, the new version is fully written and the old one is still served, untouched.
    let beforeFlip: { served: string | undefined; newItems: number } | undefined;
    const gated: BatchViewWriter = {
      writeItems: (items) => setup.store.writeItems(items),
      servedManifest: (name) => setup.store.servedManifest(name),
      flip: async (manifest) => {
        if (manifest.view === 'site_metric_hour') {
          beforeFlip = {
            served: (await setup.served('site_metric_hour'))?.version,
            newItems: (await setup.version('site_metric_hour', manifest.version)).length,
          };
          await observe();
        }
        return setup.store.flip(manifest);
      },
    };
    const next = await setup.run(nowFor(LATE_CUTOFF + EPOCH_MS), { store: gated });
    running = false;
    await reader;
    await observe();

    const rowsOf = (outcome: RunOutcome) => outcome.summary.views.find((v) => v.view === 'site_metric_hour')?.rows;
    expect(beforeFlip).toEqual({ served: old.summary.version, newItems: rowsOf(next) });
    for (const observation of observations) {
      expect([
        { version: old.summary.version, rowCount: rowsOf(old), items: rowsOf(old) },
        { version: next.summary.version, rowCount: rowsOf(next), items: rowsOf(next) },
      ]).toContainEqual(observation);
    }
    const versions = observations.map((observation) => observation.version);
    const firstNew = versions.indexOf(next.summary.version);
    expect(firstNew).toBeGreaterThan(0);
    expect(versions.slice(firstNew).every((version) => version === next.summary.version)).toBe(true);
    await expectVersionExact(setup, 'site_metric_hour', old.summary.version, LATE_CUTOFF, first.deliveries);
    await expectVersionExact(setup, 'site_metric_hour', next.summary.version, LATE_CUTOFF + EPOCH_MS, [
      ...first.deliveries,
      ...shifted,
    ]);
    setup.dynamodb.destroy();
  });

  describe('two overlapping runs corrupt nothing, and the newer version ends up served', () => {
    const cases = [
      { name: 'the newer run flips first, so the older one is refused', holdOlder: true },
      { name: 'the older run flips first, then the newer one replaces it', holdOlder: false },
    ];
    it.each(cases)('$name', async ({ holdOlder }) => {
      const setup = await fixture();
      const [sample] = fc.sample(streamArbitrary({ minLength: 30 }), { numRuns: 1, seed: 5 });
      await setup.archive(sample.deliveries);
      // The same data, two cutoffs: the older run's cutoff is two epochs earlier, and it started earlier too.
      const newerCutoff = BASE_TIME_MS + 30 * 3_600_000;
      const olderCutoff = newerCutoff - 2 * EPOCH_MS;
      let releaseHeld: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (releaseHeld = resolve));
      const holding: BatchViewWriter = {
        writeItems: (items) => setup.store.writeItems(items),
        servedManifest: (name) => setup.store.servedManifest(name),
        flip: async (manifest) => {
          await held;
          return setup.store.flip(manifest);
        },
      };
      const olderRun = setup.run(nowFor(olderCutoff), holdOlder ? { store: holding } : {});
      const newerRun = setup.run(nowFor(newerCutoff), holdOlder ? {} : { store: holding });
      const finishedFirst = await (holdOlder ? newerRun : olderRun);
      releaseHeld();
      const [older, newer] = await Promise.all([olderRun, newerRun]);
      expect(finishedFirst.failed).toBe(false);

      expect(older.summary.views.map((outcome) => outcome.outcome)).toEqual(
        Array(config.views.length).fill(holdOlder ? 'superseded' : 'flipped'),
      );
      expect(newer.summary.views.map((outcome) => outcome.outcome)).toEqual(Array(config.views.length).fill('flipped'));
      if (holdOlder) expect(older.metrics.total('BatchViewsSuperseded')).toBe(config.views.length);
      expect(older.metrics.total('BatchRunSucceeded')).toBe(1);
      for (const definition of config.views) {
        expect((await setup.served(definition.name))?.version).toBe(newer.summary.version);
        await expectVersionExact(setup, definition.name, newer.summary.version, newerCutoff, sample.deliveries);
        await expectVersionExact(setup, definition.name, older.summary.version, olderCutoff, sample.deliveries);
      }
      setup.dynamodb.destroy();
    });

    it('of two runs with the same cutoff, the one that started later is served', async () => {
      const setup = await fixture();
      const [sample] = fc.sample(streamArbitrary({ minLength: 10 }), { numRuns: 1, seed: 9 });
      await setup.archive(sample.deliveries);
      const [later, earlier] = await Promise.all([
        setup.run(nowFor(LATE_CUTOFF, 2_000)),
        setup.run(nowFor(LATE_CUTOFF, 1_000)),
      ]);
      expect(later.summary.cutoff).toBe(earlier.summary.cutoff);
      for (const definition of config.views) {
        expect((await setup.served(definition.name))?.version).toBe(later.summary.version);
      }
      setup.dynamodb.destroy();
    });
  });

  it('a run whose writes fail halfway for one view leaves that view served at its old version, and flips the others', async () => {
    const setup = await fixture();
    const [first, second] = fc.sample(streamArbitrary({ minLength: 60 }), { numRuns: 2, seed: 3 });
    await setup.archive(first.deliveries);
    const old = await setup.run(nowFor(LATE_CUTOFF));
    const shifted = second.deliveries.map((record) => ({ ...record, shardId: 'shardId-000000000007' }));
    await setup.archive(shifted);
    const allDeliveries = [...first.deliveries, ...shifted];
    const rowsBefore = old.summary.views.find((outcome) => outcome.view === 'site_metric_hour')?.rows ?? 0;
    expect(rowsBefore).toBeGreaterThan(25);

    // The second request carrying this view's items is denied: the first was written, the rest never are.
    let seen = 0;
    setup.faults.failWhen((request) => {
      if (!request.partitionKeys.some((pk) => pk.startsWith('site_metric_hour#'))) return undefined;
      seen += 1;
      return seen === 2 ? ACCESS_DENIED : undefined;
    });
    const nowMs = nowFor(LATE_CUTOFF + EPOCH_MS);
    const failing = await setup.run(nowMs);
    setup.faults.heal();

    expect(failing.failed).toBe(true);
    const outcomes = Object.fromEntries(failing.summary.views.map((outcome) => [outcome.view, outcome]));
    expect(outcomes.site_metric_hour).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/^write: AccessDeniedException/),
    });
    expect(failing.logger.at('error')).toEqual([
      expect.objectContaining({
        message: 'batch view failed: its served version is unchanged',
        attributes: expect.objectContaining({ view: 'site_metric_hour', version: failing.summary.version }),
      }),
    ]);
    expect(failing.metrics.total('BatchRunFailed')).toBe(1);
    expect(failing.metrics.total('BatchRunSucceeded')).toBe(0);
    // The age of what is served is the failed view's: it keeps growing until that view is recomputed.
    expect(failing.metrics.total('BatchCutoffAgeSeconds')).toBe((nowMs - LATE_CUTOFF) / 1000);

    expect(await setup.served('site_metric_hour')).toMatchObject({
      version: old.summary.version,
      rowCount: rowsBefore,
    });
    await expectVersionExact(setup, 'site_metric_hour', old.summary.version, LATE_CUTOFF, first.deliveries);
    // What the failed run did write (the requests before and beside the denied one) is under its own version,
    // which no manifest points at, and which TTL removes.
    const written = (await setup.version('site_metric_hour', failing.summary.version)).length;
    expect(written).toBeGreaterThanOrEqual(25);
    expect(written).toBeLessThan(expected(view('site_metric_hour'), allDeliveries, LATE_CUTOFF + EPOCH_MS).size);
    for (const name of ['device_metric_minute', 'device_once_per_event', 'warm_sites_day']) {
      expect(outcomes[name].outcome).toBe('flipped');
      expect((await setup.served(name))?.version).toBe(failing.summary.version);
    }
    setup.dynamodb.destroy();
  });

  it('a run whose engine fails leaves every served version untouched, and says why', async () => {
    const setup = await fixture();
    const [sample] = fc.sample(streamArbitrary({ minLength: 10 }), { numRuns: 1, seed: 4 });
    await setup.archive(sample.deliveries);
    const old = await setup.run(nowFor(LATE_CUTOFF));

    const unopenable = await setup.run(nowFor(LATE_CUTOFF + EPOCH_MS), {
      engine: new DuckDbEngine({ s3: emulators.s3, bucket: 'no-such-bucket' }),
    });
    expect(unopenable.failed).toBe(true);
    expect(unopenable.summary.views.map((outcome) => outcome.error)).toEqual(
      Array(config.views.length).fill(expect.stringMatching(/^engine: NoSuchBucket/)),
    );
    expect(unopenable.metrics.total('BatchRunFailed')).toBe(1);

    // A query that fails for one view: the others still run and flip.
    const real = new DuckDbEngine({ s3: emulators.s3, bucket: setup.bucket });
    let viewQueries = 0;
    const flaky: BatchEngine = {
      open: async () => {
        const session = await real.open();
        return {
          source: session.source,
          dialect: session.dialect,
          close: () => session.close(),
          run: async (sql) => {
            // The run's first query counts the skipped rows; the views' queries follow in declared order.
            if (!sql.includes(SKIPPED_RESULT_COLUMNS.rows)) viewQueries += 1;
            if (viewQueries === 2) throw new Error('Binder Error: injected');
            return session.run(sql);
          },
        };
      },
    };
    const halfFailed = await setup.run(nowFor(LATE_CUTOFF + 2 * EPOCH_MS), { engine: flaky });
    expect(halfFailed.summary.views.map((outcome) => [outcome.view, outcome.outcome])).toEqual([
      ['device_metric_minute', 'flipped'],
      ['site_metric_hour', 'failed'],
      ['device_once_per_event', 'flipped'],
      ['warm_sites_day', 'flipped'],
    ]);
    expect(halfFailed.summary.views[1].error).toBe('query: Error: Binder Error: injected');
    expect((await setup.served('site_metric_hour'))?.version).toBe(old.summary.version);
    expect((await setup.served('warm_sites_day'))?.version).toBe(halfFailed.summary.version);
    setup.dynamodb.destroy();
  });
});
