import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import type { BatchEngine } from '../../functions/batch/batch-engine';
import { batchViewSql, SKIP_REASONS } from '../../functions/core/batch-sql';
import { jsonShapeProblem } from '../../functions/core/event-limits';
import { toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import { asExpected } from '../support/brute-force';
import { BASE_TIME_MS, streamArbitrary } from '../support/stream-arbitraries';
import {
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
  it('skip every line that breaks the rules, count each by reason, count the valid neighbours exactly, and succeed again on the next run', async () => {
    const setup = await fixture();
    const [current, older] = fc.sample(streamArbitrary({ minLength: 30, maxLength: 40 }), { numRuns: 2, seed: 21 });
    // Today's archive, through today's transform.
    await setup.archive(current.deliveries);
    // Older valid lines (on a shard of their own, so their identities are new), archived before the rules changed.
    const neighbours = older.deliveries.map((record) => ({ ...record, shardId: 'shardId-000000000007' }));
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
    await setup.put(
      'events/dt=2026-11-23/hour=00/legacy-1.gz',
      gzipSync(interleave(neighbours.slice(0, half), badLines.slice(0, 6)).join('\n') + '\n'),
    );
    await setup.put(
      'events/dt=2026-11-23/hour=00/legacy-2',
      interleave(neighbours.slice(half), badLines.slice(6)).join('\n') + '\n',
    );

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

    for (const cutoff of [LATE_CUTOFF, LATE_CUTOFF + EPOCH_MS]) {
      const { summary, failed, logger, metrics } = await setup.run(cutoff);
      expect(failed).toBe(false);
      expect(summary.skippedRows).toEqual(reasons);
      expect(metrics.total('BatchRowsSkipped')).toBe(badLines.length);
      expect(logger.at('warn')).toContainEqual(
        expect.objectContaining({
          message: 'archived rows that break the event rules were skipped: no view counts them',
          attributes: expect.objectContaining({ version: summary.version, skippedRows: reasons }),
        }),
      );
      for (const definition of config.views) {
        const outcome = summary.views.find((candidate) => candidate.view === definition.name);
        expect(outcome).toMatchObject({ outcome: 'flipped', setAside: 0 });
        expect((await setup.served(definition.name))?.version).toBe(summary.version);
        expect(asExpected(await setup.version(definition.name, summary.version))).toEqual(
          expected(definition, valid, cutoff),
        );
      }
    }
    setup.dynamodb.destroy();
  });

  it('set aside a batch row DynamoDB refuses, with its view, key, bucket and reason, write the others, and flip', async () => {
    const setup = await fixture();
    const [sample] = fc.sample(streamArbitrary({ minLength: 20 }), { numRuns: 1, seed: 22 });
    await setup.archive(sample.deliveries);
    const bucket = BASE_TIME_MS;
    const row = (site: string, sum: number) => ({
      dim_0: site,
      dim_1: 'temperature',
      bucket,
      count_value: 1,
      sum_value: sum,
      min_value: 1,
      max_value: 1,
    });
    // Rows no valid record can produce (the SQL skips their records): they stand for whatever may still slip past.
    const injected = [row('x'.repeat(2_100), 1), row('plant-overflow', 1e200), row('plant-nan', Number.NaN)];
    const target = view('site_metric_hour');
    const real = new DuckDbEngine({ s3: emulators.s3, bucket: setup.bucket });
    const injecting: BatchEngine = {
      open: async () => {
        const session = await real.open();
        return {
          ...session,
          close: () => session.close(),
          run: async (sql) => {
            const result = await session.run(sql);
            const inputs = {
              source: session.source,
              cutoffMs: LATE_CUTOFF,
              dialect: session.dialect,
              eventTimeSkewMs: config.eventTimeSkewMs,
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
    expect(outcome).toMatchObject({ outcome: 'flipped', setAside: 3, setAsideRows });
    expect(logger.at('error')).toEqual([
      expect.objectContaining({
        message: 'batch rows set aside: they cannot be stored, and the view flips without them',
        attributes: expect.objectContaining({ view: target.name, version: summary.version, rows: setAsideRows }),
      }),
    ]);
    expect(metrics.total('BatchRowsSetAside')).toBe(3);
    expect(metrics.total('BatchRunSucceeded')).toBe(1);
    // What is served is every other row, and its row count says so.
    const written = await setup.version(target.name, summary.version);
    expect(asExpected(written)).toEqual(expected(target, sample.deliveries, LATE_CUTOFF));
    expect(await setup.served(target.name)).toMatchObject({ version: summary.version, rowCount: written.length });
    expect(outcome?.rows).toBe(written.length);
    for (const other of config.views.filter((definition) => definition !== target)) {
      expect((await setup.served(other.name))?.version).toBe(summary.version);
    }

    // The next run has nothing to set aside, and flips every view again.
    const next = await setup.run(LATE_CUTOFF + EPOCH_MS);
    expect(next.failed).toBe(false);
    expect(next.summary.views.map((outcome) => [outcome.outcome, outcome.setAside])).toEqual(
      config.views.map(() => ['flipped', 0]),
    );
    setup.dynamodb.destroy();
  });
});
