import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { KeyDirectoryStore } from '../../functions/adapters/key-directory-store';
import { ViewReader } from '../../functions/adapters/view-reader';
import { measureAttributes } from '../../functions/core/aggregate-attributes';
import { encodeDimensionKey } from '../../functions/core/dimension-key';
import { encodeDirectoryToken } from '../../functions/core/key-directory';
import { measuresWith, type Measures } from '../../functions/core/measures';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { DEFAULT_QUERY_LIMITS, type QueryLimits } from '../../functions/core/query-request';
import { realtimeItemKey } from '../../functions/core/storage-keys';
import { createQueryHandler, type KeyDirectoryPages } from '../../functions/serving/query-handler';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { createTable } from '../speed/realtime-table';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';

const config = definePipelineConfig({
  views: [
    {
      name: 'site_device_minute',
      dimensions: ['site', 'deviceId'],
      granularity: 'minute',
      measures: ['count', 'sum', 'min', 'max'],
    },
  ],
});
const [view] = config.views;
const MINUTE = 60_000;
const NOW = Date.UTC(2026, 0, 10, 12, 0);
const FROM = NOW - 60 * MINUTE;
const tables = { realtimeTable: 'realtime', batchTable: 'batch', manifestTable: 'manifest', directory: 'directory' };

let dynamo: RunningEmulator;
let client: DynamoDBClient;
let directory: KeyDirectoryStore;

interface Bucket {
  startMs: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  avg: number;
  batch: Record<string, number> | null;
  realtime: Record<string, number> | null;
}
interface Series {
  key: Record<string, string>;
  keys?: number;
  rank?: number;
  value?: number;
  buckets: Bucket[];
}
interface Answer {
  groupBy?: string[];
  orderBy?: string;
  order?: string;
  series: Series[];
  keys?: { key: Record<string, string>; firstSeenMs: number; lastSeenMs: number; firstSeen: string }[];
  next?: string | null;
  message?: string;
  errors?: string[];
}

/** Keys: three sites, with devices d0..d4 at s1, d0..d2 at s2, d0 at s3; s1|d4 has data only before the range. */
const KEYS = [
  ...['d0', 'd1', 'd2', 'd3', 'd4'].map((device) => ['s1', device]),
  ...['d0', 'd1', 'd2'].map((device) => ['s2', device]),
  ['s3', 'd0'],
];

/** Deterministic integer values (so that sums are exact whatever the order of merging). */
function valuesOf(keyIndex: number, minute: number, epoch: number): number[] {
  const length = 1 + ((((keyIndex * 7 + minute * 3 + epoch) % 3) + 3) % 3);
  return Array.from({ length }, (_, i) => ((keyIndex * 31 + minute * 17 + epoch * 13 + i * 5) % 50) - 10);
}

function measuresOf(values: readonly number[]): Measures {
  const [sum, min, max] = ['sum', 'min', 'max'].map(
    (kind) => view.stored.find((stored) => stored.kind === kind)?.attribute ?? kind,
  );
  return measuresWith({
    count: values.length,
    sum: { [sum]: values.reduce((a, b) => a + b, 0) },
    min: { [min]: Math.min(...values) },
    max: { [max]: Math.max(...values) },
  });
}

async function putRealtime(dimensionKey: string, bucket: number, epoch: number, measures: Measures): Promise<void> {
  const key = realtimeItemKey({ view: view.name, dimensionKey, bucket, epoch }, 1);
  await client.send(
    new PutItemCommand({
      TableName: tables.realtimeTable,
      Item: { pk: { S: key.pk }, sk: { S: key.sk }, ...measureAttributes(measures, view.stored) },
    }),
  );
}

beforeAll(async () => {
  dynamo = await startDynamoDb();
  client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  for (const table of Object.values(tables)) await createTable(client, table);
  directory = new KeyDirectoryStore({ client, tableName: tables.directory });
  for (const [index, values] of KEYS.entries()) {
    const dimensionKey = encodeDimensionKey(values);
    await directory.recordNewKeys(view.name, [{ dimensionKey, firstMs: NOW - index, lastMs: NOW }]);
    const minutes = values[1] === 'd4' && values[0] === 's1' ? [-90] : [-50, -20, -5];
    for (const minute of minutes) {
      for (const epoch of [0, 1]) {
        await putRealtime(dimensionKey, NOW + minute * MINUTE, NOW - epoch, measuresOf(valuesOf(index, minute, epoch)));
      }
    }
  }
});
afterAll(async () => {
  client.destroy();
  await dynamo.stop();
});

/** A listing wrapper that counts the directory entries read, to show that reading stops past a bound. */
class CountingDirectory implements KeyDirectoryPages {
  entriesRead = 0;
  constructor(private readonly store: KeyDirectoryStore) {}
  async listPage(...args: Parameters<KeyDirectoryPages['listPage']>) {
    const page = await this.store.listPage(...args);
    this.entriesRead += page.entries.length;
    return page;
  }
}

function handlerWith(limits: QueryLimits = DEFAULT_QUERY_LIMITS, pages: KeyDirectoryPages = directory) {
  return createQueryHandler({
    config,
    reader: new ViewReader({ client, ...tables }),
    directory: pages,
    logger: new RecordingLogger(),
    metrics: new RecordingMetrics(),
    openApiDocument: () => ({}),
    limits,
    now: () => NOW,
  });
}

async function get(
  path: string,
  parameters: Record<string, string>,
  handler = handlerWith(),
): Promise<{ status: number; body: Answer }> {
  const keys = path.endsWith('/keys');
  const event = {
    httpMethod: 'GET',
    resource: path === '/views' ? '/views' : keys ? '/views/{view}/keys' : '/views/{view}',
    path,
    pathParameters: { view: path.split('/')[2] },
    multiValueQueryStringParameters: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, [v]])),
  } as unknown as APIGatewayProxyEvent;
  const response = await handler(event);
  return { status: response.statusCode, body: JSON.parse(response.body) as Answer };
}

const range = { from: String(FROM), to: String(NOW) };

/** Merges presented buckets as the monoid does: count and sum add, min and max, avg derived. */
function mergePresented(a: Record<string, number> | null, b: Record<string, number> | null) {
  if (a === null) return b;
  if (b === null) return a;
  const count = a.count + b.count;
  const sum = a.sum + b.sum;
  return { count, sum, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), avg: sum / count };
}

function mergeSeries(seriesList: readonly Series[]): Map<number, Record<string, unknown>> {
  const merged = new Map<
    number,
    {
      all: Record<string, number> | null;
      batch: Record<string, number> | null;
      realtime: Record<string, number> | null;
    }
  >();
  for (const series of seriesList) {
    for (const { startMs, batch, realtime, ...all } of series.buckets) {
      const known = merged.get(startMs) ?? { all: null, batch: null, realtime: null };
      const measures = { count: all.count, sum: all.sum, min: all.min, max: all.max, avg: all.avg };
      merged.set(startMs, {
        all: mergePresented(known.all, measures),
        batch: mergePresented(known.batch, batch),
        realtime: mergePresented(known.realtime, realtime),
      });
    }
  }
  return new Map([...merged].map(([startMs, { all, batch, realtime }]) => [startMs, { ...all, batch, realtime }]));
}

function bucketsByStart(series: Series): Map<number, Record<string, unknown>> {
  return new Map(
    series.buckets.map(({ startMs, start: _start, ...rest }: Bucket & { start?: string }) => [startMs, rest]),
  );
}

describe('group-by through the key directory and the view reader (dynalite)', () => {
  it('answers one series per value of the given dimension, equal to merging the answers of its keys', async () => {
    const grouped = await get('/views/site_device_minute', { site: 's1,s2,s9', ...range });
    expect(grouped.status).toBe(200);
    expect(grouped.body.groupBy).toEqual(['site']);
    expect(grouped.body.series.map((series) => [series.key, series.keys])).toEqual([
      [{ site: 's1' }, 5],
      [{ site: 's2' }, 3],
      [{ site: 's9' }, 0],
    ]);
    for (const series of grouped.body.series) {
      const devices = KEYS.filter(([site]) => site === series.key.site).map(([, device]) => device);
      const perKey =
        devices.length === 0
          ? { body: { series: [] as Series[] } }
          : await get('/views/site_device_minute', { site: series.key.site, deviceId: devices.join(','), ...range });
      expect(bucketsByStart(series)).toEqual(mergeSeries(perKey.body.series));
    }
    expect(grouped.body.series[0].buckets.map((bucket) => bucket.startMs)).toEqual([
      NOW - 50 * MINUTE,
      NOW - 20 * MINUTE,
      NOW - 5 * MINUTE,
    ]);
    expect(grouped.body.series[2].buckets).toEqual([]);
  });

  it('merges every key of the view into one series when no dimension is given, rolled up as asked', async () => {
    const all = await get('/views/site_device_minute', { ...range, granularity: 'hour' });
    expect(all.status).toBe(200);
    expect(all.body.series).toHaveLength(1);
    expect(all.body.series[0]).toMatchObject({ key: {}, keys: KEYS.length });
    const everyKey = await get('/views/site_device_minute', {
      site: 's1,s2,s3',
      deviceId: 'd0,d1,d2,d3,d4',
      ...range,
      granularity: 'hour',
    });
    expect(bucketsByStart(all.body.series[0])).toEqual(mergeSeries(everyKey.body.series));
  });

  it('groups by the second dimension alone', async () => {
    const grouped = await get('/views/site_device_minute', { deviceId: 'd0', ...range });
    expect(grouped.body.series.map((series) => [series.key, series.keys])).toEqual([[{ deviceId: 'd0' }, 3]]);
    const perKey = await get('/views/site_device_minute', { site: 's1,s2,s3', deviceId: 'd0', ...range });
    expect(bucketsByStart(grouped.body.series[0])).toEqual(mergeSeries(perKey.body.series));
  });
});

describe('top-N through the key directory and the view reader (dynalite)', () => {
  /** Each key's measures over the range, from its own full-key answer. */
  async function totals(): Promise<Map<string, Record<string, number>>> {
    const result = new Map<string, Record<string, number>>();
    for (const [site, device] of KEYS) {
      const { body } = await get('/views/site_device_minute', { site, deviceId: device, ...range });
      const merged = [...mergeSeries(body.series).values()].reduce<Record<string, number> | null>(
        (total, bucket) => mergePresented(total, bucket as Record<string, number>),
        null,
      );
      if (merged !== null) result.set(`${site}|${device}`, merged);
    }
    return result;
  }

  it('ranks keys by the measure over the range, descending by default, ties by key, leaving out keys without data', async () => {
    const expected = await totals();
    for (const measure of ['count', 'sum', 'max', 'min', 'avg']) {
      const { status, body } = await get('/views/site_device_minute', { orderBy: measure, limit: '100', ...range });
      expect(status).toBe(200);
      const ranking = [...expected]
        .map(([key, values]) => ({ key, value: values[measure] }))
        .sort((a, b) => b.value - a.value || (a.key < b.key ? -1 : 1));
      expect(
        body.series.map((series) => [`${series.key.site}|${series.key.deviceId}`, series.rank, series.value]),
      ).toEqual(ranking.map((entry, index) => [entry.key, index + 1, entry.value]));
      // s1|d4 has data only before the range.
      expect(body.series.some((series) => series.key.deviceId === 'd4')).toBe(false);
      expect(body).toMatchObject({ orderBy: measure, order: 'desc' });
    }
  });

  it('ranks ascending among the keys matching the given values, and answers at most limit keys with their series', async () => {
    const expected = await totals();
    const { body } = await get('/views/site_device_minute', {
      site: 's1',
      orderBy: 'count',
      order: 'asc',
      limit: '2',
      ...range,
    });
    const ranking = [...expected]
      .filter(([key]) => key.startsWith('s1|'))
      .map(([key, values]) => ({ key, value: values.count }))
      .sort((a, b) => a.value - b.value || (a.key < b.key ? -1 : 1))
      .slice(0, 2);
    expect(
      body.series.map((series) => [`${series.key.site}|${series.key.deviceId}`, series.rank, series.value]),
    ).toEqual(ranking.map((entry, index) => [entry.key, index + 1, entry.value]));
    const [first] = body.series;
    const own = await get('/views/site_device_minute', { site: 's1', deviceId: first.key.deviceId, ...range });
    expect(first.buckets).toEqual(own.body.series[0].buckets);
  });

  it('breaks ties by dimension key ascending in both orders', async () => {
    // Every key at s1 but d4 has 3 buckets of 2 epochs: ranking by a measure all share shows the key order alone.
    const { body: desc } = await get('/views/site_device_minute', { site: 's1,s2', orderBy: 'count', ...range });
    const counts = desc.series.map((series) => series.value);
    expect(counts).toEqual([...counts].sort((a, b) => (b ?? 0) - (a ?? 0)));
    for (let i = 1; i < desc.series.length; i += 1) {
      const [before, after] = [desc.series[i - 1], desc.series[i]];
      if (before.value === after.value) {
        expect(`${before.key.site}|${before.key.deviceId}` < `${after.key.site}|${after.key.deviceId}`).toBe(true);
      }
    }
    const { body: asc } = await get('/views/site_device_minute', {
      site: 's1,s2',
      orderBy: 'count',
      order: 'asc',
      ...range,
    });
    for (let i = 1; i < asc.series.length; i += 1) {
      const [before, after] = [asc.series[i - 1], asc.series[i]];
      expect((before.value ?? 0) <= (after.value ?? 0)).toBe(true);
      if (before.value === after.value) {
        expect(`${before.key.site}|${before.key.deviceId}` < `${after.key.site}|${after.key.deviceId}`).toBe(true);
      }
    }
  });

  it('ranks exactly the keys given when every dimension is given', async () => {
    const { body } = await get('/views/site_device_minute', {
      site: 's2',
      deviceId: 'd0,d2,d7',
      orderBy: 'max',
      ...range,
    });
    expect(body.series.map((series) => series.key.deviceId).sort()).toEqual(['d0', 'd2']);
  });
});

describe('a view of exact measures', () => {
  it('states no accuracy, lists each measure with its kind and field, and refuses quantiles naming the view', async () => {
    const { status, body } = await get('/views/site_device_minute', { site: 's2', deviceId: 'd0', ...range });
    expect(status).toBe(200);
    expect(body).not.toHaveProperty('accuracy');
    const listing = (await get('/views', {})).body as unknown as { views: { measureDetails: unknown }[] };
    expect(listing.views[0].measureDetails).toEqual({
      count: { kind: 'count', field: null },
      sum: { kind: 'sum', field: 'value' },
      min: { kind: 'min', field: 'value' },
      max: { kind: 'max', field: 'value' },
      avg: { kind: 'avg', field: 'value' },
    });
    const refused = await get('/views/site_device_minute', { quantiles: '0.5', ...range });
    expect(refused).toMatchObject({
      status: 400,
      body: {
        errors: [
          'quantiles: view site_device_minute has no histogram measure (its measures: count, sum, min, max, avg); ' +
            'quantiles apply to histogram measures only',
        ],
      },
    });
  });
});

describe('bounds of a group-by and a top-N', () => {
  const small: QueryLimits = { ...DEFAULT_QUERY_LIMITS, maxMergedKeys: 3 };

  it('refuses with a 400 that says how many keys may be merged, and stops reading the directory past the bound', async () => {
    const counting = new CountingDirectory(directory);
    const { status, body } = await get(
      '/views/site_device_minute',
      { site: 's1', ...range },
      handlerWith(small, counting),
    );
    expect(status).toBe(400);
    expect(body.message).toMatch(
      /^dimensions: more than 3 keys of view site_device_minute with site="s1"; a group-by merges at most 3 keys over 60 minute buckets .*Give more dimensions/,
    );
    expect(counting.entriesRead).toBe(4);
    const top = await get('/views/site_device_minute', { orderBy: 'sum', ...range }, handlerWith(small));
    expect(top.status).toBe(400);
    expect(top.body.message).toMatch(/^dimensions: more than 3 keys of view site_device_minute; a top-N ranks/);
  });

  it('answers a group-by that merges exactly as many keys as the bound allows', async () => {
    const { status, body } = await get('/views/site_device_minute', { site: 's2', ...range }, handlerWith(small));
    expect(status).toBe(200);
    expect(body.series[0].keys).toBe(3);
  });

  it('counts every merged key against keys × buckets', async () => {
    // 3 keys × 60 buckets = 180 > 150: at most 2 keys over this range.
    const tight: QueryLimits = { ...DEFAULT_QUERY_LIMITS, maxBuckets: 150 };
    const { status, body } = await get('/views/site_device_minute', { site: 's2', ...range }, handlerWith(tight));
    expect(status).toBe(400);
    expect(body.message).toMatch(/more than 2 keys .* keys × buckets at most 150/);
  });
});

describe('GET /views/{view}/keys', () => {
  it('lists every key in pages of limit, each page continuing where the next token says', async () => {
    const listed: string[] = [];
    let next: string | null | undefined;
    let pages = 0;
    do {
      const { status, body } = await get('/views/site_device_minute/keys', {
        limit: '4',
        ...(next ? { next } : {}),
      });
      expect(status).toBe(200);
      expect(body.keys?.length).toBeLessThanOrEqual(4);
      listed.push(...(body.keys ?? []).map(({ key }) => `${key.site}|${key.deviceId}`));
      next = body.next;
      pages += 1;
    } while (next !== null && pages < 10);
    expect(listed).toEqual(KEYS.map((values) => values.join('|')).sort());
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('filters by the dimension values given, and shows when each key was first and last seen', async () => {
    const { body } = await get('/views/site_device_minute/keys', { deviceId: 'd1,d2' });
    expect(body.keys).toEqual(
      ['s1|d1', 's1|d2', 's2|d1', 's2|d2'].map((key) => {
        const index = KEYS.findIndex((values) => values.join('|') === key);
        const [site, deviceId] = key.split('|');
        return {
          key: { site, deviceId },
          firstSeen: new Date(NOW - index).toISOString(),
          firstSeenMs: NOW - index,
          lastSeen: new Date(NOW).toISOString(),
          lastSeenMs: NOW,
        };
      }),
    );
    expect(body.next).toBeNull();
  });

  it('refuses an invalid next token, an unknown parameter and a limit above 1000, naming the parameter', async () => {
    const bad = await get('/views/site_device_minute/keys', { next: 'garbage' });
    expect(bad).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^next: not a token this API gave/) },
    });
    const unknown = await get('/views/site_device_minute/keys', { orderBy: 'count', limit: '1001' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([
      'orderBy: unknown dimension of view site_device_minute (its dimensions are site, deviceId; other parameters are limit, next)',
      'limit: expected a whole number from 1 to 1000, got "1001"',
    ]);
    const missing = await get('/views/nope/keys', {});
    expect(missing.status).toBe(404);
  });

  it('takes a token of another filter without failing: it continues within the filter', async () => {
    const { status, body } = await get('/views/site_device_minute/keys', {
      site: 's2',
      next: encodeDirectoryToken('s1|d0'),
    });
    expect(status).toBe(200);
    expect(body.keys?.map(({ key }) => key.deviceId)).toEqual(['d0', 'd1', 'd2']);
  });
});
