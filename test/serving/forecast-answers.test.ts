import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { BaselineReader } from '../../functions/adapters/baseline-reader';
import { KeyDirectoryStore } from '../../functions/adapters/key-directory-store';
import { ViewReader } from '../../functions/adapters/view-reader';
import { measureAttributes } from '../../functions/core/aggregate-attributes';
import { encodeDimensionKey } from '../../functions/core/dimension-key';
import { MAX_FORECAST_HORIZON } from '../../functions/core/forecast-request';
import { measuresOf } from '../../functions/core/measures';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { realtimeItemKey } from '../../functions/core/storage-keys';
import { createQueryHandler } from '../../functions/serving/query-handler';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { createTable } from '../speed/realtime-table';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';
import { getViewRoute } from '../support/api-gateway-request';

const config = definePipelineConfig({
  views: [
    {
      name: 'site_metric_hour',
      dimensions: ['site', 'metric'],
      granularity: 'hour',
      baseline: { measure: 'value', seasonality: 'hourOfDay', trainingWindowDays: 7, threshold: 3, minEvents: 3 },
    },
    { name: 'plain_hour', dimensions: ['site'], granularity: 'hour' },
  ],
});
const [view, plainView] = config.views;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** 12:30 UTC: a forecast from now starts with the 12:00 bucket, and its window ends there. */
const NOW = Date.UTC(2026, 10, 25, 12, 30);
const TODAY_12 = Date.UTC(2026, 10, 25, 12);
const tables = { realtimeTable: 'realtime', batchTable: 'batch', manifestTable: 'manifest', directory: 'directory' };

/** The readings at 12:00 UTC of the five days before: mean 12, sample standard deviation √2.5. */
const NOON_VALUES = [10, 12, 14, 11, 13];
const NOON_MEAN = 12;
const NOON_STDDEV = Math.sqrt(2.5);

let dynamo: RunningEmulator;
let client: DynamoDBClient;
let epoch = 0;

/** One reading of a key in the speed layer's table: an item of its own (its own arrival epoch), always served. */
async function putReading(site: string, metric: string, eventTimeMs: number, value: number): Promise<void> {
  const event = { eventId: `e${epoch}`, deviceId: 'd1', site, metric, value, ts: eventTimeMs };
  const bucket = Math.floor(eventTimeMs / HOUR) * HOUR;
  epoch += 1;
  const key = realtimeItemKey(
    { view: view.name, dimensionKey: encodeDimensionKey([site, metric]), bucket, epoch: NOW - DAY + epoch },
    1,
  );
  await client.send(
    new PutItemCommand({
      TableName: tables.realtimeTable,
      Item: { pk: { S: key.pk }, sk: { S: key.sk }, ...measureAttributes(measuresOf(view, event), view.stored) },
    }),
  );
}

interface ForecastBucket {
  start: string;
  startMs: number;
  slot: string;
  status: 'ready' | 'cold';
  expected: number | null;
  lower: number | null;
  upper: number | null;
  stddev: number | null;
  events: number;
  reason?: string;
}
interface ForecastAnswer {
  view: string;
  key: Record<string, string>;
  field: string;
  seasonality: string;
  threshold: number;
  from: string;
  fromMs: number;
  window: { from: string; to: string };
  buckets: ForecastBucket[];
  message?: string;
  errors?: string[];
}

function handler() {
  return createQueryHandler({
    config,
    reader: new ViewReader({ client, ...tables }),
    directory: new KeyDirectoryStore({ client, tableName: tables.directory }),
    logger: new RecordingLogger(),
    metrics: new RecordingMetrics(),
    openApiDocument: () => ({}),
    now: () => NOW,
  });
}

function get(
  viewName: string,
  parameters: Record<string, string | string[]>,
  query = handler(),
): Promise<{ status: number; body: ForecastAnswer }> {
  return getViewRoute<ForecastAnswer>(query, '/views/{view}/forecast', viewName, parameters);
}

const KEY = { site: 's1', metric: 'temperature' };

beforeAll(async () => {
  dynamo = await startDynamoDb();
  client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  for (const table of Object.values(tables)) await createTable(client, table);
  for (const [index, value] of NOON_VALUES.entries())
    await putReading('s1', 'temperature', TODAY_12 - (index + 1) * DAY, value);
  // 13:00: two readings, below minEvents. 14:00: three that never vary.
  for (const day of [1, 2]) await putReading('s1', 'temperature', TODAY_12 + HOUR - day * DAY, 7);
  for (const day of [1, 2, 3]) await putReading('s1', 'temperature', TODAY_12 + 2 * HOUR - day * DAY + 60_000, 5);
  // Outside the window of today and of yesterday: nine days back; and in the bucket forecast from (left out).
  await putReading('s1', 'temperature', TODAY_12 - 9 * DAY, 1000);
  await putReading('s1', 'temperature', TODAY_12 + 60_000, 1000);
  // Another key's readings at noon.
  for (const day of [1, 2, 3, 4]) await putReading('s2', 'temperature', TODAY_12 - day * DAY, 500 + day);
});
afterAll(async () => {
  client.destroy();
  await dynamo.stop();
});

describe('GET /views/{view}/forecast (BaselineReader over dynalite)', () => {
  it("answers the expected reading and band of each coming bucket from its slot's readings in the window before from", async () => {
    const { status, body } = await get(view.name, { ...KEY, horizon: '3' });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      view: view.name,
      key: KEY,
      field: 'value',
      seasonality: 'hourOfDay',
      threshold: 3,
      from: new Date(TODAY_12).toISOString(),
      fromMs: TODAY_12,
      window: { from: new Date(TODAY_12 - 7 * DAY).toISOString(), to: new Date(TODAY_12).toISOString() },
    });
    expect(body.buckets.map((bucket) => [bucket.startMs, bucket.start, bucket.slot])).toEqual([
      [TODAY_12, new Date(TODAY_12).toISOString(), '12:00 UTC'],
      [TODAY_12 + HOUR, new Date(TODAY_12 + HOUR).toISOString(), '13:00 UTC'],
      [TODAY_12 + 2 * HOUR, new Date(TODAY_12 + 2 * HOUR).toISOString(), '14:00 UTC'],
    ]);
    const [noon] = body.buckets;
    expect(noon).toEqual({
      start: new Date(TODAY_12).toISOString(),
      startMs: TODAY_12,
      slot: '12:00 UTC',
      status: 'ready',
      expected: expect.closeTo(NOON_MEAN, 9),
      lower: expect.closeTo(NOON_MEAN - 3 * NOON_STDDEV, 9),
      upper: expect.closeTo(NOON_MEAN + 3 * NOON_STDDEV, 9),
      stddev: expect.closeTo(NOON_STDDEV, 9),
      events: NOON_VALUES.length,
    });
  });

  it('says why a slot is cold: too few readings, or readings that never vary; no expected value or band', async () => {
    const { body } = await get(view.name, { ...KEY, horizon: '4' });
    const [, thirteen, fourteen, fifteen] = body.buckets;
    expect(thirteen).toMatchObject({ status: 'cold', expected: null, lower: null, upper: null, events: 2 });
    expect(thirteen.reason).toMatch(
      /^2 value readings at 13:00 UTC in the 7-day training window ending .*; scoring needs 3$/,
    );
    expect(fourteen).toMatchObject({ status: 'cold', expected: null, events: 3, stddev: 0 });
    expect(fourteen.reason).toMatch(/never varied/);
    expect(fifteen).toMatchObject({ status: 'cold', expected: null, events: 0, stddev: null });
    expect(fifteen.reason).toMatch(/^0 value readings at 15:00 UTC/);
  });

  it('answers 24 buckets by default, the same slot a day later from the same window', async () => {
    const { body } = await get(view.name, KEY);
    expect(body.buckets).toHaveLength(24);
    const withNext = await get(view.name, { ...KEY, horizon: '25' });
    expect(withNext.body.buckets[24]).toMatchObject({
      startMs: TODAY_12 + DAY,
      slot: '12:00 UTC',
      status: 'ready',
      expected: body.buckets[0].expected,
      events: NOON_VALUES.length,
    });
  });

  it('forecasts from the bucket of `from`, learning only from the window before it', async () => {
    // From yesterday noon: the window holds the noon readings of the four days before yesterday.
    const { body } = await get(view.name, {
      ...KEY,
      from: new Date(TODAY_12 - DAY + 5 * 60_000).toISOString(),
      horizon: '1',
    });
    expect(body.fromMs).toBe(TODAY_12 - DAY);
    const older = NOON_VALUES.slice(1);
    const mean = older.reduce((a, b) => a + b, 0) / older.length;
    expect(body.buckets[0]).toMatchObject({ status: 'ready', events: 4, expected: expect.closeTo(mean, 9) });
  });

  it('reads the baselines it is given (a BaselineReader of its own choosing)', async () => {
    const reads: [string, number, number][] = [];
    const reader = new BaselineReader({ reader: new ViewReader({ client, ...tables }), architecture: 'lambda' });
    const query = createQueryHandler({
      config,
      reader: new ViewReader({ client, ...tables }),
      directory: new KeyDirectoryStore({ client, tableName: tables.directory }),
      baselines: {
        servedBuckets: (...args: Parameters<BaselineReader['servedBuckets']>) => {
          reads.push([args[1], args[2], args[3]]);
          return reader.servedBuckets(...args);
        },
      },
      logger: new RecordingLogger(),
      metrics: new RecordingMetrics(),
      openApiDocument: () => ({}),
      now: () => NOW,
    });
    const { status } = await get(view.name, KEY, query);
    expect(status).toBe(200);
    expect(reads).toEqual([[encodeDimensionKey(['s1', 'temperature']), TODAY_12 - 7 * DAY, TODAY_12 - HOUR]]);
  });

  it('refuses what it cannot answer with a 400 naming the parameter', async () => {
    const problems: [Record<string, string | string[]>, RegExp][] = [
      [{ site: 's1' }, /^metric: required: a forecast is of one key/],
      [{ ...KEY, metric: 'a,b' }, /^metric: expected one value \(a forecast is of one key\), got 2/],
      [{ ...KEY, horizon: '0' }, new RegExp(`^horizon: expected a whole number from 1 to ${MAX_FORECAST_HORIZON}`)],
      [{ ...KEY, horizon: String(MAX_FORECAST_HORIZON + 1) }, /^horizon: /],
      [{ ...KEY, horizon: 'soon' }, /^horizon: /],
      [{ ...KEY, from: 'now' }, /^from: expected epoch milliseconds or an ISO-8601 date-time/],
      [{ ...KEY, deviceId: 'd1' }, /^deviceId: unknown dimension of view site_metric_hour/],
      [{ ...KEY, to: String(NOW) }, /^to: unknown dimension/],
      [
        { ...KEY, from: String(NOW - 400 * DAY) },
        /^from: the training window of a forecast from .* past the retention/,
      ],
    ];
    for (const [parameters, message] of problems) {
      const { status, body } = await get(view.name, parameters);
      expect({ parameters, status, message: body.message }).toEqual({
        parameters,
        status: 400,
        message: expect.stringMatching(message),
      });
    }
    const neither = await get(view.name, {});
    expect(neither.body.errors).toEqual([
      expect.stringMatching(/^site: required/),
      expect.stringMatching(/^metric: required/),
    ]);
  });

  it('refuses a view without a baseline with a 400 naming the views that have one', async () => {
    const { status, body } = await get(plainView.name, { site: 's1' });
    expect(status).toBe(400);
    expect(body.message).toBe('view: view plain_hour declares no baseline (views with one: site_metric_hour)');
  });
});
