/**
 * The batch layer follows a declared schema that is not the IoT example (issue 15): web requests, whose id, time,
 * dimensions and numeric fields all have other names, and views whose measures name the field they aggregate. A batch
 * run (DuckDB over s3rver and dynalite, as batch-job.test.ts runs it) and then a rebuild of each view must both serve
 * what brute force computes from the events' own fields.
 */
import fc from 'fast-check';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import { supersededRowsExpiry } from '../../functions/adapters/superseded-batch-rows';
import { definePipelineConfig, type PipelineConfig } from '../../functions/core/pipeline-config';
import { applyServingRule } from '../../functions/core/serving-rule';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { createRebuildJob } from '../../functions/rebuild/rebuild-job';
import { ensureBucket } from '../../local/provision';
import { servedBatchAnswer } from '../rebuild/served-batch';
import { asExpected, bruteForce } from '../support/brute-force';
import { RecordingLogger } from '../support/recording-telemetry';
import { BASE_TIME_MS, sequenceNumber, withCopies } from '../support/stream-arbitraries';
import { BatchEmulators, batchRunFixture, expectedBatchView, LATE_CUTOFF, nowFor } from './batch-run-fixture';
import { readServedRows } from './batch-views';

const HOUR_MS = 3_600_000;

const configInput = {
  epochLengthMinutes: 15,
  firehoseBufferIntervalSeconds: 60,
  safetyMarginMinutes: 5,
  schema: {
    id: 'requestId',
    time: 'at',
    dimensions: ['path', 'status', 'country'],
    numbers: ['latencyMs', 'bytes'],
  },
  views: [
    {
      name: 'path_status_minute',
      dimensions: ['path', 'status'],
      granularity: 'minute',
      measures: {
        requests: 'count',
        maxLatency: { max: 'latencyMs' },
        avgLatency: { avg: 'latencyMs' },
        bytes: { sum: 'bytes' },
      },
    },
    // The default measures of a schema with two numeric fields, and de-duplication by the declared id field.
    { name: 'country_hour', dimensions: ['country'], granularity: 'hour', dedupeByEventId: true },
  ],
} as const;
const config = definePipelineConfig(configInput);
const viewNamed = (name: string) => config.views.find((view) => view.name === name) as ViewDefinition;

/** Values a URL-encoded key must keep apart: a `|`, a space, a query string. */
const PATHS = ['/', '/api/items', '/api/items/42', '/search?q=a|b c'];
const STATUSES = ['200', '304', '404', '500'];
const COUNTRIES = ['DE', 'US', 'BR'];

const requestShape = fc.record({
  path: fc.nat(PATHS.length - 1),
  status: fc.nat(STATUSES.length - 1),
  country: fc.nat(COUNTRIES.length - 1),
  // Quarters and whole bytes: sums are exact in any order, so answers compare with toEqual.
  latencyMs: fc.integer({ min: 0, max: 2 ** 20 }).map((quarters) => quarters / 4),
  bytes: fc.integer({ min: 0, max: 1_000_000 }),
  atOffset: fc.nat(48 * HOUR_MS),
  lateness: fc.oneof({ weight: 3, arbitrary: fc.nat(5_000) }, { weight: 1, arbitrary: fc.nat(6 * HOUR_MS) }),
  shard: fc.nat(1),
});

/** Web requests over two shards, with producer retries (a second record of a request) and redeliveries. */
const requestsArbitrary = fc
  .record({
    shapes: fc.array(requestShape, { minLength: 60, maxLength: 60 }),
    retries: fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
    redeliveries: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
  })
  .map(({ shapes, retries, redeliveries }) => {
    const counters = [0n, 0n];
    const records: StreamRecord[] = shapes.map((shape, index) => {
      counters[shape.shard] += 1n;
      const at = BASE_TIME_MS + shape.atOffset;
      return {
        event: {
          requestId: `req-${index}`,
          at,
          path: PATHS[shape.path],
          status: STATUSES[shape.status],
          country: COUNTRIES[shape.country],
          latencyMs: shape.latencyMs,
          bytes: shape.bytes,
          userAgent: 'undeclared fields travel untouched',
        },
        shardId: `shardId-00000000000${shape.shard}`,
        sequenceNumber: sequenceNumber(shape.shard, counters[shape.shard]),
        subSequenceNumber: 0,
        arrivalMs: at + shape.lateness,
      };
    });
    return withCopies(records, counters, retries, redeliveries).deliveries;
  });

const emulators = BatchEmulators.forThisFile();

/** A rebuild under a configuration, over a fixture's archive and tables, at LATE_CUTOFF. */
function rebuildAtLateCutoff(
  pipeline: PipelineConfig,
  setup: Awaited<ReturnType<typeof batchRunFixture>>,
  workBucket: string,
) {
  return createRebuildJob({
    config: pipeline,
    engine: new DuckDbEngine({ s3: emulators.s3, bucket: setup.bucket, schema: pipeline.schema }),
    store: setup.store,
    work: { s3: emulators.s3, bucket: workBucket },
    expireSuperseded: supersededRowsExpiry(setup.dynamodb, setup.batchTable),
    logger: new RecordingLogger(),
    now: () => nowFor(LATE_CUTOFF, 1_000),
    chunkRows: 50,
  });
}

describe('a batch run and a rebuild over a declared web-request schema (DuckDB, s3rver, dynalite)', () => {
  it('serve, per view, each named measure over the field it names, equal to brute force over the distinct requests', async () => {
    const [deliveries] = fc.sample(requestsArbitrary, { numRuns: 1, seed: 15 });
    // A request sent twice (a producer's retry), which country_hour counts once by requestId.
    expect(new Set(deliveries.map((record) => record.event.requestId)).size).toBeLessThan(
      new Set(deliveries.map((record) => record.sequenceNumber)).size,
    );
    const setup = await batchRunFixture(emulators, config);
    await setup.archive(deliveries);
    // Two windows, so that a key and bucket can have a row in each, then a rebuild of each view at the cutoff.
    const first = BASE_TIME_MS + 24 * HOUR_MS;
    for (const cutoff of [first, LATE_CUTOFF]) {
      const { summary, failed } = await setup.run(nowFor(cutoff));
      expect(failed).toBe(false);
      expect(summary.views.map((outcome) => [outcome.view, outcome.outcome, outcome.cutoff])).toEqual(
        config.views.map((view) => [view.name, 'flipped', cutoff]),
      );
      for (const view of config.views) {
        const expected = expectedBatchView(view, deliveries, cutoff);
        expect(expected.size).toBeGreaterThan(0);
        const answer = await setup.answer(view);
        expect({ view: view.name, cutoff: answer.cutoff, buckets: answer.buckets }).toEqual({
          view: view.name,
          cutoff,
          buckets: expected,
        });
      }
    }
    // What the declaration says reaches the answers: the names declared, and the defaults of two numeric fields.
    const [someBucket] = (await setup.answer(viewNamed('path_status_minute'))).buckets.values();
    expect(Object.keys(someBucket ?? {})).toEqual(['requests', 'maxLatency', 'avgLatency', 'bytes']);
    const [someCountry] = (await setup.answer(viewNamed('country_hour'))).buckets.values();
    expect(Object.keys(someCountry ?? {})).toEqual([
      'count',
      'sumLatencyMs',
      'minLatencyMs',
      'maxLatencyMs',
      'avgLatencyMs',
      'sumBytes',
      'minBytes',
      'maxBytes',
      'avgBytes',
    ]);

    const workBucket = 'custom-schema-work';
    await ensureBucket(emulators.s3, workBucket);
    for (const view of config.views) {
      const rebuild = rebuildAtLateCutoff(config, setup, workBucket);
      expect(await rebuild(view.name)).toMatchObject({ view: view.name, done: true, cutoff: LATE_CUTOFF });
      expect((await setup.store.state(view.name)).base).toMatchObject({ cutoff: LATE_CUTOFF });
      // Served from the rebuild's base alone now, through the serving layer's reader.
      expect(await servedBatchAnswer(setup.dynamodb, setup, view)).toEqual(
        expectedBatchView(view, deliveries, LATE_CUTOFF),
      );
    }
    setup.destroy();
  });

  it('apply a changed measure declaration with a rebuild: the new measures, sketches among them, are served and stored for all of history', async () => {
    const [deliveries] = fc.sample(requestsArbitrary, { numRuns: 1, seed: 1515 });
    const setup = await batchRunFixture(emulators, config);
    await setup.archive(deliveries);
    const { failed } = await setup.run(nowFor(LATE_CUTOFF));
    expect(failed).toBe(false);

    // The same view, now asked for the fastest request, the bytes' maximum, and sketches instead of the average
    // latency: the rebuild's export (DuckDB's COPY of the sketch cells) and chunked writes must carry them.
    const changed = definePipelineConfig({
      ...configInput,
      views: [
        {
          ...configInput.views[0],
          measures: {
            requests: 'count',
            maxLatency: { max: 'latencyMs' },
            minLatency: { min: 'latencyMs' },
            maxBytes: { max: 'bytes' },
            latencySpread: { stddev: 'latencyMs' },
            countries: { distinct: 'country', precision: 4 },
            distinctRequests: { distinct: 'requestId' },
            latencies: { histogram: 'latencyMs', range: [1, 2 ** 18], relativeAccuracy: 0.05 },
            sizes: { histogram: 'bytes', boundaries: [1_000, 10_000, 100_000, 500_000] },
          },
        },
      ],
    });
    const [view] = changed.views;
    const workBucket = 'changed-measures-work';
    await ensureBucket(emulators.s3, workBucket);
    const rebuild = rebuildAtLateCutoff(changed, setup, workBucket);
    expect(await rebuild(view.name)).toMatchObject({ view: view.name, done: true, cutoff: LATE_CUTOFF });
    const served = await servedBatchAnswer(setup.dynamodb, setup, view);
    expect(served).toEqual(expectedBatchView(view, deliveries, LATE_CUTOFF));
    const [someBucket] = served.values();
    expect(Object.keys(someBucket ?? {})).toEqual([
      'requests',
      'maxLatency',
      'minLatency',
      'maxBytes',
      'latencySpread',
      'countries',
      'distinctRequests',
      'latencies',
      'sizes',
    ]);
    // As stored: the base's rows, read back through the serving layer's reader, hold brute force's registers, bins
    // and sums (the view counts every Kinesis record: a producer's retry is a second request of the same id).
    const { manifest, rows } = await readServedRows(setup.reader, setup.readClient, setup.batchTable, view);
    const buckets = applyServingRule({
      batch: rows,
      realtime: [],
      cutoff: manifest?.cutoff ?? null,
      granularity: 'minute',
    });
    expect(asExpected(buckets)).toEqual(bruteForce(view, deliveries));
    setup.destroy();
  });
});
