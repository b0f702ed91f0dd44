import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { KeyDirectoryStore } from '../../functions/adapters/key-directory-store';
import { ViewReader } from '../../functions/adapters/view-reader';
import { measureAttributes } from '../../functions/core/aggregate-attributes';
import { windowItem } from '../../functions/core/batch-item';
import { encodeDimensionKey } from '../../functions/core/dimension-key';
import { bucketStart, type Granularity } from '../../functions/core/granularity';
import { binOf, estimateQuantile, quantileRank, type QuantileEstimate } from '../../functions/core/histogram';
import {
  estimateCardinality,
  hllStandardError,
  mergeRegisters,
  singleValueRegisters,
  type HllRegisters,
} from '../../functions/core/hyperloglog';
import { beginWindowRequest, finishWindowRequest } from '../../functions/core/manifest';
import { DEFAULT_QUANTILES, mergeAllMeasures, measuresOf } from '../../functions/core/measures';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { realtimeItemKey } from '../../functions/core/storage-keys';
import { createQueryHandler } from '../../functions/serving/query-handler';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { createTable } from '../speed/realtime-table';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';

/**
 * Sketch measures through the query handler, over the serving layer's own reader on dynalite: distinct registers,
 * histogram counts and sums of squares merged by the serving rule (batch ⊕ realtime), by roll-ups and by group-bys,
 * every answer compared with brute force over the events.
 */
const config = definePipelineConfig({
  schema: { id: 'requestId', time: 'at', dimensions: ['path', 'country', 'user'], numbers: ['latencyMs'] },
  views: [
    {
      name: 'path_country_minute',
      dimensions: ['path', 'country'],
      granularity: 'minute',
      measures: {
        requests: 'count',
        users: { distinct: 'user' },
        latency: { histogram: 'latencyMs', range: [1, 10_000], relativeAccuracy: 0.02 },
        sdLatency: { stddev: 'latencyMs' },
        varLatency: { variance: 'latencyMs' },
        maxLatency: { max: 'latencyMs' },
      },
    },
    {
      name: 'country_hour',
      dimensions: ['country'],
      granularity: 'hour',
      measures: { requests: 'count', users: { distinct: 'user', precision: 10 } },
    },
  ],
});
const [view] = config.views;
const measure = (name: string) => view.measures.find((candidate) => candidate.name === name)!;
const PRECISION = measure('users').precision!;
const BOUNDARIES = measure('latency').boundaries!;

const MINUTE = 60_000;
const NOW = Date.UTC(2026, 0, 10, 12, 0);
/** The hour the events are in: 10:00 to 10:30. */
const HOUR = NOW - 2 * 60 * MINUTE;
/** The batch version's cutoff (by arrival): requests with an even index arrived before it, the others after. */
const CUTOFF = NOW - 60 * MINUTE;
const tables = { realtimeTable: 'realtime', batchTable: 'batch', manifestTable: 'manifest', directory: 'directory' };
const range = { from: String(NOW - 3 * 60 * MINUTE), to: String(NOW) };

type Request = {
  readonly requestId: string;
  readonly path: string;
  readonly country: string;
  readonly user: string;
  readonly latencyMs: number;
  readonly at: number;
  readonly inBatch: boolean;
};

const KEYS = [
  ['/a', 'US'],
  ['/a', 'DE'],
  ['/b', 'US'],
  ['/b', 'DE'],
];

/**
 * Five requests per key and minute for 30 minutes. Key k's users are u(5k)..u(5k+11), so keys share users: each
 * user comes back minute after minute, and under up to three keys. One request per key is above the last boundary.
 */
const requests: Request[] = KEYS.flatMap(([path, country], k) =>
  Array.from({ length: 30 }, (_, minute) =>
    Array.from({ length: 5 }, (_, i): Request => {
      const index = (k * 30 + minute) * 5 + i;
      return {
        requestId: `r-${index}`,
        path,
        country,
        user: `u${5 * k + ((minute * 3 + i) % 12)}`,
        latencyMs: minute === 29 && i === 4 ? 25_000 : Math.round(5 + ((k * 97 + minute * 31 + i * 53) % 400) * 3.7),
        at: HOUR + minute * MINUTE + i * 1000,
        inBatch: i % 2 === 0,
      };
    }),
  ).flat(),
);

let dynamo: RunningEmulator;
let client: DynamoDBClient;

/** The stored measures of some requests, as the speed layer folds them and the batch SQL aggregates them. */
const foldOf = (picked: readonly Request[]) => mergeAllMeasures(picked.map((request) => measuresOf(view, request)));

beforeAll(async () => {
  dynamo = await startDynamoDb();
  client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  for (const table of Object.values(tables)) await createTable(client, table);
  const directory = new KeyDirectoryStore({ client, tableName: tables.directory });
  const window = { from: 0, to: CUTOFF };
  for (const values of KEYS) {
    const dimensionKey = encodeDimensionKey(values);
    await directory.recordNewKeys(view.name, [{ dimensionKey, firstMs: HOUR, lastMs: HOUR }]);
    const ofKey = requests.filter((request) => request.path === values[0] && request.country === values[1]);
    for (let minute = 0; minute < 30; minute += 1) {
      const bucket = HOUR + minute * MINUTE;
      const inBucket = ofKey.filter((request) => bucketStart(request.at, 'minute') === bucket);
      const row = (inBatch: boolean) => ({
        dimensionKey,
        bucket,
        measures: foldOf(inBucket.filter((request) => request.inBatch === inBatch)),
      });
      await client.send(
        new PutItemCommand({ TableName: tables.batchTable, Item: windowItem(view, window, row(true)) }),
      );
      const key = realtimeItemKey({ view: view.name, dimensionKey, bucket, epoch: CUTOFF }, 1);
      await client.send(
        new PutItemCommand({
          TableName: tables.realtimeTable,
          Item: {
            pk: { S: key.pk },
            sk: { S: key.sk },
            bucket: { N: String(bucket) },
            // Read by the reader's filter of epochs the batch version covers.
            epoch: { N: String(CUTOFF) },
            ...measureAttributes(row(false).measures, view.stored),
          },
        }),
      );
    }
  }
  for (const request of [
    beginWindowRequest(view.name, { ...window, startedAt: CUTOFF }),
    finishWindowRequest(view.name, window, new Date(CUTOFF).toISOString()),
  ]) {
    await client.send(new UpdateItemCommand({ TableName: tables.manifestTable, ...request }));
  }
});
afterAll(async () => {
  client.destroy();
  await dynamo.stop();
});

const handler = () =>
  createQueryHandler({
    config,
    reader: new ViewReader({ client, ...tables }),
    directory: new KeyDirectoryStore({ client, tableName: tables.directory }),
    logger: new RecordingLogger(),
    metrics: new RecordingMetrics(),
    openApiDocument: () => ({}),
    now: () => NOW,
  });

type Quantiles = Record<string, QuantileEstimate>;
interface Presented {
  requests: number;
  users: number;
  latency: Quantiles;
  sdLatency: number | null;
  varLatency: number | null;
  maxLatency: number;
}
type Bucket = Presented & { startMs: number; batch: Presented | null; realtime: Presented | null };
interface Answer {
  accuracy?: Record<string, unknown>;
  series: { key: Record<string, string>; rank?: number; value?: number; buckets: Bucket[] }[];
  views?: { name: string; measureDetails: Record<string, unknown> }[];
  message?: string;
  errors?: string[];
}

async function get(path: string, parameters: Record<string, string>): Promise<{ status: number; body: Answer }> {
  const response = await handler()({
    httpMethod: 'GET',
    resource: path === '/views' ? '/views' : '/views/{view}',
    path,
    pathParameters: { view: path.split('/')[2] },
    multiValueQueryStringParameters: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, [v]])),
  } as unknown as APIGatewayProxyEvent);
  return { status: response.statusCode, body: JSON.parse(response.body) as Answer };
}

/** The q-quantile of values by brute force: the value of rank quantileRank(q, n) among them sorted. */
function trueQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[quantileRank(q, sorted.length) - 1];
}

function sampleVariance(values: readonly number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((total, value) => total + (value - mean) ** 2, 0) / (values.length - 1);
}

/**
 * Brute force for some requests, from the events alone: HyperLogLog registers of each user, counts of each latency's
 * bin (register for register, bin for bin: the estimates are the answer's only if the merges kept every register
 * and count), and the sample statistics computed in two passes.
 */
function expectPresents(presented: Presented | null, picked: readonly Request[], quantiles = DEFAULT_QUANTILES) {
  if (picked.length === 0) {
    expect(presented).toBeNull();
    return;
  }
  const registers = picked.reduce<HllRegisters>(
    (merged, request) => mergeRegisters(merged, singleValueRegisters(request.user, PRECISION)),
    new Map(),
  );
  const bins = new Map<number, number>();
  for (const { latencyMs } of picked)
    bins.set(binOf(BOUNDARIES, latencyMs), (bins.get(binOf(BOUNDARIES, latencyMs)) ?? 0) + 1);
  const latencies = picked.map((request) => request.latencyMs);
  expect(presented).toMatchObject({
    requests: picked.length,
    users: Math.round(estimateCardinality(registers, PRECISION)),
    latency: Object.fromEntries(quantiles.map((q) => [String(q), estimateQuantile(BOUNDARIES, bins, q)])),
    maxLatency: Math.max(...latencies),
  });
  // A few dozen users: the sparse sketch counts them exactly.
  expect(presented?.users).toBe(new Set(picked.map((request) => request.user)).size);
  for (const q of quantiles) {
    const { lower, upper } = presented!.latency[String(q)];
    const truth = trueQuantile(latencies, q);
    expect(lower === null || lower < truth).toBe(true);
    expect(upper === null || truth <= upper).toBe(true);
  }
  if (picked.length < 2) {
    expect([presented?.sdLatency, presented?.varLatency]).toEqual([null, null]);
  } else {
    expect(presented?.varLatency).toBeCloseTo(sampleVariance(latencies), 6);
    expect(presented?.sdLatency).toBeCloseTo(Math.sqrt(sampleVariance(latencies)), 6);
  }
}

/** Checks each bucket of a series, and both its parts, against brute force over the requests `where` picks. */
function expectSeries(
  buckets: readonly Bucket[],
  granularity: Granularity,
  where: (request: Request) => boolean,
  quantiles = DEFAULT_QUANTILES,
) {
  const picked = requests.filter(where);
  const starts = [...new Set(picked.map((request) => bucketStart(request.at, granularity)))].sort((a, b) => a - b);
  expect(buckets.map((bucket) => bucket.startMs)).toEqual(starts);
  for (const bucket of buckets) {
    const inBucket = picked.filter((request) => bucketStart(request.at, granularity) === bucket.startMs);
    expectPresents(bucket, inBucket, quantiles);
    expectPresents(
      bucket.batch,
      inBucket.filter((request) => request.inBatch),
      quantiles,
    );
    expectPresents(
      bucket.realtime,
      inBucket.filter((request) => !request.inBatch),
      quantiles,
    );
  }
}

describe('sketch measures merged by the query handler (dynalite)', () => {
  it('rolls a distinct measure up to hours as the distinct count of the union of its minutes, not their sum', async () => {
    const where = (request: Request) => request.path === '/a' && request.country === 'US';
    const minutes = await get('/views/path_country_minute', { path: '/a', country: 'US', ...range });
    expect(minutes.status).toBe(200);
    expectSeries(minutes.body.series[0].buckets, 'minute', where);
    const hourly = await get('/views/path_country_minute', {
      path: '/a',
      country: 'US',
      ...range,
      granularity: 'hour',
    });
    expect(hourly.status).toBe(200);
    const [bucket] = hourly.body.series[0].buckets;
    expect(bucket.users).toBe(12);
    // Each minute has 5 distinct users: 150 counted minute by minute, 12 people in all.
    expect(minutes.body.series[0].buckets.reduce((total, minute) => total + minute.users, 0)).toBe(150);
    expectSeries(hourly.body.series[0].buckets, 'hour', where);
  });

  it('merges registers over the keys of a group-by: a user seen under several keys counts once', async () => {
    const byPath = await get('/views/path_country_minute', { path: '/a,/b', ...range, granularity: 'hour' });
    expect(byPath.status).toBe(200);
    expect(byPath.body.series.map((series) => [series.key, series.buckets[0].users])).toEqual([
      [{ path: '/a' }, 17],
      [{ path: '/b' }, 17],
    ]);
    for (const series of byPath.body.series) {
      expectSeries(series.buckets, 'hour', (request) => request.path === series.key.path);
    }
    const everyKey = await get('/views/path_country_minute', range);
    expect(everyKey.body.series[0].buckets.every((bucket) => bucket.users >= 5)).toBe(true);
    expectSeries(everyKey.body.series[0].buckets, 'minute', () => true);
    const everything = await get('/views/path_country_minute', { ...range, granularity: 'hour' });
    expect(everything.body.series[0].buckets[0].users).toBe(27);
  });

  it('answers the quantiles asked for over a roll-up, in the bucket and both parts, each bounding the true quantile', async () => {
    const quantiles = [0.5, 0.75, 0.999, 0, 1];
    const { status, body } = await get('/views/path_country_minute', {
      country: 'DE',
      ...range,
      granularity: 'hour',
      quantiles: '0.5,.75,0.9990,0,1',
    });
    expect(status).toBe(200);
    const [bucket] = body.series[0].buckets;
    expect(Object.keys(bucket.latency).sort()).toEqual(['0', '0.5', '0.75', '0.999', '1']);
    expectSeries(body.series[0].buckets, 'hour', (request) => request.country === 'DE', quantiles);
    // The slowest requests are above the last boundary: bounded below only, estimated at that boundary.
    const last = BOUNDARIES[BOUNDARIES.length - 1];
    expect(bucket.latency['1']).toEqual({ estimate: last, lower: last, upper: null });
    const median = bucket.latency['0.5'];
    expect((median.upper! - median.estimate) / median.upper!).toBeLessThanOrEqual(0.0201);
  });

  it('answers the default quantiles when none are asked for, in top-N and group-by answers too', async () => {
    const grouped = await get('/views/path_country_minute', { country: 'US', ...range });
    expect(Object.keys(grouped.body.series[0].buckets[0].latency)).toEqual(DEFAULT_QUANTILES.map(String));
    const top = await get('/views/path_country_minute', { orderBy: 'users', quantiles: '0.25', ...range });
    expect(top.status).toBe(200);
    expect(top.body.series.every((series) => series.buckets.every((bucket) => '0.25' in bucket.latency))).toBe(true);
  });

  it('ranks keys by a distinct, a stddev and a variance measure over the whole range', async () => {
    for (const orderBy of ['users', 'sdLatency', 'varLatency']) {
      const { status, body } = await get('/views/path_country_minute', { orderBy, ...range });
      expect(status).toBe(200);
      const expected = KEYS.map(([path, country]) => {
        const picked = requests.filter((request) => request.path === path && request.country === country);
        const variance = sampleVariance(picked.map((request) => request.latencyMs));
        const value =
          orderBy === 'users'
            ? new Set(picked.map((r) => r.user)).size
            : orderBy === 'sdLatency'
              ? Math.sqrt(variance)
              : variance;
        return { key: `${path}|${country}`, value };
      }).sort((a, b) => b.value - a.value || (a.key < b.key ? -1 : 1));
      expect(body.series.map((series) => `${series.key.path}|${series.key.country}`)).toEqual(
        expected.map((entry) => entry.key),
      );
      body.series.forEach((series, index) => expect(series.value).toBeCloseTo(expected[index].value, 6));
    }
  });

  it('refuses orderBy of a histogram, naming the measures keys can be ranked by', async () => {
    const { status, body } = await get('/views/path_country_minute', { orderBy: 'latency', ...range });
    expect(status).toBe(400);
    expect(body.errors).toEqual([
      'orderBy: latency is a histogram, which answers quantiles, not one number to rank keys by (measures of view ' +
        'path_country_minute keys can be ranked by: requests, users, sdLatency, varLatency, maxLatency)',
    ]);
  });

  it('refuses malformed quantiles naming each bad item, and quantiles of a view without a histogram naming it', async () => {
    const bad = await get('/views/path_country_minute', { quantiles: '0.5,1.5,-0.1,abc,,0.50,1e-3', ...range });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([
      'quantiles: expected numbers from 0 to 1 separated by commas, got "1.5"',
      'quantiles: expected numbers from 0 to 1 separated by commas, got "-0.1"',
      'quantiles: expected numbers from 0 to 1 separated by commas, got "abc"',
      'quantiles: expected numbers from 0 to 1 separated by commas, got ""',
      'quantiles: expected each quantile once, got 0.5 more than once',
      'quantiles: expected numbers from 0 to 1 separated by commas, got "1e-3"',
    ]);
    const many = await get('/views/path_country_minute', {
      quantiles: Array.from({ length: 21 }, (_, i) => String(i / 20)).join(','),
      ...range,
    });
    expect(many.body.errors).toEqual(['quantiles: expected at most 20 quantiles, got 21']);
    const exact = await get('/views/country_hour', { quantiles: '0.5', ...range });
    expect(exact.status).toBe(400);
    expect(exact.body.errors).toEqual([
      'quantiles: view country_hour has no histogram measure (its measures: requests, users); quantiles apply to ' +
        'histogram measures only',
    ]);
  });

  it("states each sketch measure's accuracy once in an answer, and with its kind and field in GET /views", async () => {
    const { body } = await get('/views/path_country_minute', { path: '/a', country: 'US', ...range });
    const latencyAccuracy = {
      relativeError: expect.closeTo(0.02, 4) as number,
      range: [1, BOUNDARIES[BOUNDARIES.length - 1]],
      bins: BOUNDARIES.length + 1,
    };
    expect(body.accuracy).toEqual({
      users: { precision: 12, standardError: hllStandardError(12) },
      latency: latencyAccuracy,
    });
    expect(BOUNDARIES[BOUNDARIES.length - 1]).toBeGreaterThanOrEqual(10_000);
    const listing = await get('/views', {});
    const [minuteView, hourView] = listing.body.views ?? [];
    expect(minuteView.measureDetails).toEqual({
      requests: { kind: 'count', field: null },
      users: { kind: 'distinct', field: 'user', precision: 12, standardError: 0.01625 },
      latency: { kind: 'histogram', field: 'latencyMs', ...latencyAccuracy },
      sdLatency: { kind: 'stddev', field: 'latencyMs' },
      varLatency: { kind: 'variance', field: 'latencyMs' },
      maxLatency: { kind: 'max', field: 'latencyMs' },
    });
    expect(hourView.measureDetails.users).toEqual({
      kind: 'distinct',
      field: 'user',
      precision: 10,
      standardError: 0.0325,
    });
  });
});
