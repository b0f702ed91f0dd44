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
import { partitionKeyOf } from '../../functions/core/event-schema';
import { partitionKeysOf } from '../../functions/core/master-dataset-columns';
import { definePipelineConfig, type PipelineConfig } from '../../functions/core/pipeline-config';
import { toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { createQueryHandler } from '../../functions/serving/query-handler';
import { createSpeedHandler } from '../../functions/speed/speed-handler';
import { emulatorClientConfig, startDynamoDb, startS3, type RunningEmulator } from '../../local/emulators';
import { toLambdaEvent } from '../../local/kinesis-lambda-event';
import { ensureBucket, ensureTable } from '../../local/provision';
import { countedRecords } from '../support/brute-force';
import { expectedGroups, expectedTop, type ExpectedSeries } from '../support/brute-force-groups';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';
import {
  DIMENSION_VALUES,
  schemaArbitrary,
  schemaStreamArbitrary,
  viewsArbitrary,
} from '../support/schema-arbitraries';
import { BASE_TIME_MS } from '../support/stream-arbitraries';

const DAY_MS = 86_400_000;
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/events';
/** Mid-way through the generated arrivals, so that after the flip both layers hold part of every answer. */
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

/** The speed layer over the records: each shard in sequence order, in batches of 5, each batch delivered twice. */
async function runSpeedLayer(config: PipelineConfig, resources: Resources, records: readonly StreamRecord[]) {
  const speed = createSpeedHandler({
    config,
    dynamodb,
    realtimeTable: resources.realtime,
    dedupTable: resources.dedup,
    keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.directory }),
    logger: new RecordingLogger(),
    metrics: new RecordingMetrics(),
    retry: { sleep: async () => undefined },
  });
  for (const shardId of ['shardId-000000000000', 'shardId-000000000001']) {
    const shard = records
      .filter((record) => record.shardId === shardId)
      .sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1));
    for (let start = 0; start < shard.length; start += 5) {
      const batch = toLambdaEvent(
        shard.slice(start, start + 5).map((record) => ({
          Data: Buffer.from(JSON.stringify(record.event)),
          PartitionKey: partitionKeyOf(config.schema, record.event),
          SequenceNumber: record.sequenceNumber,
          ApproximateArrivalTimestamp: new Date(record.arrivalMs),
        })),
        { streamArn: STREAM_ARN, shardId },
      );
      for (let delivery = 0; delivery < 2; delivery += 1) {
        expect(await speed(batch)).toEqual({ batchItemFailures: [] });
      }
    }
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
  const ranking = fc.record({
    measure: fc.constantFrom(...view.measures.map((measure) => measure.name)),
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
    const response = await handler({
      httpMethod: 'GET',
      resource: '/views/{view}',
      pathParameters: { view: view.name },
      multiValueQueryStringParameters: {
        from: [String(RANGE.from)],
        to: [String(RANGE.to)],
        ...parameters,
      },
    } as unknown as APIGatewayProxyEvent);
    expect({ status: response.statusCode, body: response.statusCode === 200 ? '' : response.body }).toEqual({
      status: 200,
      body: '',
    });
    const answer = JSON.parse(response.body) as { series: (AnswerSeries & { keys?: number })[] };
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

describe('key listing, group-by and top-N over random declared schemas', () => {
  // Each case is a whole pipeline history over emulators (speed layer, archive, a DuckDB batch run, queries), so a
  // few cases with fixed seeds; the generators mix late events, producer retries and redeliveries into each.
  const cases = fc.sample(caseArbitrary, { numRuns: 10, seed: 1515 });
  // What the Lambda-architecture cases exercised, summed: a filter may leave one case's answers empty, never all.
  const exercised = { lambdaCases: 0, batchParts: 0, realtimeParts: 0, mergedGroups: 0 };

  it.each(cases.map((generated, index) => [index, generated] as const))(
    'case %i: in the Lambda architecture, answers equal brute force over the distinct records before and after a batch flip',
    async (index, { schema, views, stream }) => {
      const config = definePipelineConfig({ schema, views, epochLengthMinutes: 15 });
      const resources = resourcesOf(`lambda-${index}`);
      await provision(resources);
      await runSpeedLayer(config, resources, stream.records);
      // Before any batch run, every answer is the speed layer's.
      const before = await checkAnswers(config, resources, stream.deliveries, index);
      expect(before.batchParts).toBe(0);

      await archive(resources, stream.deliveries);
      const summary = await runBatchJob({
        config,
        engine: new DuckDbEngine({ s3, bucket: resources.bucket, schema: config.schema }),
        store: new BatchViewStore({ client: dynamodb, batchTable: resources.batch, manifestTable: resources.manifest }),
        keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: resources.directory }),
        logger: new RecordingLogger(),
        metrics: new RecordingMetrics(),
        now: () => CUTOFF + config.bufferIntervalMs + config.safetyMarginMs,
      });
      expect(summary.views.map((view) => view.outcome)).toEqual(config.views.map(() => 'flipped'));
      // After the flip, answers merge the batch rows below the cutoff with the realtime epochs from it.
      const after = await checkAnswers(config, resources, stream.deliveries, index + 100);
      exercised.lambdaCases += 1;
      exercised.batchParts += after.batchParts;
      exercised.realtimeParts += before.realtimeParts + after.realtimeParts;
      exercised.mergedGroups += before.mergedGroups + after.mergedGroups;
    },
  );

  it.each(cases.map((generated, index) => [index, generated] as const))(
    'case %i: in Kappa mode, answers equal brute force over the distinct records',
    async (index, { schema, views, stream }) => {
      const config = definePipelineConfig({ schema, views, epochLengthMinutes: 15, architecture: 'kappa' });
      const resources = resourcesOf(`kappa-${index}`);
      await provision(resources);
      await runSpeedLayer(config, resources, stream.records);
      await checkAnswers(config, resources, stream.deliveries, index);
    },
  );

  it('the cases exercised answers with batch and realtime parts, and group-bys that merged several keys', () => {
    if (exercised.lambdaCases === 0) return; // only this test was selected
    expect(exercised.batchParts).toBeGreaterThan(0);
    expect(exercised.realtimeParts).toBeGreaterThan(0);
    expect(exercised.mergedGroups).toBeGreaterThan(0);
  });
});
