import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KinesisStreamEvent } from 'aws-lambda';
import {
  ANOMALY_EVENT,
  EventBridgeAnomalyNotifier,
  type AnomalyNotifier,
} from '../../functions/adapters/anomaly-notifier';
import { AnomalyStore } from '../../functions/adapters/anomaly-store';
import { BaselineReader, type BaselineView } from '../../functions/adapters/baseline-reader';
import { ViewReader } from '../../functions/adapters/view-reader';
import { presentAnomaly } from '../../functions/core/anomaly';
import { decodeBins } from '../../functions/core/histogram';
import type { IotEvent } from '../../functions/core/event-schema';
import type { GenerationSource } from '../../functions/core/generation-manifest';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import {
  createSpeedHandler,
  SPEED_METRICS,
  type SpeedHandler,
  type SpeedHandlerDependencies,
} from '../../functions/speed/speed-handler';
import {
  emulatorClientConfig,
  startDynamoDb,
  startEventBus,
  type EventBusEmulator,
  type RunningEmulator,
} from '../../local/emulators';
import { toLambdaRecord } from '../../local/kinesis-lambda-event';
import { ensureTable } from '../../local/provision';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';
import { ACCESS_DENIED, DynamoDbFaults } from './dynamodb-faults';
import { reportedFailure } from './kinesis-batches';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** 14:20 UTC: its slot (hourOfDay) is 14:00, and its training window the day before its bucket. */
const NOW = Date.UTC(2026, 10, 20, 14, 20);
const YESTERDAY_SAME_HOUR = NOW - DAY_MS;
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/anomalies';
const SHARD = 'shardId-000000000000';

const config = definePipelineConfig({
  views: [
    {
      name: 'site_temperature_hour',
      dimensions: ['site'],
      granularity: 'hour',
      filter: [{ field: 'metric', op: 'eq', value: 'temperature' }],
      baseline: { measure: 'value', seasonality: 'hourOfDay', trainingWindowDays: 1, minEvents: 8, threshold: 4 },
    },
    // A view without a baseline: written, never scored.
    { name: 'device_minute', dimensions: ['deviceId'], granularity: 'minute' },
  ],
});
const view = config.views[0] as BaselineView;

let dynamo: RunningEmulator;
let bus: EventBusEmulator;
let dynamodb: DynamoDBClient;
let eventBridge: EventBridgeClient;
let tables = 0;
let sequence = 0;

beforeAll(async () => {
  [dynamo, bus] = await Promise.all([startDynamoDb(), startEventBus()]);
  dynamodb = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  eventBridge = new EventBridgeClient({ ...emulatorClientConfig(bus.endpoint), maxAttempts: 1 });
});
afterAll(async () => {
  dynamodb.destroy();
  eventBridge.destroy();
  await Promise.all([dynamo.stop(), bus.stop()]);
});

const noWait = { sleep: async () => undefined };

function reading(eventId: string, site: string, value: number, ts: number, metric = 'temperature'): IotEvent {
  return { eventId, deviceId: `device-${site}`, site, metric, value, ts };
}

/** A Kinesis batch of these events on one shard, in order, arriving at NOW, as the event source mapping builds it. */
function batchOf(events: readonly IotEvent[]): KinesisStreamEvent {
  return {
    Records: events.map((event) => {
      sequence += 1;
      return toLambdaRecord(
        {
          Data: Buffer.from(JSON.stringify(event)),
          PartitionKey: event.deviceId,
          SequenceNumber: `4960${String(sequence).padStart(20, '0')}`,
          ApproximateArrivalTimestamp: new Date(NOW + sequence),
        },
        { streamArn: STREAM_ARN, shardId: SHARD },
      );
    }),
  };
}

/** The sequence number of the batch's record of this event. */
function sequenceNumberOf(batch: KinesisStreamEvent, eventId: string): string {
  const found = batch.Records.find(
    (record) =>
      (JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString('utf8')) as IotEvent).eventId === eventId,
  );
  if (found === undefined) throw new Error(`no record of ${eventId}`);
  return found.kinesis.sequenceNumber;
}

/** Yesterday's readings at 14:xx for the site: the baseline of today's 14:00 slot, mean 50, a spread of about 1.6. */
function history(site: string): IotEvent[] {
  return [48, 49, 50, 51, 52, 50, 48, 52, 49, 51].map((value, index) =>
    reading(`${site}-history-${index}`, site, value, YESTERDAY_SAME_HOUR + index * 60_000),
  );
}

interface Pipeline {
  readonly handle: SpeedHandler;
  readonly logger: RecordingLogger;
  readonly metrics: RecordingMetrics;
  readonly store: AnomalyStore;
  readonly baselines: BaselineReader;
  readonly realtimeTable: string;
}

/** Fresh tables and a speed handler that scores into them; `anomalyTable` overrides the table the store writes. */
async function pipeline(
  options: {
    anomalyTable?: string;
    /** The client of the speed handler's writes. @default the shared one */
    writes?: DynamoDBClient;
    /** The manifest table the baselines read (the served batch version). */
    baselineManifestTable?: string;
    generations?: GenerationSource;
    notifier?: AnomalyNotifier;
    handler?: Partial<SpeedHandlerDependencies>;
  } = {},
): Promise<Pipeline> {
  tables += 1;
  const realtimeTable = `scoring-${tables}-realtime`;
  const manifestTable = `scoring-${tables}-manifest`;
  const anomalyTable = `scoring-${tables}-anomalies`;
  await Promise.all([realtimeTable, manifestTable, anomalyTable].map((name) => ensureTable(dynamodb, name)));
  const baselines = new BaselineReader({
    reader: new ViewReader({
      client: dynamodb,
      realtimeTable,
      batchTable: `scoring-${tables}-batch`,
      manifestTable: options.baselineManifestTable ?? manifestTable,
    }),
    architecture: config.architecture,
    generations: options.generations,
  });
  const store = new AnomalyStore({ client: dynamodb, tableName: options.anomalyTable ?? anomalyTable, retry: noWait });
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const handle = createSpeedHandler({
    config,
    dynamodb: options.writes ?? dynamodb,
    realtimeTable,
    logger,
    metrics,
    generations: options.generations,
    retry: noWait,
    anomalies: {
      baselines,
      store,
      notifier:
        options.notifier ??
        new EventBridgeAnomalyNotifier({ client: eventBridge, eventBusName: 'default', retry: noWait }),
    },
    ...options.handler,
  });
  return { handle, logger, metrics, store, baselines, realtimeTable };
}

/** The counts the last 'batch folded' line logged. */
function lastFold(logger: RecordingLogger): Record<string, unknown> {
  const line = logger.lines.filter(({ message }) => message === 'batch folded').at(-1);
  if (line === undefined) throw new Error('no batch folded line');
  return line.attributes;
}

const busEventsOf = (ids: readonly string[]) =>
  bus.events().filter((event) => ids.includes((event.detail as { id: string }).id));

async function anomaliesOf(store: AnomalyStore) {
  const page = await store.page(view, { fromMs: NOW - 2 * DAY_MS, toMs: NOW + DAY_MS, dimensions: {}, limit: 100 });
  return page.anomalies;
}

/** The events the served buckets of a site hold from its first bucket to NOW's: what the realtime writes applied. */
async function servedCount(baselines: BaselineReader, site: string): Promise<number> {
  const buckets = await baselines.servedBuckets(view, site, YESTERDAY_SAME_HOUR - HOUR_MS, NOW);
  return buckets.reduce((total, { measures }) => total + measures.count, 0);
}

describe('anomaly scoring in the speed layer', () => {
  it('records and publishes a spike against the served baseline of its key and slot, and nothing for a normal reading or a cold key', async () => {
    const { handle, logger, metrics, store } = await pipeline();
    expect(await handle(batchOf(history('site-a')))).toEqual({ batchItemFailures: [] });
    // Yesterday's readings have no history before them: cold, not scored.
    expect(lastFold(logger)).toMatchObject({ readingsScored: 0, readingsNotScored: 10, anomaliesRecorded: 0 });

    const batch = batchOf([
      reading('normal', 'site-a', 51.5, NOW),
      reading('spike', 'site-a', 90, NOW + 60_000),
      reading('cold', 'site-c', 500, NOW + 120_000),
      // Not a temperature: the view's filter leaves it out.
      reading('humid', 'site-a', 900, NOW + 180_000, 'humidity'),
    ]);
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect(lastFold(logger)).toMatchObject({
      readingsScored: 2,
      readingsNotScored: 1,
      anomaliesRecorded: 1,
      baselineReads: 2,
      scoringFailures: 0,
    });

    const [spike, ...others] = await anomaliesOf(store);
    expect(others).toEqual([]);
    expect(spike).toMatchObject({
      view: view.name,
      dimensionKey: 'site-a',
      eventId: 'spike',
      eventTimeMs: NOW + 60_000,
      value: 90,
      direction: 'high',
      threshold: 4,
      slotLabel: '14:00 UTC',
      expected: 50,
      baselineEvents: 10,
      windowFrom: NOW - (NOW % HOUR_MS) - DAY_MS,
      windowTo: NOW - (NOW % HOUR_MS),
      shardId: SHARD,
      sequenceNumber: sequenceNumberOf(batch, 'spike'),
    });
    expect(spike.score).toBeGreaterThan(4);

    const published = busEventsOf([spike.id]);
    expect(published).toEqual([
      {
        id: expect.any(String),
        eventBusName: 'default',
        source: ANOMALY_EVENT.source,
        detailType: ANOMALY_EVENT.detailType,
        detail: JSON.parse(JSON.stringify(presentAnomaly(view, spike))),
        time: expect.any(String),
      },
    ]);
    expect(metrics.total(SPEED_METRICS.readingsScored)).toBe(2);
    expect(metrics.total(SPEED_METRICS.readingsNotScored)).toBe(11);
    expect(metrics.total(SPEED_METRICS.anomaliesRecorded)).toBe(1);
    expect(metrics.total(SPEED_METRICS.baselineReads)).toBe(3);
    expect(metrics.total(SPEED_METRICS.scoringFailures)).toBe(0);
  });

  it('a redelivered batch scores again but records nothing new and publishes nothing again', async () => {
    const { handle, logger, store } = await pipeline();
    await handle(batchOf(history('site-r')));
    const batch = batchOf([reading('r-normal', 'site-r', 50.5, NOW), reading('r-spike', 'site-r', 10, NOW + 1_000)]);
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    const recorded = await anomaliesOf(store);
    expect(recorded.map(({ eventId, direction }) => [eventId, direction])).toEqual([['r-spike', 'low']]);
    const ids = recorded.map(({ id }) => id);
    expect(busEventsOf(ids)).toHaveLength(1);

    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect(lastFold(logger)).toMatchObject({
      readingsScored: 2,
      anomaliesRecorded: 0,
      anomaliesAlreadyNotified: 1,
      // The baseline comes from the consumer's cache: no read.
      baselineReads: 0,
    });
    expect(await anomaliesOf(store)).toEqual(recorded);
    expect(busEventsOf(ids)).toHaveLength(1);
  });

  it("reports a failure at the spike's position when its anomaly cannot be stored, while the realtime items are written", async () => {
    const { handle, logger, metrics, baselines } = await pipeline({ anomalyTable: 'no-such-table' });
    await handle(batchOf(history('site-f')));
    const before = await servedCount(baselines, 'site-f');
    const batch = batchOf([
      reading('f-normal', 'site-f', 50, NOW),
      reading('f-spike', 'site-f', 95, NOW + 1_000),
      reading('f-after', 'site-f', 49.5, NOW + 2_000),
    ]);
    const response = await handle(batch);
    expect(reportedFailure(response)).toBe(sequenceNumberOf(batch, 'f-spike'));
    expect(await servedCount(baselines, 'site-f')).toBe(before + 3);
    expect(lastFold(logger)).toMatchObject({ readingsScored: 3, scoringFailures: 1, itemWriteFailures: 0 });
    expect(metrics.total(SPEED_METRICS.scoringFailures)).toBe(1);
    const [failure] = logger.at('error');
    expect(failure.message).toMatch(/reading not scored to the end/);
    expect(failure.attributes).toMatchObject({ stage: 'record', eventId: 'f-spike', error: /ResourceNotFound/ });
  });

  it('scores only the readings below a failed realtime item: those from it on are scored on their redelivery', async () => {
    const writes = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
    const faults = new DynamoDbFaults().attachTo(writes);
    try {
      const { handle, logger, store } = await pipeline({ writes });
      await handle(batchOf(history('site-w')));
      // The realtime item of site-x's hour is refused: the batch fails at its record, the first of site-x.
      faults.failWhen(({ command, input }) =>
        command === 'UpdateItemCommand' && String((input.Key as { pk: { S: string } }).pk.S).endsWith('#site-x')
          ? ACCESS_DENIED
          : undefined,
      );
      const batch = batchOf([
        reading('w-spike-1', 'site-w', 90, NOW),
        reading('x-reading', 'site-x', 50, NOW + 1_000),
        reading('w-spike-2', 'site-w', 91, NOW + 2_000),
      ]);
      expect(reportedFailure(await handle(batch))).toBe(sequenceNumberOf(batch, 'x-reading'));
      expect(lastFold(logger)).toMatchObject({ readingsScored: 1, anomaliesRecorded: 1 });
      expect((await anomaliesOf(store)).map(({ eventId }) => eventId)).toEqual(['w-spike-1']);

      faults.heal();
      const redelivery = { Records: batch.Records.slice(1) };
      expect(await handle(redelivery)).toEqual({ batchItemFailures: [] });
      expect((await anomaliesOf(store)).map(({ eventId }) => eventId)).toEqual(['w-spike-2', 'w-spike-1']);
    } finally {
      writes.destroy();
    }
  });

  it('reports a failure at the first reading scored when baselines cannot be read, and caches no failed read', async () => {
    const { handle, logger, metrics } = await pipeline({ baselineManifestTable: 'no-such-manifest' });
    const batch = batchOf([
      reading('b-other', 'site-b', 50, NOW, 'humidity'),
      reading('b-first', 'site-b', 50, NOW + 1_000),
      reading('b-second', 'site-b', 51, NOW + 2_000),
    ]);
    expect(reportedFailure(await handle(batch))).toBe(sequenceNumberOf(batch, 'b-first'));
    expect(lastFold(logger)).toMatchObject({ readingsScored: 0, scoringFailures: 2, itemWriteFailures: 0 });
    expect(logger.at('error')[0]?.attributes).toMatchObject({ stage: 'baseline', eventId: 'b-first' });
    // The redelivery reads again (and fails again): a failed read is not served from the cache.
    expect(reportedFailure(await handle(batch))).toBe(sequenceNumberOf(batch, 'b-first'));
    expect(metrics.total(SPEED_METRICS.baselineReads)).toBe(2);
  });

  it('does not score, and does not fail the batch on, a reading whose baseline reads back but does not decode', async () => {
    // A stored sketch that does not decode fails every read alike: redelivering would stop the shard for ever.
    const corrupt = {
      windowReadings: () => Promise.resolve().then(() => decodeBins('not bins', [1, 2])),
    } as unknown as Pick<BaselineReader, 'windowReadings'>;
    const { handle, logger } = await pipeline({
      handler: {
        anomalies: {
          baselines: corrupt,
          store: new AnomalyStore({ client: dynamodb, tableName: 'never-written', retry: noWait }),
          notifier: new EventBridgeAnomalyNotifier({ client: eventBridge, eventBusName: 'default', retry: noWait }),
        },
      },
    });
    const batch = batchOf([reading('c-first', 'site-c', 50, NOW), reading('c-spike', 'site-c', 500, NOW + 1_000)]);
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect(lastFold(logger)).toMatchObject({ readingsScored: 0, readingsNotScored: 2, scoringFailures: 0 });
    expect(logger.at('error')[0]).toMatchObject({
      message: 'reading not scored: its baseline does not decode; not retried',
    });
  });

  it('reports a failure at the spike when its event cannot be published, and publishes it once on the redelivery', async () => {
    // An entry the bus refuses (no bus name) until the notifier is switched to the working one.
    const refused = new EventBridgeAnomalyNotifier({ client: eventBridge, eventBusName: '', retry: noWait });
    const working = new EventBridgeAnomalyNotifier({ client: eventBridge, eventBusName: 'default', retry: noWait });
    let notifier: AnomalyNotifier = refused;
    const { handle, logger, store } = await pipeline({
      notifier: { publish: (target, anomalies) => notifier.publish(target, anomalies) },
    });
    await handle(batchOf(history('site-p')));
    const batch = batchOf([reading('p-spike', 'site-p', 99, NOW), reading('p-normal', 'site-p', 50, NOW + 1_000)]);
    expect(reportedFailure(await handle(batch))).toBe(sequenceNumberOf(batch, 'p-spike'));
    expect(logger.at('error')[0]?.attributes).toMatchObject({ stage: 'publish', eventId: 'p-spike' });
    const [stored] = await anomaliesOf(store);
    expect(stored.eventId).toBe('p-spike');
    expect(busEventsOf([stored.id])).toEqual([]);

    notifier = working;
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect(lastFold(logger)).toMatchObject({ anomaliesRecorded: 1, anomaliesAlreadyNotified: 0 });
    expect(busEventsOf([stored.id])).toHaveLength(1);
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect(busEventsOf([stored.id])).toHaveLength(1);
  });

  it('scores each reading once per view, however many generations its items are written to', async () => {
    const building: GenerationSource = {
      stateOf: async (name) => ({
        view: name,
        served: 1,
        servedFromMs: null,
        building: { generation: 2, handoffMs: 0, startedAt: 0, backfilledItems: null },
        expiring: null,
      }),
    };
    const { handle, logger, store } = await pipeline({ generations: building });
    await handle(batchOf(history('site-g')));
    expect(await handle(batchOf([reading('g-spike', 'site-g', 80, NOW)]))).toEqual({ batchItemFailures: [] });
    expect(lastFold(logger)).toMatchObject({ readingsScored: 1, anomaliesRecorded: 1 });
    const recorded = await anomaliesOf(store);
    expect(recorded.map(({ eventId }) => eventId)).toEqual(['g-spike']);
    expect(busEventsOf(recorded.map(({ id }) => id))).toHaveLength(1);
  });

  it('scores nothing, and logs no scoring counts, without the anomalies dependency', async () => {
    const { handle, logger, metrics } = await pipeline({ handler: { anomalies: undefined } });
    await handle(batchOf(history('site-n')));
    expect(await handle(batchOf([reading('n-spike', 'site-n', 500, NOW)]))).toEqual({ batchItemFailures: [] });
    expect(lastFold(logger)).not.toHaveProperty('readingsScored');
    expect(metrics.total(SPEED_METRICS.readingsScored)).toBe(0);
  });
});
