import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import type { BatchEngine } from '../../functions/batch/batch-engine';
import { BATCH_RESULT_COLUMNS, batchViewSql, SKIP_REASONS } from '../../functions/core/batch-sql';
import { jsonShapeProblem } from '../../functions/core/event-limits';
import { toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import { BASE_TIME_MS, streamArbitrary } from '../support/stream-arbitraries';

const HOUR_MS = 3_600_000;
import { firstRetainedBucket } from '../../functions/core/view-declaration';
import {
  arrivingIn,
  BATCH_TEST_CONFIG,
  BatchEmulators,
  batchRunFixture,
  batchTestView as view,
  expectedBatchView,
  LATE_CUTOFF,
  nowFor,
} from './batch-run-fixture';

/**
 * The master dataset is append-only: lines archived before today's event rules (event-limits.ts) stay in it. These
 * tests write such lines beside valid ones, as the Firehose transform wrote them then, and run the batch job on
 * DuckDB over s3rver and dynalite.
 */
const config = BATCH_TEST_CONFIG;
const EPOCH_MS = config.epochLengthMs;

const emulators = BatchEmulators.forThisFile();
/** Runs the batch job at the clock that makes `cutoff` its cutoff. */
async function fixture() {
  const setup = await batchRunFixture(emulators, config);
  return {
    ...setup,
    run: (cutoff: number, overrides?: Parameters<typeof setup.run>[1]) => setup.run(nowFor(cutoff), overrides),
  };
}
const expected = expectedBatchView;

/** A line as the transform archived it: the event's fields plus the envelope, any field overridden. */
const archivedLine = (record: StreamRecord, overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ ...toArchivedEvent(record), ...overrides });

describe("batch runs over a master dataset holding lines archived before today's event rules (DuckDB, s3rver, dynalite)", () => {
  it('skip every line that breaks the rules, count each by reason in the run whose window holds it, count the valid neighbours exactly, and succeed again on the next run', async () => {
    const setup = await fixture();
    const [current, older] = fc.sample(streamArbitrary({ minLength: 30, maxLength: 40 }), { numRuns: 2, seed: 21 });
    // Today's archive, through today's transform.
    await setup.archive(current.deliveries);
    // Older valid lines (on a shard of their own, so their identities are new), archived before the rules changed,
    // in the hour after LATE_CUTOFF: the second run's window.
    const neighbours = arrivingIn(older.deliveries, LATE_CUTOFF, LATE_CUTOFF + HOUR_MS, 'shardId-000000000007');
    // Each bad line is an earlier copy of a valid neighbour's eventId: if an invalid copy took part in the eventId
    // ranking, the de-duplicating view would lose the valid one.
    const template: StreamRecord = {
      ...neighbours[0],
      shardId: 'shardId-000000000008',
      arrivalMs: neighbours[0].arrivalMs - 1,
    };
    let sequence = 0;
    const bad = (overrides: Record<string, unknown>) => {
      sequence += 1;
      return archivedLine({ ...template, sequenceNumber: `${9_000 + sequence}` }, overrides);
    };
    const lines = {
      loneSurrogateInDimension: bad({ deviceId: 'sensor-\ud800' }),
      loneSurrogateInExtraField: bad({ firmware: '1.2-\udc00' }),
      cjkDimension: bad({ deviceId: '日'.repeat(256) }),
      twoCjkDimensions: bad({ deviceId: '日'.repeat(115), site: '本'.repeat(115) }),
      hugeValue: bad({ value: 1e200 }),
      tinyValue: bad({ value: 1e-200 }),
      beyondYear9999: bad({ ts: 253_402_300_800_000 }),
      aheadOfArrival: bad({ ts: template.arrivalMs + config.eventTimeSkewMs + 1 }),
      leadingSpace: bad({ site: ' plant-a' }),
      trailingSpace: bad({ metric: 'temperature ' }),
      malformed: '{"eventId": "broken", "deviceId": "d-1", "value": 1',
    };
    const badLines = Object.values(lines);
    // Bad lines interleaved with their valid neighbours, in a GZIP object and a plain one.
    const half = Math.ceil(neighbours.length / 2);
    // Enough valid neighbours in each object that every bad line follows a valid one.
    expect(half).toBeGreaterThanOrEqual(6);
    expect(neighbours.length - half).toBeGreaterThanOrEqual(badLines.length - 6);
    const interleave = (good: readonly StreamRecord[], badOnes: readonly string[]) =>
      good.flatMap((record, index) => [archivedLine(record), ...(index < badOnes.length ? [badOnes[index]] : [])]);
    // The partition of their arrival hour, as Firehose would have written them.
    const partition = `events/dt=${new Date(LATE_CUTOFF).toISOString().slice(0, 10)}/hour=00/`;
    expect(new Date(LATE_CUTOFF).getUTCHours()).toBe(0);
    await setup.put(
      `${partition}legacy-1.gz`,
      gzipSync(interleave(neighbours.slice(0, half), badLines.slice(0, 6)).join('\n') + '\n'),
    );
    await setup.put(`${partition}legacy-2`, interleave(neighbours.slice(half), badLines.slice(6)).join('\n') + '\n');

    const shape = (line: string) => jsonShapeProblem(JSON.parse(line)) as string;
    const reasons = {
      [shape(lines.loneSurrogateInDimension)]: 1,
      [shape(lines.loneSurrogateInExtraField)]: 1,
      'line: malformed JSON': 1,
      [SKIP_REASONS.tooManyEncodedBytes('deviceId')]: 2,
      [SKIP_REASONS.valueRange('value')]: 2,
      [SKIP_REASONS.eventTimeRange('ts')]: 1,
      [SKIP_REASONS.aheadOfArrival('ts', config.eventTimeSkewMs)]: 1,
      [SKIP_REASONS.edgeWhiteSpace('site')]: 1,
      [SKIP_REASONS.edgeWhiteSpace('metric')]: 1,
    };
    expect(shape(lines.loneSurrogateInDimension)).toMatch(/^deviceId: .*lone surrogate/);
    expect(shape(lines.loneSurrogateInExtraField)).toMatch(/^firmware: .*lone surrogate/);
    const valid = [...current.deliveries, ...neighbours];

    // Each run counts the lines of its own window: the rules a column shows are checked by the SQL on the rows that
    // arrived in the window, and the lines the engine's screen refuses (no usable arrival) by the run whose window
    // holds the start of their object's arrival hour. The third run's window reads that hour again for the de-dup
    // horizon, and counts nothing.
    for (const [cutoff, holdsBadLines] of [
      [LATE_CUTOFF, false],
      [LATE_CUTOFF + HOUR_MS, true],
      [LATE_CUTOFF + 2 * HOUR_MS, false],
    ] as const) {
      const { summary, failed, logger, metrics } = await setup.run(cutoff);
      expect(failed).toBe(false);
      if (holdsBadLines) {
        expect(summary.skippedRows).toEqual(reasons);
        expect(metrics.total('BatchRowsSkipped')).toBe(badLines.length);
        expect(logger.at('warn')).toContainEqual(
          expect.objectContaining({
            message: 'archived rows that break the event rules were skipped: no view counts them',
            attributes: { skippedRows: reasons },
          }),
        );
      } else {
        expect(summary.skippedRows).toEqual({});
        expect(metrics.total('BatchRowsSkipped')).toBe(0);
      }
      for (const definition of config.views) {
        const outcome = summary.views.find((candidate) => candidate.view === definition.name);
        expect(outcome).toMatchObject({ outcome: 'flipped', cutoff, setAside: 0 });
        const answer = await setup.answer(definition);
        expect({ cutoff: answer.cutoff, buckets: answer.buckets }).toEqual({
          cutoff,
          buckets: expected(definition, valid, cutoff),
        });
      }
    }
    setup.destroy();
  });

  it('set aside a batch row DynamoDB refuses, with its view, key, bucket and reason, write the others, and flip', async () => {
    const setup = await fixture();
    const [sample] = fc.sample(streamArbitrary({ minLength: 20 }), { numRuns: 1, seed: 22 });
    await setup.archive(sample.deliveries);
    const bucket = BASE_TIME_MS;
    const target = view('site_metric_hour');
    // A result row as the view's SQL returns it: its sum is `sum`, every other stored measure 1.
    const row = (site: string, sum: number) => ({
      [BATCH_RESULT_COLUMNS.dimension(0)]: site,
      [BATCH_RESULT_COLUMNS.dimension(1)]: 'temperature',
      [BATCH_RESULT_COLUMNS.bucket]: bucket,
      [BATCH_RESULT_COLUMNS.count]: 1,
      ...Object.fromEntries(
        target.stored.map((measure, index) => [BATCH_RESULT_COLUMNS.stored(index), measure.kind === 'sum' ? sum : 1]),
      ),
      [BATCH_RESULT_COLUMNS.firstArrival]: bucket,
      [BATCH_RESULT_COLUMNS.lastArrival]: bucket,
    });
    // Rows no valid record can produce (the SQL skips their records): they stand for whatever may still slip past.
    const injected = [row('x'.repeat(2_100), 1), row('plant-overflow', 1e200), row('plant-nan', Number.NaN)];
    const real = new DuckDbEngine({ s3: emulators.s3, bucket: setup.bucket });
    const injecting: BatchEngine = {
      open: async (scope) => {
        const session = await real.open(scope);
        return {
          ...session,
          run: async (sql) => {
            const result = await session.run(sql);
            const inputs = {
              source: session.source,
              arrivalFromMs: 0,
              arrivalToMs: LATE_CUTOFF,
              dialect: session.dialect,
              eventTimeSkewMs: config.eventTimeSkewMs,
              dedupHorizonMs: config.dedupHorizonMs,
              firstBucketMs: firstRetainedBucket(target, nowFor(LATE_CUTOFF)),
            };
            return sql === batchViewSql(target, inputs) ? { ...result, rows: [...result.rows, ...injected] } : result;
          },
        };
      },
    };
    const { summary, failed, logger, metrics } = await setup.run(LATE_CUTOFF, { engine: injecting });

    expect(failed).toBe(false);
    const outcome = summary.views.find((candidate) => candidate.view === target.name);
    const setAsideRows = [
      {
        key: 'plant-nan|temperature',
        bucket,
        reason: 'item: Error: cannot store the non-finite number NaN in DynamoDB',
      },
      {
        key: `${'x'.repeat(2_100)}|temperature`,
        bucket,
        reason: expect.stringMatching(/^ValidationException: .*Size of hashkey has exceeded/),
      },
      {
        key: 'plant-overflow|temperature',
        bucket,
        reason: expect.stringMatching(/^ValidationException: Number overflow/),
      },
    ];
    const written = expected(target, sample.deliveries, LATE_CUTOFF).size;
    expect(outcome).toMatchObject({
      outcome: 'flipped',
      rows: written,
      setAside: 3,
      setAsideRows,
      windows: [{ from: 0, to: LATE_CUTOFF, rows: written, setAside: 3 }],
    });
    expect(logger.at('error')).toEqual([
      expect.objectContaining({
        message: 'batch rows set aside: they cannot be stored, and the window flips without them',
        attributes: expect.objectContaining({
          view: target.name,
          to: new Date(LATE_CUTOFF).toISOString(),
          setAside: 3,
          rows: setAsideRows,
        }),
      }),
    ]);
    expect(metrics.total('BatchRowsSetAside')).toBe(3);
    expect(metrics.total('BatchRunSucceeded')).toBe(1);
    // What is served is every other row.
    const answer = await setup.answer(target);
    expect({ cutoff: answer.cutoff, rows: answer.rows.length, buckets: answer.buckets }).toEqual({
      cutoff: LATE_CUTOFF,
      rows: written,
      buckets: expected(target, sample.deliveries, LATE_CUTOFF),
    });
    for (const other of config.views.filter((definition) => definition !== target)) {
      expect((await setup.served(other.name))?.cutoff).toBe(LATE_CUTOFF);
    }

    // The next run has nothing to set aside, and flips every view again.
    const next = await setup.run(LATE_CUTOFF + EPOCH_MS);
    expect(next.failed).toBe(false);
    expect(next.summary.views.map((outcome) => [outcome.outcome, outcome.cutoff, outcome.setAside])).toEqual(
      config.views.map(() => ['flipped', LATE_CUTOFF + EPOCH_MS, 0]),
    );
    setup.destroy();
  });

  // The engine reads the hour before a window again when a view de-duplicates by eventId (the horizon): the lines
  // it screens out there were counted by the window that holds them, and are not counted again.
  it('counts a line the engine screens out in one run only, though the next window reads its object again for the de-dup horizon', async () => {
    const setup = await fixture();
    const [sample] = fc.sample(streamArbitrary({ minLength: 5, maxLength: 5 }), { numRuns: 1, seed: 23 });
    const valid = arrivingIn(sample.deliveries, LATE_CUTOFF, LATE_CUTOFF + HOUR_MS, 'shardId-000000000007');
    await setup.put(
      `events/dt=${new Date(LATE_CUTOFF).toISOString().slice(0, 10)}/hour=00/legacy`,
      [...valid.map((record) => archivedLine(record)), '{"eventId": "broken"'].join('\n') + '\n',
    );
    const first = await setup.run(LATE_CUTOFF + HOUR_MS);
    expect(first.summary.skippedRows).toEqual({ 'line: malformed JSON': 1 });
    const next = await setup.run(LATE_CUTOFF + 2 * HOUR_MS);
    expect(next.summary.skippedRows).toEqual({});
    setup.destroy();
  });
});
