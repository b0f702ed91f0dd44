import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AnomalyStore } from '../../functions/adapters/anomaly-store';
import { KeyDirectoryStore } from '../../functions/adapters/key-directory-store';
import { ViewReader } from '../../functions/adapters/view-reader';
import { anomalyId, presentAnomaly, type Anomaly } from '../../functions/core/anomaly';
import { MAX_ANOMALY_LIMIT } from '../../functions/core/anomaly-request';
import { encodeDimensionKey } from '../../functions/core/dimension-key';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
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
      baseline: { measure: 'value', seasonality: 'hourOfDay', threshold: 4 },
    },
    { name: 'plain_hour', dimensions: ['site'], granularity: 'hour' },
  ],
});
const [view, plainView] = config.views;
const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 25, 12, 30);
const tables = {
  realtimeTable: 'realtime',
  batchTable: 'batch',
  manifestTable: 'manifest',
  directory: 'directory',
  anomalies: 'anomalies',
};

let dynamo: RunningEmulator;
let client: DynamoDBClient;
let store: AnomalyStore;

/** An anomaly of the view at `eventTimeMs`, of the key (site, metric), as the speed layer records it. */
function anomalyAt(site: string, metric: string, eventTimeMs: number, value: number): Anomaly {
  const dimensionKey = encodeDimensionKey([site, metric]);
  const eventId = `e-${site}-${metric}-${eventTimeMs}`;
  return {
    id: anomalyId(view.name, dimensionKey, eventId),
    view: view.name,
    dimensionKey,
    eventId,
    eventTimeMs,
    arrivalMs: eventTimeMs + 1000,
    field: 'value',
    value,
    score: (value - 20) / 2,
    direction: value > 20 ? 'high' : 'low',
    threshold: 4,
    slot: new Date(eventTimeMs).getUTCHours(),
    slotLabel: `${String(new Date(eventTimeMs).getUTCHours()).padStart(2, '0')}:00 UTC`,
    expected: 20,
    stddev: 2,
    lower: 12,
    upper: 28,
    baselineEvents: 40,
    windowFrom: eventTimeMs - 28 * 86_400_000,
    windowTo: eventTimeMs,
    shardId: 'shardId-000000000000',
    sequenceNumber: String(eventTimeMs),
  };
}

/** Within the default day before NOW: two keys, one of them twice; and one older than a day. */
const RECENT = [
  anomalyAt('s1', 'temperature', NOW - 1 * HOUR, 40),
  anomalyAt('s2', 'temperature', NOW - 2 * HOUR, 2),
  anomalyAt('s1', 'humidity', NOW - 3 * HOUR, 90),
  anomalyAt('s1', 'temperature', NOW - 5 * HOUR, 35),
];
const OLD = anomalyAt('s1', 'temperature', NOW - 30 * HOUR, 50);

interface AnomalyAnswer {
  view: string;
  from: string;
  to: string;
  field: string;
  seasonality: string;
  threshold: number;
  anomalies: ReturnType<typeof presentAnomaly>[];
  next: string | null;
  message?: string;
  errors?: string[];
}

function handler() {
  return createQueryHandler({
    config,
    reader: new ViewReader({ client, ...tables }),
    directory: new KeyDirectoryStore({ client, tableName: tables.directory }),
    anomalies: store,
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
): Promise<{ status: number; body: AnomalyAnswer }> {
  return getViewRoute<AnomalyAnswer>(query, '/views/{view}/anomalies', viewName, parameters);
}

beforeAll(async () => {
  dynamo = await startDynamoDb();
  client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  for (const table of Object.values(tables)) await createTable(client, table);
  store = new AnomalyStore({ client, tableName: tables.anomalies });
  await store.record(view, [...RECENT, OLD]);
});
afterAll(async () => {
  client.destroy();
  await dynamo.stop();
});

describe('GET /views/{view}/anomalies (AnomalyStore on dynalite)', () => {
  it("answers the last day's anomalies of every key, newest first, presented as the events' detail is", async () => {
    const { status, body } = await get(view.name, {});
    expect(status).toBe(200);
    expect(body).toEqual({
      view: view.name,
      from: new Date(NOW - 86_400_000).toISOString(),
      to: new Date(NOW).toISOString(),
      field: 'value',
      seasonality: 'hourOfDay',
      threshold: 4,
      anomalies: RECENT.map((anomaly) => presentAnomaly(view, anomaly)),
      next: null,
    });
  });

  it('answers only the anomalies of the dimension values given', async () => {
    const site = await get(view.name, { site: 's1' });
    expect(site.body.anomalies.map((anomaly) => anomaly.id)).toEqual([RECENT[0].id, RECENT[2].id, RECENT[3].id]);
    const key = await get(view.name, { site: 's1', metric: 'temperature' });
    expect(key.body.anomalies.map((anomaly) => anomaly.key)).toEqual([
      { site: 's1', metric: 'temperature' },
      { site: 's1', metric: 'temperature' },
    ]);
    const none = await get(view.name, { site: 's9' });
    expect(none.body).toMatchObject({ anomalies: [], next: null });
  });

  it('answers the event-time range given, from inclusive and to exclusive, as ISO or epoch ms', async () => {
    const { body } = await get(view.name, {
      from: new Date(NOW - 31 * HOUR).toISOString(),
      to: String(NOW - 2 * HOUR),
    });
    expect(body.anomalies.map((anomaly) => anomaly.id)).toEqual([RECENT[2].id, RECENT[3].id, OLD.id]);
    expect(body.from).toBe(new Date(NOW - 31 * HOUR).toISOString());
  });

  it('pages with limit and next: the pages together are the whole answer, each once, and the last says null', async () => {
    const whole = await get(view.name, { from: String(NOW - 48 * HOUR) });
    const seen: string[] = [];
    let next: string | null | undefined;
    let pages = 0;
    do {
      const { status, body } = await get(view.name, {
        from: String(NOW - 48 * HOUR),
        limit: '2',
        ...(next === undefined || next === null ? {} : { next }),
      });
      expect(status).toBe(200);
      expect(body.anomalies.length).toBeLessThanOrEqual(2);
      seen.push(...body.anomalies.map((anomaly) => anomaly.id));
      next = body.next;
      pages += 1;
    } while (next !== null && pages < 10);
    expect(next).toBeNull();
    expect(seen).toEqual(whole.body.anomalies.map((anomaly) => anomaly.id));
    expect(seen).toHaveLength(RECENT.length + 1);
  });

  it('refuses what it cannot answer with a 400 naming the parameter', async () => {
    const problems: [Record<string, string | string[]>, RegExp][] = [
      [{ deviceId: 'd1' }, /^deviceId: unknown dimension of view site_metric_hour/],
      [{ site: 's1,s2' }, /^site: expected one value \(an anomaly is of one key\), got 2/],
      [{ limit: '0' }, new RegExp(`^limit: expected a whole number from 1 to ${MAX_ANOMALY_LIMIT}, got "0"`)],
      [{ limit: String(MAX_ANOMALY_LIMIT + 1) }, /^limit: /],
      [{ from: 'yesterday' }, /^from: expected epoch milliseconds or an ISO-8601 date-time/],
      [{ from: String(NOW), to: String(NOW - HOUR) }, /^from: must be before to/],
      [{ next: 'bm90IGEgdG9rZW4' }, /^next: not a token this API gave/],
      [{ site: ['s1', 's2'] }, /^site: give it once|^site: expected one value/],
    ];
    for (const [parameters, message] of problems) {
      const { status, body } = await get(view.name, parameters);
      expect({ parameters, status, message: body.message }).toEqual({
        parameters,
        status: 400,
        message: expect.stringMatching(message),
      });
    }
  });

  it('refuses a view without a baseline with a 400 naming the views that have one, and an unknown view with a 404', async () => {
    const plain = await get(plainView.name, {});
    expect(plain.status).toBe(400);
    expect(plain.body.message).toBe('view: view plain_hour declares no baseline (views with one: site_metric_hour)');
    const unknown = await get('nope', {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/^view: unknown view "nope"/);
  });
});
