import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { AnomalyPageTokenError, AnomalyStore } from '../../functions/adapters/anomaly-store';
import type { BaselineView } from '../../functions/adapters/baseline-reader';
import { anomalyId, anomalyItemKey, type Anomaly } from '../../functions/core/anomaly';
import { encodeDimensionKey } from '../../functions/core/dimension-key';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { TTL_ATTRIBUTE } from '../../functions/core/table-layout';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { DynamoDbFaults, THROTTLED } from '../speed/dynamodb-faults';
import { createTable } from '../speed/realtime-table';

let dynamo: RunningEmulator;
let client: DynamoDBClient;
let faults: DynamoDbFaults;
const tableName = 'anomalies';
const noWait = { sleep: async () => undefined };
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const T0 = Date.UTC(2026, 2, 2, 12);

const config = definePipelineConfig({
  views: [
    {
      name: 'site_metric_hour',
      dimensions: ['site', 'metric'],
      granularity: 'hour',
      retentionDays: 30,
      baseline: { measure: 'value', trainingWindowDays: 7 },
    },
    {
      name: 'site_day_forever',
      dimensions: ['site'],
      granularity: 'day',
      retentionDays: null,
      baseline: { measure: 'value', seasonality: 'none' },
    },
  ],
});
const [hourView, foreverView] = config.views as BaselineView[];

beforeAll(async () => {
  dynamo = await startDynamoDb();
  client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  faults = new DynamoDbFaults().attachTo(client);
  await createTable(client, tableName);
});
afterAll(async () => {
  client.destroy();
  await dynamo.stop();
});
afterEach(() => faults.heal());

const store = () => new AnomalyStore({ client, tableName, retry: noWait });

/** An anomaly of the view, as anomalyOf would build it; only its identity and time matter to the store. */
function anomaly(view: BaselineView, values: readonly string[], eventId: string, eventTimeMs: number): Anomaly {
  const dimensionKey = encodeDimensionKey(values);
  return {
    id: anomalyId(view.name, dimensionKey, eventId),
    view: view.name,
    dimensionKey,
    eventId,
    eventTimeMs,
    arrivalMs: eventTimeMs + 1_000,
    field: 'value',
    value: 90,
    score: 8,
    direction: 'high',
    threshold: 4,
    slot: 12,
    slotLabel: '12:00 UTC',
    expected: 50,
    stddev: 5,
    lower: 30,
    upper: 70,
    baselineEvents: 40,
    windowFrom: eventTimeMs - 7 * DAY_MS,
    windowTo: eventTimeMs,
    shardId: 'shardId-000000000000',
    sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
  };
}

async function itemOf(found: Anomaly) {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: keyOf(found), ConsistentRead: true }),
  );
  return Item;
}

function keyOf(found: Anomaly) {
  const { pk, sk } = anomalyItemKey(found);
  return { pk: { S: pk }, sk: { S: sk } };
}

describe('AnomalyStore', () => {
  it('records an anomaly once: a repeat stores nothing new and returns it until it is marked notified', async () => {
    const first = anomaly(hourView, ['site-r', 'temperature'], 'r-1', T0);
    const second = anomaly(hourView, ['site-r', 'humidity'], 'r-2', T0 + 60_000);
    expect(await store().record(hourView, [first, second])).toEqual([first, second]);
    expect((await itemOf(first))?.notified).toEqual({ BOOL: false });

    // A redelivery before the publication finished: both still to publish, and stored as they were.
    const changed = { ...first, score: 99 };
    expect(await store().record(hourView, [changed, second])).toEqual([changed, second]);
    expect(JSON.parse((await itemOf(first))?.anomaly?.S ?? '{}')).toMatchObject({ score: 8 });

    await store().markNotified([first]);
    expect((await itemOf(first))?.notified).toEqual({ BOOL: true });
    expect((await itemOf(second))?.notified).toEqual({ BOOL: false });
    // After the publication: only the one whose publication did not finish is returned.
    expect(await store().record(hourView, [first, second])).toEqual([second]);
  });

  it("gives an item the view's retention after its event time, and none to a view that keeps its buckets for ever", async () => {
    const kept = anomaly(hourView, ['site-t', 'temperature'], 't-1', T0);
    const forever = anomaly(foreverView, ['site-t'], 't-2', T0);
    await store().record(hourView, [kept]);
    await store().record(foreverView, [forever]);
    expect((await itemOf(kept))?.[TTL_ATTRIBUTE]).toEqual({ N: String((T0 + 30 * DAY_MS) / 1000) });
    expect((await itemOf(forever))?.[TTL_ATTRIBUTE]).toBeUndefined();
  });

  it('does not recreate an item that is gone when it is marked notified', async () => {
    const gone = anomaly(hourView, ['site-g', 'temperature'], 'g-1', T0);
    await store().markNotified([gone]);
    expect(await itemOf(gone)).toBeUndefined();
  });

  it('retries throttled requests', async () => {
    const throttled = anomaly(hourView, ['site-h', 'temperature'], 'h-1', T0);
    faults.resetCounts();
    faults.failWhen(({ command, index }) => (command === 'PutItemCommand' && index <= 2 ? THROTTLED : undefined));
    expect(await store().record(hourView, [throttled])).toEqual([throttled]);
    expect(faults.count('PutItemCommand')).toBe(3);
    faults.failWhen(({ command, index }) => (command === 'UpdateItemCommand' && index <= 1 ? THROTTLED : undefined));
    await store().markNotified([throttled]);
    expect((await itemOf(throttled))?.notified).toEqual({ BOOL: true });
  });

  describe('pages', () => {
    const view = hourView;
    // 12 anomalies an hour apart, alternating two sites, all of one metric, in a view of their own time range.
    const base = T0 + 100 * DAY_MS;
    const listed = Array.from({ length: 12 }, (_, index) =>
      anomaly(view, [index % 2 === 0 ? 'site-a' : 'site-b', 'pressure'], `p-${index}`, base + index * HOUR_MS),
    );
    beforeAll(async () => {
      await store().record(view, listed);
    });

    async function allPages(query: Parameters<AnomalyStore['page']>[1]) {
      const pages: Anomaly[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store().page(view, { ...query, after });
        pages.push([...page.anomalies]);
        if (page.next === null) return pages;
        after = page.next;
      }
    }

    it('lists newest first, page by page, with a next token until the range is exhausted', async () => {
      const pages = await allPages({ fromMs: base, toMs: base + 12 * HOUR_MS, dimensions: {}, limit: 5 });
      expect(pages.map((page) => page.length)).toEqual([5, 5, 2]);
      expect(pages.flat().map(({ eventId }) => eventId)).toEqual([...listed].reverse().map(({ eventId }) => eventId));
    });

    it('keeps only the anomalies of the given dimension values', async () => {
      const pages = await allPages({
        fromMs: base,
        toMs: base + 12 * HOUR_MS,
        dimensions: { site: 'site-b', metric: 'pressure' },
        limit: 4,
      });
      expect(pages.flat().map(({ eventId }) => eventId)).toEqual(['p-11', 'p-9', 'p-7', 'p-5', 'p-3', 'p-1']);
      expect(pages[0]).toHaveLength(4);
      const none = await store().page(view, {
        fromMs: base,
        toMs: base + 12 * HOUR_MS,
        dimensions: { site: 'site-z' },
        limit: 10,
      });
      expect(none).toEqual({ anomalies: [], next: null });
    });

    it('bounds the event time to [from, to): from included, to excluded', async () => {
      const page = await store().page(view, {
        fromMs: base + 3 * HOUR_MS,
        toMs: base + 6 * HOUR_MS,
        dimensions: {},
        limit: 100,
      });
      expect(page.anomalies.map(({ eventId }) => eventId)).toEqual(['p-5', 'p-4', 'p-3']);
      expect(page.next).toBeNull();
      const justBefore = await store().page(view, {
        fromMs: base + 3 * HOUR_MS + 1,
        toMs: base + 6 * HOUR_MS + 1,
        dimensions: {},
        limit: 100,
      });
      expect(justBefore.anomalies.map(({ eventId }) => eventId)).toEqual(['p-6', 'p-5', 'p-4']);
    });

    it('reads anomalies back as they were recorded', async () => {
      const page = await store().page(view, { fromMs: base, toMs: base + 1, dimensions: {}, limit: 1 });
      expect(page.anomalies).toEqual([listed[0]]);
    });

    it('refuses a token it did not hand out, and an unknown dimension', async () => {
      const query = { fromMs: base, toMs: base + 12 * HOUR_MS, dimensions: {}, limit: 5 };
      await expect(store().page(view, { ...query, after: 'bm90IGEgdG9rZW4' })).rejects.toBeInstanceOf(
        AnomalyPageTokenError,
      );
      await expect(store().page(view, { ...query, dimensions: { deviceId: 'd' } })).rejects.toThrow(
        /deviceId is not a dimension of view site_metric_hour/,
      );
    });

    it('answers a token of a later range from the newest of this one, and one of an earlier range with nothing', async () => {
      const first = await store().page(view, { fromMs: base, toMs: base + 12 * HOUR_MS, dimensions: {}, limit: 2 });
      const token = first.next as string;
      // The token points at p-10: a range ending before it starts at its newest, one starting after it is done.
      const earlier = await store().page(view, {
        fromMs: base,
        toMs: base + 3 * HOUR_MS,
        dimensions: {},
        limit: 10,
        after: token,
      });
      expect(earlier.anomalies.map(({ eventId }) => eventId)).toEqual(['p-2', 'p-1', 'p-0']);
      const later = await store().page(view, {
        fromMs: base + 11 * HOUR_MS,
        toMs: base + 12 * HOUR_MS,
        dimensions: {},
        limit: 10,
        after: token,
      });
      expect(later).toEqual({ anomalies: [], next: null });
    });
  });
});
