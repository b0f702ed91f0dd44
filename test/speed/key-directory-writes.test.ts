import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisStreamEvent } from 'aws-lambda';
import { KeyDirectoryStore } from '../../functions/adapters/key-directory-store';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { createSpeedHandler, SPEED_METRICS } from '../../functions/speed/speed-handler';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { toLambdaEvent } from '../../local/kinesis-lambda-event';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';
import { ACCESS_DENIED, DynamoDbFaults } from './dynamodb-faults';
import { createTable, scanTable } from './realtime-table';

const config = definePipelineConfig({
  views: [
    { name: 'per_device', dimensions: ['deviceId'], granularity: 'minute' },
    { name: 'per_site_metric', dimensions: ['site', 'metric'], granularity: 'hour' },
  ],
});
const SHARD = 'shardId-000000000000';
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/key-directory';
const START = Date.UTC(2026, 11, 2, 12, 0, 0);
const FIRST_SEQUENCE = 49_680_507_356_827_391_140_529_022_913_163_858_325_634_908_041_368_305_666n;

let dynamo: RunningEmulator;
let client: DynamoDBClient;
let faults: DynamoDbFaults;
let tables = 0;

beforeAll(async () => {
  dynamo = await startDynamoDb();
  client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  faults = new DynamoDbFaults().attachTo(client);
});
afterAll(async () => {
  client.destroy();
  await dynamo.stop();
});
afterEach(() => {
  faults.heal();
  faults.resetCounts();
});

interface Sent {
  readonly deviceId: string;
  readonly site: string;
  readonly metric: string;
  readonly arrivalMs: number;
}

/** `count` events over `devices` devices (device i at site i % 3, metrics alternating), one a second. */
function batchOf(count: number, devices: number, firstIndex = 0): { event: KinesisStreamEvent; sent: Sent[] } {
  const sent: Sent[] = [];
  const records = Array.from({ length: count }, (_, offset) => {
    const index = firstIndex + offset;
    const device = (index * 7) % devices;
    const arrivalMs = START + index * 1000;
    const event = {
      eventId: `e-${index}`,
      deviceId: `device-${device}`,
      site: `site-${device % 3}`,
      metric: index % 2 === 0 ? 'temperature' : 'humidity',
      value: index,
      ts: arrivalMs - 500,
    };
    sent.push({ deviceId: event.deviceId, site: event.site, metric: event.metric, arrivalMs });
    return {
      Data: Buffer.from(JSON.stringify(event)),
      PartitionKey: event.deviceId,
      SequenceNumber: (FIRST_SEQUENCE + BigInt(index) * 1000n).toString(),
      ApproximateArrivalTimestamp: new Date(arrivalMs),
    };
  });
  return { event: toLambdaEvent(records, { streamArn: STREAM_ARN, shardId: SHARD }), sent };
}

async function setUp() {
  tables += 1;
  const realtimeTable = `realtime-${tables}`;
  const directoryTable = `keys-${tables}`;
  await createTable(client, realtimeTable);
  await createTable(client, directoryTable);
  const metrics = new RecordingMetrics();
  const logger = new RecordingLogger();
  const handlerFor = (store = new KeyDirectoryStore({ client, tableName: directoryTable, retry: noWait })) =>
    createSpeedHandler({
      config,
      dynamodb: client,
      realtimeTable,
      logger,
      metrics,
      retry: noWait,
      keyDirectory: store,
    });
  const directory = new KeyDirectoryStore({ client, tableName: directoryTable });
  const listed = async (view: (typeof config.views)[number]) =>
    (await directory.listPage(view, new Map(), { limit: 1000 })).entries;
  return { realtimeTable, directoryTable, metrics, logger, handlerFor, listed };
}
const noWait = { sleep: async () => undefined };

describe('speed layer: the key directory', () => {
  it('a batch of N events over K keys writes each key once, before any realtime item, with its arrivals', async () => {
    const { realtimeTable, directoryTable, metrics, handlerFor, listed } = await setUp();
    const order: string[] = [];
    faults.failWhen(({ command, input }) => {
      order.push(`${command}@${String(input.TableName)}`);
      return undefined;
    });
    const { event, sent } = batchOf(120, 10);
    expect(await handlerFor()(event)).toEqual({ batchItemFailures: [] });

    const devices = new Set(sent.map((record) => record.deviceId));
    const sitesAndMetrics = new Set(sent.map((record) => `${record.site}|${record.metric}`));
    expect(devices.size).toBe(10);
    expect(faults.count('PutItemCommand')).toBe(devices.size + sitesAndMetrics.size);
    expect(metrics.total(SPEED_METRICS.directoryWrites)).toBe(devices.size + sitesAndMetrics.size);
    // Every directory write precedes the first realtime write.
    const lastDirectoryWrite = order.lastIndexOf(`PutItemCommand@${directoryTable}`);
    const firstRealtimeWrite = order.indexOf(`UpdateItemCommand@${realtimeTable}`);
    expect(lastDirectoryWrite).toBeGreaterThanOrEqual(0);
    expect(lastDirectoryWrite).toBeLessThan(firstRealtimeWrite);

    const arrivalsOf = (key: (record: Sent) => string) => {
      const spans = new Map<string, { dimensionKey: string; firstSeenMs: number; lastSeenMs: number }>();
      for (const record of sent) {
        const dimensionKey = key(record);
        const known = spans.get(dimensionKey);
        spans.set(dimensionKey, {
          dimensionKey,
          firstSeenMs: Math.min(known?.firstSeenMs ?? Infinity, record.arrivalMs),
          lastSeenMs: Math.max(known?.lastSeenMs ?? -Infinity, record.arrivalMs),
        });
      }
      return [...spans.values()].sort((a, b) => (a.dimensionKey < b.dimensionKey ? -1 : 1));
    };
    expect(await listed(config.views[0])).toEqual(arrivalsOf((record) => record.deviceId));
    expect(await listed(config.views[1])).toEqual(arrivalsOf((record) => `${record.site}|${record.metric}`));
  });

  it('a redelivered batch makes no directory write, in the same container or a new one', async () => {
    const { metrics, handlerFor } = await setUp();
    const { event } = batchOf(60, 8);
    const handler = handlerFor();
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    const firstWrites = metrics.total(SPEED_METRICS.directoryWrites);
    expect(firstWrites).toBeGreaterThan(0);

    faults.resetCounts();
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    expect(metrics.total(SPEED_METRICS.directoryWrites)).toBe(firstWrites);
    expect(faults.count('PutItemCommand')).toBe(0);
    expect(faults.count('BatchGetItemCommand')).toBe(0);

    // A new container learns the keys with one read per view, and writes none of them.
    expect(await handlerFor()(event)).toEqual({ batchItemFailures: [] });
    expect(faults.count('PutItemCommand')).toBe(0);
    expect(faults.count('BatchGetItemCommand')).toBe(config.views.length);
    expect(metrics.total(SPEED_METRICS.directoryWrites)).toBe(firstWrites);

    // The next batch on the same keys writes none either; a new key costs one write per view it is new to.
    faults.resetCounts();
    expect(await handler(batchOf(30, 8, 60).event)).toEqual({ batchItemFailures: [] });
    expect(faults.count('PutItemCommand')).toBe(0);
    const { event: withNewKey } = batchOf(1, 1_000_000, 90);
    expect(await handler(withNewKey)).toEqual({ batchItemFailures: [] });
    expect(faults.count('PutItemCommand')).toBe(1);
  });

  it('a directory write that fails fails the batch: the view\u2019s items wait for the redelivery', async () => {
    const { realtimeTable, directoryTable, logger, handlerFor, listed } = await setUp();
    faults.failWhen(({ command, input }) =>
      command === 'PutItemCommand' && input.TableName === directoryTable ? ACCESS_DENIED : undefined,
    );
    const { event, sent } = batchOf(40, 5);
    const handler = handlerFor();
    const response = await handler(event);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0].kinesis.sequenceNumber }]);
    expect(await scanTable(client, realtimeTable)).toEqual([]);
    expect(logger.at('error').some((line) => line.message.startsWith('key directory not written'))).toBe(true);

    faults.heal();
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    expect((await listed(config.views[0])).map((entry) => entry.dimensionKey)).toEqual(
      [...new Set(sent.map((record) => record.deviceId))].sort(),
    );
    expect((await scanTable(client, realtimeTable)).length).toBeGreaterThan(0);
  });
});
