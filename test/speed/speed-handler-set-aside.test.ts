import { S3Client, CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SetAsideStore, type SetAsideRecord } from '../../functions/adapters/set-aside-store';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { aggregateKeyOf } from '../../functions/core/fold';
import { realtimeItemKey } from '../../functions/core/storage-keys';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { SPEED_METRICS } from '../../functions/speed/speed-handler';
import {
  emulatorClientConfig,
  startDynamoDb,
  startKinesis,
  startS3,
  type KinesisEmulator,
  type RunningEmulator,
} from '../../local/emulators';
import { generateEvents, payloadsOf } from './generated-events';
import { reportedFailure } from './kinesis-batches';
import { expectedAnswers, realtimeAnswers, sortedEntries } from './realtime-table';
import { speedFixture } from './speed-fixture';
import { SITE_SKETCH_VIEW } from './sketch-view';

const config = definePipelineConfig({ views: DEFAULT_VIEW_DECLARATIONS });
/** The device whose items the table refuses, as it would a key over a limit nobody foresaw. */
const REFUSED_DEVICE = 'device-3';

let dynamo: RunningEmulator;
let kinesisEmulator: KinesisEmulator;
let s3Emulator: RunningEmulator;
let kinesis: KinesisClient;
let s3: S3Client;
let streams = 0;

beforeAll(async () => {
  [dynamo, kinesisEmulator, s3Emulator] = await Promise.all([startDynamoDb(), startKinesis(), startS3()]);
  kinesis = new KinesisClient(emulatorClientConfig(kinesisEmulator.endpoint));
  s3 = new S3Client({ ...emulatorClientConfig(s3Emulator.endpoint), forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'archive' }));
});
afterAll(async () => {
  kinesis.destroy();
  s3.destroy();
  await Promise.all([dynamo.stop(), kinesisEmulator.stop(), s3Emulator.stop()]);
});

async function refusingFixture(bucket: string) {
  streams += 1;
  const { payloads, eventsByPayload } = payloadsOf(generateEvents({ count: 80, seed: 11 }));
  const fixture = await speedFixture({
    kinesis,
    dynamoEndpoint: dynamo.endpoint,
    config,
    name: `set-aside-${streams}`,
    shard0: payloads,
    eventsByPayload,
    handler: { setAside: new SetAsideStore({ s3, bucket, retry: { sleep: async () => undefined, maxAttempts: 2 } }) },
  });
  fixture.faults.failWhen(({ command, input }) => {
    const key = (input as { Key?: { pk?: { S?: string } } }).Key?.pk?.S ?? '';
    return command === 'UpdateItemCommand' && key.includes(`#${REFUSED_DEVICE}|`)
      ? { statusCode: 400, type: 'ValidationException' }
      : undefined;
  });
  return fixture;
}

async function setAsideObjects(bucket: string): Promise<{ key: string; records: SetAsideRecord[] }[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'set-aside/speed/' }));
  return Promise.all(
    (listed.Contents ?? []).map(async ({ Key }) => {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
      const { records } = JSON.parse(await object.Body!.transformToString()) as { records: SetAsideRecord[] };
      return { key: Key!, records };
    }),
  );
}

describe('speed layer: a record the table refuses for its content is set aside, never a stopped shard', () => {
  it('sets the refused items aside in S3 with the reason, applies their neighbours and reports no failure', async () => {
    const fixture = await refusingFixture('archive');
    const [shard] = fixture.shards;

    expect(await fixture.handle(shard.batch(0))).toEqual({ batchItemFailures: [] });

    const records = fixture.records();
    const refused = records.filter((record) => record.event.deviceId === REFUSED_DEVICE);
    expect(refused.length).toBeGreaterThan(0);
    // Views keyed by device lose only the refused device's items; views without the device key count everything.
    const byDevice = config.views.filter((view) => view.dimensions.includes('deviceId'));
    const others = config.views.filter((view) => !view.dimensions.includes('deviceId'));
    const expected = new Map([
      ...expectedAnswers(
        byDevice,
        records.filter((record) => !refused.includes(record)),
        config.epochLengthMs,
      ),
      ...expectedAnswers(others, records, config.epochLengthMs),
    ]);
    const actual = await realtimeAnswers(fixture.dynamodb, fixture.realtimeTable, config.views);
    expect(sortedEntries(actual)).toEqual(sortedEntries(expected));

    const objects = await setAsideObjects('archive');
    expect(objects).toHaveLength(1);
    const kept = objects[0].records;
    expect(kept.map((record) => record.sequenceNumber).sort()).toEqual(
      refused.map((record) => record.sequenceNumber).sort(),
    );
    for (const record of kept) {
      expect(record).toMatchObject({ view: 'device_metric_minute', generation: 1, shardId: shard.shardId });
      expect(record.reason).toBe('ValidationException: injected ValidationException');
      expect(record.dimensionKey.startsWith(`${REFUSED_DEVICE}|`)).toBe(true);
    }
    expect(fixture.metrics.total(SPEED_METRICS.recordsSetAside)).toBe(refused.length);
    expect(fixture.metrics.total(SPEED_METRICS.itemWriteFailures)).toBe(0);
  });

  it('redelivering the batch sets the same records aside in the same object and adds nothing to the views', async () => {
    const fixture = await refusingFixture('archive-redelivered');
    await s3.send(new CreateBucketCommand({ Bucket: 'archive-redelivered' }));
    const [shard] = fixture.shards;
    await fixture.handle(shard.batch(0));
    const once = await realtimeAnswers(fixture.dynamodb, fixture.realtimeTable, config.views);
    await fixture.handle(shard.batch(0));
    expect(sortedEntries(await realtimeAnswers(fixture.dynamodb, fixture.realtimeTable, config.views))).toEqual(
      sortedEntries(once),
    );
    expect((await setAsideObjects('archive-redelivered')).map((object) => object.key)).toHaveLength(1);
  });

  it('fails the batch, setting nothing aside, when the table refuses every item: that is the table, not a record', async () => {
    const fixture = await refusingFixture('archive');
    fixture.faults.failWhen(({ command }) =>
      command === 'UpdateItemCommand' ? { statusCode: 400, type: 'ValidationException' } : undefined,
    );
    const [shard] = fixture.shards;
    const response = await fixture.handle(shard.batch(0));
    expect(reportedFailure(response)).toBe(fixture.records()[0].sequenceNumber);
    expect(fixture.metrics.total(SPEED_METRICS.recordsSetAside)).toBe(0);
  });

  it('fails the batch at the refused records when they cannot be set aside, so that nothing is lost', async () => {
    const fixture = await refusingFixture('no-such-bucket');
    const [shard] = fixture.shards;
    const response = await fixture.handle(shard.batch(0));
    const firstRefused = fixture.records().find((record) => record.event.deviceId === REFUSED_DEVICE)!;
    expect(reportedFailure(response)).toBe(firstRefused.sequenceNumber);
    expect(fixture.metrics.total(SPEED_METRICS.recordsSetAside)).toBe(0);
  });
});

describe('speed layer: a realtime item that can never be written is set aside, never a stopped shard', () => {
  const sketchConfig = definePipelineConfig({ views: [...DEFAULT_VIEW_DECLARATIONS, SITE_SKETCH_VIEW] });
  const sketchView = sketchConfig.views.find((view) => view.name === SITE_SKETCH_VIEW.name)!;

  /**
   * A fixture whose first record's site item already holds `attributes`, put there behind the speed layer's back;
   * with the item's key and the records that go into it.
   */
  async function fixtureWithItem(bucket: string, attributes: Record<string, { S: string } | { N: string }>) {
    streams += 1;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const { payloads, eventsByPayload } = payloadsOf(generateEvents({ count: 60, seed: 23 }));
    const fixture = await speedFixture({
      kinesis,
      dynamoEndpoint: dynamo.endpoint,
      config: sketchConfig,
      name: `set-aside-item-${streams}`,
      shard0: payloads,
      eventsByPayload,
      handler: { setAside: new SetAsideStore({ s3, bucket, retry: { sleep: async () => undefined, maxAttempts: 2 } }) },
    });
    const key = aggregateKeyOf(sketchView, fixture.records()[0], sketchConfig.epochLengthMs)!;
    const { pk, sk } = realtimeItemKey(key, 1);
    const itemKey = { pk: { S: pk }, sk: { S: sk } };
    await fixture.dynamodb.send(
      new PutItemCommand({ TableName: fixture.realtimeTable, Item: { ...itemKey, ...attributes } }),
    );
    const inItem = fixture.records().filter((record) => {
      const other = realtimeItemKey(aggregateKeyOf(sketchView, record, sketchConfig.epochLengthMs)!, 1);
      return other.pk === pk && other.sk === sk;
    });
    return { fixture, itemKey, inItem };
  }

  /**
   * Handles the whole shard, then checks: no failure reported; the item's records, and only they, set aside with the
   * reason; the item as it was; every other item of every view equal to the brute force.
   */
  async function expectSetAside(
    { fixture, itemKey, inItem }: Awaited<ReturnType<typeof fixtureWithItem>>,
    bucket: string,
    reason: RegExp,
  ) {
    const before = await fixture.dynamodb.send(
      new GetItemCommand({ TableName: fixture.realtimeTable, Key: itemKey, ConsistentRead: true }),
    );
    expect(await fixture.handle(fixture.shards[0].batch(0))).toEqual({ batchItemFailures: [] });
    const after = await fixture.dynamodb.send(
      new GetItemCommand({ TableName: fixture.realtimeTable, Key: itemKey, ConsistentRead: true }),
    );
    expect(after.Item).toEqual(before.Item);

    const objects = await setAsideObjects(bucket);
    expect(objects).toHaveLength(1);
    const kept = objects[0].records;
    expect(kept.map((record) => record.sequenceNumber).sort()).toEqual(
      inItem.map((record) => record.sequenceNumber).sort(),
    );
    for (const record of kept) {
      expect(record).toMatchObject({ view: sketchView.name, generation: 1 });
      expect(record.reason).toMatch(reason);
    }
    expect(fixture.metrics.total(SPEED_METRICS.recordsSetAside)).toBe(inItem.length);
    expect(fixture.metrics.total(SPEED_METRICS.itemWriteFailures)).toBe(0);

    // The item holds nothing of the stream: without it, every item is the brute force of its records.
    await fixture.dynamodb.send(new DeleteItemCommand({ TableName: fixture.realtimeTable, Key: itemKey }));
    const records = fixture.records();
    const others = sketchConfig.views.filter((view) => view !== sketchView);
    const expected = new Map([
      ...expectedAnswers(others, records, sketchConfig.epochLengthMs),
      ...expectedAnswers(
        [sketchView],
        records.filter((record) => !inItem.some((kept) => kept.sequenceNumber === record.sequenceNumber)),
        sketchConfig.epochLengthMs,
      ),
    ]);
    const actual = await realtimeAnswers(fixture.dynamodb, fixture.realtimeTable, sketchConfig.views);
    expect(sortedEntries(actual)).toEqual(sortedEntries(expected));
  }

  it('sets aside the records of an item whose stored sketch does not decode, and applies the rest', async () => {
    const bucket = 'unreadable-item';
    const devices = sketchView.measures.find((measure) => measure.name === 'devices')!.attribute;
    const setUp = await fixtureWithItem(bucket, { count: { N: '3' }, [devices]: { S: 'd-not-a-sketch' } });
    await expectSetAside(setUp, bucket, /^UnreadableRealtimeItemError: the stored item does not decode/);
  });

  it('sets aside the records of an item the write would take past 400 KB, and applies the rest', async () => {
    const bucket = 'oversized-item';
    // Whatever fills the item (watermarks of many shards, a long key): here one attribute, a few hundred bytes short
    // of the 400 KB (409,600 bytes) the first write's watermark, bucket, epoch and measures take it past.
    const setUp = await fixtureWithItem(bucket, { padding: { S: 'x'.repeat(409_300) } });
    await expectSetAside(setUp, bucket, /^ValidationException: Item size to update has exceeded/);
  });
});
