import { S3Client, CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SetAsideStore, type SetAsideRecord } from '../../functions/adapters/set-aside-store';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
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
