import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import { KeyDirectoryStore } from '../../functions/adapters/key-directory-store';
import { ViewReader } from '../../functions/adapters/view-reader';
import { runBatchJob } from '../../functions/batch/batch-job';
import { measuresFromAttributes } from '../../functions/core/aggregate-attributes';
import { canRollUp, GRANULARITIES } from '../../functions/core/granularity';
import { mergeMeasures, type Measures } from '../../functions/core/measures';
import { partitionKeysOf } from '../../functions/core/master-dataset-columns';
import { definePipelineConfig, type PipelineConfig } from '../../functions/core/pipeline-config';
import { parseRealtimeSortKey } from '../../functions/core/storage-keys';
import { toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import { MEASURE_KINDS, type ViewDefinition } from '../../functions/core/view-declaration';
import { createQueryHandler } from '../../functions/serving/query-handler';
import { createSpeedHandler } from '../../functions/speed/speed-handler';
import { emulatorClientConfig, startDynamoDb, startS3, type RunningEmulator } from '../../local/emulators';
import { streamRecordsEvent } from '../support/stream-records-event';
import { ensureBucket, ensureTable } from '../../local/provision';
import { scanItems, windowRowsInTable } from '../batch/batch-views';
import {
  answerMeasures,
  asExpected,
  bruteForce,
  bruteForceAnswer,
  countedRecords,
  type AnswerBucket,
  type PresentedBucket,
} from '../support/brute-force';
import { expectedGroups, expectedTop, type ExpectedSeries } from '../support/brute-force-groups';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';
import {
  DIMENSION_VALUES,
  schemaArbitrary,
  schemaStreamArbitrary,
  viewsArbitrary,
} from '../support/schema-arbitraries';
import { BASE_TIME_MS, type GeneratedStream } from '../support/stream-arbitraries';
import { UNHURRIED_RETRIES } from '../support/unhurried-retries';

const DAY_MS = 86_400_000;
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/events';
/**
 * Two batch runs, to FIRST_CUTOFF and to CUTOFF (the second in windows of at most config.maxWindowMs): CUTOFF is
 * mid-way through the generated arrivals, so that after the flips both layers hold part of every answer, and the
 * batch part of a bucket can merge rows of several windows.
 */
const FIRST_CUTOFF = BASE_TIME_MS + DAY_MS / 2;
const CUTOFF = BASE_TIME_MS + DAY_MS;
/** Every generated event time, with room for late arrivals. */
const RANGE = { from: BASE_TIME_MS - DAY_MS, to: BASE_TIME_MS + 3 * DAY_MS };

let dynamoEmulator: RunningEmulator;
let s3Emulator: RunningEmulator;
let dynamodb: DynamoDBClient;
let s3: S3Client;

beforeAll(async () => {
  [dynamoEmulator, s3Emulator] = await Promise.all([startDynamoDb(), startS3()]);
  dynamodb = new DynamoDBClient({ ...emulatorClientConfig(dynamoEmulator.endpoint), maxAttempts: 1 });
  s3 = new S3Client(emulatorClientConfig(s3Emulator.endpoint));
});
afterAll(async () => {
  dynamodb.destroy();
  s3.destroy();
  await Promise.all([dynamoEmulator.stop(), s3Emulator.stop()]);
});

/** One case's tables and bucket, named apart so that cases never see each other's items. */
function resourcesOf(caseId: string) {
  return {
    realtime: `realtime-${caseId}`,
    dedup: `dedup-${caseId}`,
    batch: `batch-${caseId}`,
    manifest: `manifest-${caseId}`,
    directory: `directory-${caseId}`,
    bucket: `master-${caseId}`,
  };
}
type Resources = ReturnType<typeof resourcesOf>;

async function provision(resources: Resources): Promise<void> {
  const { bucket, ...tables } = resources;
  for (const table of Object.values(tables)) await ensureTable(dynamodb, table);
  await ensureBucket(s3, bucket);
}

/**
 * The speed layer over a generated stream: each shard in sequence order, in batches of 5, each batch delivered twice;
 * then, for each redelivery the generator picked, the batch of up to 5 of its shard's records from that one on, as
 * Lambda delivers them again when it resumes a shard from an older checkpoint (later records already counted).
 */
async function runSpeedLayer(config: PipelineConfig, resources: Resources, stream: GeneratedStream) {
  const speed = createSpeedHandler({
    config,
    dynamodb,
    realtimeTable: resources.realtime,
    dedupTable: resources.dedup,
    keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.directory }),
    logger: new RecordingLogger(),
    metrics: new RecordingMetrics(),
    retry: UNHURRIED_RETRIES,
  });
  const deliver = async (shardId: string, records: readonly StreamRecord[]) => {
    const batch = streamRecordsEvent(config.schema, records, { streamArn: STREAM_ARN, shardId });
    expect(await speed(batch)).toEqual({ batchItemFailures: [] });
  };
  const shards = new Map<string, StreamRecord[]>();
  for (const shardId of ['shardId-000000000000', 'shardId-000000000001']) {
    const shard = stream.records
      .filter((record) => record.shardId === shardId)
      .sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1));
    shards.set(shardId, shard);
    for (let start = 0; start < shard.length; start += 5) {
      for (let delivery = 0; delivery < 2; delivery += 1) await deliver(shardId, shard.slice(start, start + 5));
    }
  }
  for (const redelivered of stream.deliveries.slice(stream.records.length)) {
    const shard = shards.get(redelivered.shardId) ?? [];
    const start = shard.indexOf(redelivered);
    expect(start).toBeGreaterThanOrEqual(0);
    await deliver(redelivered.shardId, shard.slice(start, start + 5));
  }
}

/** The master dataset as Firehose writes it: every delivery, with its envelope, by arrival hour. */
async function archive(resources: Resources, deliveries: readonly StreamRecord[]): Promise<void> {
  const byHour = new Map<string, string[]>();
  for (const record of deliveries) {
    const { dt, hour } = partitionKeysOf(record.arrivalMs);
    const key = `events/dt=${dt}/hour=${hour}/part.gz`;
    byHour.set(key, [...(byHour.get(key) ?? []), JSON.stringify(toArchivedEvent(record))]);
  }
  for (const [key, lines] of byHour) {
    await s3.send(
      new PutObjectCommand({ Bucket: resources.bucket, Key: key, Body: gzipSync(`${lines.join('\n')}\n`) }),
    );
  }
}

/**
 * A view's realtime items as stored in dynalite, decoded (sums, sums of squares, HyperLogLog registers, histogram
 * bins) and merged over the arrival epochs from `fromEpoch` on, per key and bucket: what the speed layer holds.
 */
async function storedRealtime(view: ViewDefinition, resources: Resources, fromEpoch = -Infinity) {
  const merged = new Map<string, { dimensionKey: string; bucket: number; measures: Measures }>();
  for (const item of await scanItems(dynamodb, resources.realtime)) {
    const pk = item.pk?.S ?? '';
    if (!pk.startsWith(`${view.name}@`)) continue;
    const dimensionKey = pk.slice(pk.indexOf('#') + 1);
    const { bucket, epoch } = parseRealtimeSortKey(item.sk?.S ?? '');
    if (epoch < fromEpoch) continue;
    const measures = measuresFromAttributes(item, view.stored);
    const id = `${dimensionKey}@${bucket}`;
    const existing = merged.get(id);
    merged.set(id, {
      dimensionKey,
      bucket,
      measures: existing === undefined ? measures : mergeMeasures(existing.measures, measures),
    });
  }
  return asExpected(merged.values());
}

/** A view's batch rows of the window that ends at `windowTo` as stored in dynalite, decoded: one per key and bucket. */
async function storedBatch(view: ViewDefinition, resources: Resources, windowTo: number) {
  const rows = await windowRowsInTable(dynamodb, resources.batch, view, windowTo);
  const stored = asExpected(rows);
  expect(stored.size).toBe(rows.length);
  return stored;
}

const arrivedBefore = (cutoff: number) => (record: StreamRecord) => record.arrivalMs < cutoff;
const arrivedFrom = (cutoff: number) => (record: StreamRecord) => record.arrivalMs >= cutoff;
const arrivedIn = (from: number, to: number) => (record: StreamRecord) =>
  record.arrivalMs >= from && record.arrivalMs < to;

/** An arrival window of a batch run: [from, to). */
interface Window {
  readonly from: number;
  readonly to: number;
}

/**
 * The stored level of the statement: every view's realtime items (merged over epochs) and batch rows equal,
 * register for register, bin for bin and sum for sum, brute force over the distinct records each holds. The
 * realtime items hold every record, and those of the epochs from the last window's end the records that arrived
 * since; each batch window's rows (none before a batch run) the records that arrived in it.
 */
async function checkStored(
  config: PipelineConfig,
  resources: Resources,
  deliveries: readonly StreamRecord[],
  windows: readonly Window[],
) {
  for (const view of config.views) {
    expect({ view: view.name, realtime: await storedRealtime(view, resources) }).toEqual({
      view: view.name,
      realtime: bruteForce(view, deliveries),
    });
    for (const { from, to } of windows) {
      expect({ view: view.name, from, to, batch: await storedBatch(view, resources, to) }).toEqual({
        view: view.name,
        from,
        to,
        batch: bruteForce(view, deliveries, view.granularity, arrivedIn(from, to)),
      });
    }
    const cutoff = windows.at(-1)?.to;
    if (cutoff === undefined) continue;
    expect({ view: view.name, realtimeFromCutoff: await storedRealtime(view, resources, cutoff) }).toEqual({
      view: view.name,
      realtimeFromCutoff: bruteForce(view, deliveries, view.granularity, arrivedFrom(cutoff)),
    });
  }
}

function queryHandler(config: PipelineConfig, resources: Resources) {
  return createQueryHandler({
    config,
    reader: new ViewReader({
      client: dynamodb,
      realtimeTable: resources.realtime,
      batchTable: resources.batch,
      manifestTable: resources.manifest,
      manifestCacheMs: 0,
    }),
    directory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.directory }),
    logger: new RecordingLogger(),
    metrics: new RecordingMetrics(),
    openApiDocument: () => ({}),
    now: () => RANGE.to,
  });
}

type QueryHandler = ReturnType<typeof queryHandler>;

/** GET /views/{view} over RANGE with the given parameters, which must answer 200. */
async function viewAnswer(handler: QueryHandler, view: ViewDefinition, parameters: Record<string, string[]>) {
  const response = await handler({
    httpMethod: 'GET',
    resource: '/views/{view}',
    pathParameters: { view: view.name },
    multiValueQueryStringParameters: { from: [String(RANGE.from)], to: [String(RANGE.to)], ...parameters },
  } as unknown as APIGatewayProxyEvent);
  expect({ status: response.statusCode, body: response.statusCode === 200 ? '' : response.body }).toEqual({
    status: 200,
    body: '',
  });
  return JSON.parse(response.body) as { series: (AnswerSeries & { keys?: number })[] };
}

/** A bucket as compared: every measure by name, and the batch and realtime parts (null: the part holds nothing). */
interface BucketParts {
  readonly measures: PresentedBucket;
  readonly batch: unknown;
  readonly realtime: unknown;
}

/** Quantiles a query may ask for: the ends, common ones, and any thousandth. */
const quantilesArbitrary = fc.uniqueArray(
  fc.oneof(
    fc.constantFrom(0, 0.01, 0.25, 0.5, 0.9, 0.999, 1),
    fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000),
  ),
  { minLength: 1, maxLength: 4 },
);

/**
 * The presented level, at the view's granularity and every coarser one (rolled up by the query handler): every key
 * of the view asked for by name, each bucket's measures, its batch part and its realtime part equal to brute force
 * over all the distinct records, those that arrived before the cutoff, and those that arrived from it (before a
 * batch run, `cutoff` null: no batch part, the realtime part is everything). A view with a histogram is asked for
 * random quantiles. A distinct's estimate and a histogram's quantiles are functions of the registers and bins, so
 * equal answers at a coarse granularity mean roll-ups merged sketches as brute force does.
 */
async function checkRollUps(
  config: PipelineConfig,
  resources: Resources,
  deliveries: readonly StreamRecord[],
  cutoff: number | null,
  seed: number,
): Promise<number> {
  const handler = queryHandler(config, resources);
  let compared = 0;
  for (const view of config.views) {
    const everyKey = Object.fromEntries(view.dimensions.map((field) => [field, [DIMENSION_VALUES.join(',')]]));
    const [asked] = fc.sample(quantilesArbitrary, { numRuns: 1, seed });
    const quantiles = view.measures.some((measure) => measure.kind === 'histogram') ? asked : undefined;
    for (const granularity of GRANULARITIES.filter((g) => canRollUp(view.granularity, g))) {
      const answer = await viewAnswer(handler, view, {
        ...everyKey,
        granularity: [granularity],
        ...(quantiles === undefined ? {} : { quantiles: [quantiles.join(',')] }),
      });
      const answered = new Map<string, BucketParts>();
      for (const { key, buckets } of answer.series) {
        const dimensionKey = view.dimensions.map((field) => encodeURIComponent(key[field] ?? '')).join('|');
        for (const bucket of buckets as readonly AnswerBucket[]) {
          answered.set(`${dimensionKey}@${bucket.startMs}`, {
            measures: answerMeasures(bucket),
            batch: bucket.batch,
            realtime: bucket.realtime,
          });
        }
      }
      const part = (include: (record: StreamRecord) => boolean) =>
        bruteForceAnswer(view, deliveries, granularity, include, quantiles);
      const all = part(() => true);
      const batch = cutoff === null ? new Map<string, PresentedBucket>() : part(arrivedBefore(cutoff));
      const realtime = cutoff === null ? all : part(arrivedFrom(cutoff));
      const expected = new Map<string, BucketParts>(
        [...all].map(([id, measures]) => [
          id,
          { measures, batch: batch.get(id) ?? null, realtime: realtime.get(id) ?? null },
        ]),
      );
      expect({ view: view.name, granularity, buckets: answered }).toEqual({
        view: view.name,
        granularity,
        buckets: expected,
      });
      compared += answered.size;
    }
  }
  return compared;
}

interface AnswerSeries {
  readonly key: Record<string, string>;
  readonly value?: number;
  readonly buckets: readonly (Record<string, unknown> & { startMs: number })[];
}

/** An answer's series in the reference's form: measures by name, per bucket start. */
function asReference(view: ViewDefinition, series: readonly AnswerSeries[]) {
  return series.map(({ key, value, buckets }) => ({
    key,
    ...(value === undefined ? {} : { value }),
    buckets: new Map(
      buckets.map((bucket) => [
        bucket.startMs,
        Object.fromEntries(view.measures.map((measure) => [measure.name, bucket[measure.name]])),
      ]),
    ),
  }));
}

function normalise(series: readonly (ExpectedSeries & { value?: number })[]) {
  return series.map(({ key, value, buckets }) => ({ key, ...(value === undefined ? {} : { value }), buckets }));
}

/** The questions a case asks of a view: group-bys over random subsets of its dimensions, and top-Ns. */
function questionsArbitrary(view: ViewDefinition) {
  const given = fc
    .subarray([...view.dimensions], { minLength: 0, maxLength: view.dimensions.length - 1 })
    .chain((fields) =>
      fc.tuple(
        ...fields.map((field) =>
          fc
            .subarray([...DIMENSION_VALUES], { minLength: 1, maxLength: 2 })
            .map((values): [string, string[]] => [field, values]),
        ),
      ),
    )
    .map((entries) => Object.fromEntries(entries) as Record<string, string[]>);
  // A histogram has no one number to rank by.
  const ranking = fc.record({
    measure: fc.constantFrom(
      ...view.measures.filter((measure) => measure.kind !== 'histogram').map((measure) => measure.name),
    ),
    order: fc.constantFrom('asc' as const, 'desc' as const),
    limit: fc.integer({ min: 1, max: 6 }),
  });
  return fc.record({
    groups: fc.array(given, { minLength: 2, maxLength: 2 }),
    tops: fc.array(fc.record({ given, ranking }), { minLength: 2, maxLength: 2 }),
  });
}

/** Asks every question through the query handler and holds each answer to the brute-force reference. */
async function checkAnswers(
  config: PipelineConfig,
  resources: Resources,
  records: readonly StreamRecord[],
  seed: number,
): Promise<{ batchParts: number; realtimeParts: number; mergedGroups: number }> {
  const handler = queryHandler(config, resources);
  const seen = { batchParts: 0, realtimeParts: 0, mergedGroups: 0 };
  const ask = async (view: ViewDefinition, parameters: Record<string, string[]>) => {
    const answer = await viewAnswer(handler, view, parameters);
    for (const series of answer.series) {
      if ((series.keys ?? 0) > 1) seen.mergedGroups += 1;
      for (const bucket of series.buckets) {
        if (bucket.batch !== null) seen.batchParts += 1;
        if (bucket.realtime !== null) seen.realtimeParts += 1;
      }
    }
    return answer;
  };
  const range = (view: ViewDefinition) => ({ ...RANGE, granularity: view.granularity });
  for (const view of config.views) {
    // The key directory lists every key the view counted, and no other, two at a time through `next`.
    const listed: Record<string, string>[] = [];
    let next: string | null = null;
    do {
      const response = await handler({
        httpMethod: 'GET',
        resource: '/views/{view}/keys',
        pathParameters: { view: view.name },
        multiValueQueryStringParameters: { limit: ['2'], ...(next === null ? {} : { next: [next] }) },
      } as unknown as APIGatewayProxyEvent);
      expect(response.statusCode).toBe(200);
      const page = JSON.parse(response.body) as { keys: { key: Record<string, string> }[]; next: string | null };
      listed.push(...page.keys.map((entry) => entry.key));
      next = page.next;
    } while (next !== null);
    const counted = new Map(
      countedRecords(view, records).map((record) => {
        const key = Object.fromEntries(view.dimensions.map((field) => [field, record.event[field] as string]));
        return [JSON.stringify(key), key];
      }),
    );
    expect(new Set(listed.map((key) => JSON.stringify(key)))).toEqual(new Set(counted.keys()));
    expect(listed).toHaveLength(counted.size);
    const [questions] = fc.sample(questionsArbitrary(view), { numRuns: 1, seed });
    for (const given of questions.groups) {
      const answer = await ask(
        view,
        Object.fromEntries(Object.entries(given).map(([field, values]) => [field, [values.join(',')]])),
      );
      expect({
        view: view.name,
        given,
        series: asReference(view, answer.series).map(({ key, buckets }) => ({ key, buckets })),
      }).toEqual({
        view: view.name,
        given,
        series: normalise(expectedGroups(view, records, given, range(view))),
      });
    }
    for (const { given, ranking } of questions.tops) {
      const answer = await ask(view, {
        ...Object.fromEntries(Object.entries(given).map(([field, values]) => [field, [values.join(',')]])),
        orderBy: [ranking.measure],
        order: [ranking.order],
        limit: [String(ranking.limit)],
      });
      expect({ view: view.name, given, ranking, series: asReference(view, answer.series) }).toEqual({
        view: view.name,
        given,
        ranking,
        series: normalise(expectedTop(view, records, given, ranking, range(view))),
      });
    }
  }
  return seen;
}

const caseArbitrary = schemaArbitrary.chain((schema) =>
  fc.record({
    schema: fc.constant(schema),
    views: viewsArbitrary(schema),
    stream: schemaStreamArbitrary(schema, { minLength: 20, maxLength: 40 }),
  }),
);

/** How many of the records a view counts sit exactly on one of its histograms' boundaries. */
function valuesOnBoundaries(view: ViewDefinition, deliveries: readonly StreamRecord[]): number {
  const counted = countedRecords(view, deliveries);
  return view.measures
    .filter((measure) => measure.kind === 'histogram')
    .reduce(
      (total, measure) =>
        total +
        counted.filter((record) => measure.boundaries?.includes(record.event[measure.field ?? ''] as number)).length,
      0,
    );
}

describe('stored measures, roll-ups, key listing, group-by and top-N over random declared schemas and measures', () => {
  // Each case is a whole pipeline history over emulators (speed layer, archive, a DuckDB batch run, queries), so a
  // few cases with fixed seeds; the generators mix late events, producer retries and redeliveries into each, and
  // declare sums, extremes, averages, sums of squares, variances, standard deviations, distinct counts (HyperLogLog
  // at 16 to 4,096 registers) and histograms (declared boundaries, some values on them, or exponential ones).
  const cases = fc.sample(caseArbitrary, { numRuns: 10, seed: 1515 });
  // What the cases exercised, summed: a filter may leave one case's answers empty, never all.
  const exercised = {
    lambdaCases: 0,
    batchParts: 0,
    realtimeParts: 0,
    mergedGroups: 0,
    rolledUpBuckets: 0,
    valuesOnBoundaries: 0,
    kinds: new Set<string>(),
  };

  it.each(cases.map((generated, index) => [index, generated] as const))(
    'case %i: in the Lambda architecture, stored realtime items and batch rows and every answer equal brute force over the distinct records, before and after batch flips',
    async (index, { schema, views, stream }) => {
      const config = definePipelineConfig({ schema, views, epochLengthMinutes: 15 });
      const resources = resourcesOf(`lambda-${index}`);
      await provision(resources);
      await runSpeedLayer(config, resources, stream);
      // Before any batch run, everything is the speed layer's.
      await checkStored(config, resources, stream.deliveries, []);
      await checkRollUps(config, resources, stream.deliveries, null, index);
      const before = await checkAnswers(config, resources, stream.deliveries, index);
      expect(before.batchParts).toBe(0);

      await archive(resources, stream.deliveries);
      const batchRun = (cutoff: number) =>
        runBatchJob({
          config,
          engine: new DuckDbEngine({ s3, bucket: resources.bucket, schema: config.schema }),
          store: new BatchViewStore({
            client: dynamodb,
            retry: UNHURRIED_RETRIES,
            batchTable: resources.batch,
            manifestTable: resources.manifest,
          }),
          keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.directory }),
          logger: new RecordingLogger(),
          metrics: new RecordingMetrics(),
          now: () => cutoff + config.bufferIntervalMs + config.safetyMarginMs,
        });
      // Each run flips every view through the same windows: [0, FIRST_CUTOFF), then up to CUTOFF at most
      // config.maxWindowMs at a time, so that a bucket's batch part merges rows of several windows.
      const windows: Window[] = [];
      for (const cutoff of [FIRST_CUTOFF, CUTOFF]) {
        const summary = await batchRun(cutoff);
        expect(summary.views.map((view) => [view.outcome, view.cutoff])).toEqual(
          config.views.map(() => ['flipped', cutoff]),
        );
        const flipped = summary.views.map((view) => view.windows.map(({ from, to }) => ({ from, to })));
        expect(flipped).toEqual(flipped.map(() => flipped[0]));
        windows.push(...(flipped[0] ?? []));
      }
      expect(windows.length).toBeGreaterThan(2);
      // After the flips: each window's rows, the realtime epochs from the cutoff, and answers merging the two.
      await checkStored(config, resources, stream.deliveries, windows);
      exercised.rolledUpBuckets += await checkRollUps(config, resources, stream.deliveries, CUTOFF, index + 100);
      const after = await checkAnswers(config, resources, stream.deliveries, index + 100);
      exercised.lambdaCases += 1;
      exercised.batchParts += after.batchParts;
      exercised.realtimeParts += before.realtimeParts + after.realtimeParts;
      exercised.mergedGroups += before.mergedGroups + after.mergedGroups;
      for (const view of config.views) {
        exercised.valuesOnBoundaries += valuesOnBoundaries(view, stream.deliveries);
        for (const measure of view.measures) exercised.kinds.add(measure.kind);
      }
    },
  );

  it.each(cases.map((generated, index) => [index, generated] as const))(
    'case %i: in Kappa mode, stored realtime items and every answer equal brute force over the distinct records',
    async (index, { schema, views, stream }) => {
      const config = definePipelineConfig({ schema, views, epochLengthMinutes: 15, architecture: 'kappa' });
      const resources = resourcesOf(`kappa-${index}`);
      await provision(resources);
      await runSpeedLayer(config, resources, stream);
      await checkStored(config, resources, stream.deliveries, []);
      await checkRollUps(config, resources, stream.deliveries, null, index);
      await checkAnswers(config, resources, stream.deliveries, index);
    },
  );

  it('the cases exercised every measure kind, values on histogram boundaries, batch and realtime parts, roll-ups, and group-bys that merged several keys', () => {
    if (exercised.lambdaCases === 0) return; // only this test was selected
    expect(exercised.batchParts).toBeGreaterThan(0);
    expect(exercised.realtimeParts).toBeGreaterThan(0);
    expect(exercised.mergedGroups).toBeGreaterThan(0);
    expect(exercised.rolledUpBuckets).toBeGreaterThan(0);
    expect(exercised.valuesOnBoundaries).toBeGreaterThan(0);
    expect([...exercised.kinds].sort()).toEqual([...MEASURE_KINDS].sort());
  });
});
