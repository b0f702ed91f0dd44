import { gunzipSync } from 'node:zlib';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { FirehoseTransformationEvent, FirehoseTransformationResult } from 'aws-lambda';
import { MemoryCheckpointStore } from '../../local/checkpoint-store';
import {
  emulatorClientConfig,
  startKinesis,
  startS3,
  type KinesisEmulator,
  type RunningEmulator,
} from '../../local/emulators';
import { FirehoseStandIn, type FirehoseOptions } from '../../local/firehose';
import { eventually } from '../support/eventually';
import { createActiveStream, FIRST_SHARD_HASH_KEY, LAST_SHARD_HASH_KEY, putOnShard } from '../support/kinesis-stream';

let kinesisEmulator: KinesisEmulator;
let s3Emulator: RunningEmulator;
let kinesis: KinesisClient;
let s3: S3Client;
let counter = 0;

beforeAll(async () => {
  [kinesisEmulator, s3Emulator] = await Promise.all([startKinesis(), startS3()]);
  kinesis = new KinesisClient(emulatorClientConfig(kinesisEmulator.endpoint));
  s3 = new S3Client(emulatorClientConfig(s3Emulator.endpoint));
});
afterAll(async () => {
  kinesis.destroy();
  s3.destroy();
  await Promise.all([kinesisEmulator.stop(), s3Emulator.stop()]);
});

/** A transform in the shape of the real one: partition keys from the payload, `bad` records fail. */
const events: FirehoseTransformationEvent[] = [];
async function transform(event: FirehoseTransformationEvent): Promise<FirehoseTransformationResult> {
  events.push(event);
  return {
    records: event.records.map((record) => {
      const text = Buffer.from(record.data, 'base64').toString();
      if (text.startsWith('bad')) return { recordId: record.recordId, result: 'ProcessingFailed', data: record.data };
      if (text.startsWith('drop')) return { recordId: record.recordId, result: 'Dropped', data: record.data };
      const [hour] = text.split(':');
      return {
        recordId: record.recordId,
        result: 'Ok',
        data: Buffer.from(`${text}\n`).toString('base64'),
        metadata: { partitionKeys: { dt: '2026-11-24', hour } },
      };
    }),
  };
}

async function setUp(options: Partial<FirehoseOptions> = {}) {
  counter += 1;
  const streamName = `archive-${counter}`;
  const bucket = `master-${counter}`;
  const streamArn = await createActiveStream(kinesis, streamName, 2);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const firehose = new FirehoseStandIn({
    kinesis,
    streamName,
    streamArn,
    s3,
    bucket,
    transform,
    pollIntervalMs: 20,
    ...options,
  });
  return { streamName, streamArn, bucket, firehose };
}

async function objects(bucket: string): Promise<Map<string, string>> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  const result = new Map<string, string>();
  for (const { Key } of listed.Contents ?? []) {
    const body = Buffer.from(
      await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key }))).Body!.transformToByteArray(),
    );
    result.set(Key!, Key!.endsWith('.gz') ? gunzipSync(body).toString() : body.toString());
  }
  return result;
}

const linesUnder = (all: Map<string, string>, prefix: string) =>
  [...all.entries()]
    .filter(([key]) => key.startsWith(prefix))
    .flatMap(([, body]) => body.split('\n').filter(Boolean))
    .sort();

describe('local Firehose stand-in', () => {
  it('invokes the transform with the Kinesis-source event shape and archives Ok records as GZIP under their partition', async () => {
    const { streamName, streamArn, bucket, firehose } = await setUp();
    const [sequence] = await putOnShard(kinesis, streamName, ['14:a', '15:b'], FIRST_SHARD_HASH_KEY);
    await putOnShard(kinesis, streamName, ['14:c'], LAST_SHARD_HASH_KEY);
    events.length = 0;
    expect(await firehose.drain()).toBe(3);
    const all = await objects(bucket);
    expect(linesUnder(all, 'events/dt=2026-11-24/hour=14/')).toEqual(['14:a', '14:c']);
    expect(linesUnder(all, 'events/dt=2026-11-24/hour=15/')).toEqual(['15:b']);
    expect([...all.keys()].every((key) => key.endsWith('.gz'))).toBe(true);
    expect(events[0]).toMatchObject({ sourceKinesisStreamArn: streamArn, region: 'us-east-1' });
    const first = events[0].records.find((record) => record.kinesisRecordMetadata?.sequenceNumber === sequence);
    expect(first?.kinesisRecordMetadata).toMatchObject({
      shardId: 'shardId-000000000000',
      partitionKey: 'p',
      subsequenceNumber: '0',
    });
    expect(first?.approximateArrivalTimestamp).toBe(first?.kinesisRecordMetadata?.approximateArrivalTimestamp);
  });

  it('writes ProcessingFailed records to the error prefix in the Firehose error-record format, and drops Dropped ones', async () => {
    const { streamName, bucket, firehose } = await setUp();
    await putOnShard(kinesis, streamName, ['14:ok', 'bad one', 'drop me'], FIRST_SHARD_HASH_KEY);
    await firehose.drain();
    const all = await objects(bucket);
    expect(linesUnder(all, 'events/')).toEqual(['14:ok']);
    const failures = linesUnder(all, 'errors/processing-failed/').map(
      (line) => JSON.parse(line) as Record<string, unknown>,
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      errorCode: 'Lambda.ProcessingFailed',
      rawData: Buffer.from('bad one').toString('base64'),
    });
  });

  it('sends every record of a transform that keeps failing to the error prefix, after its attempts', async () => {
    let calls = 0;
    const { streamName, bucket, firehose } = await setUp({
      transformAttempts: 2,
      transform: async () => {
        calls += 1;
        throw new Error('transform down');
      },
    });
    await putOnShard(kinesis, streamName, ['14:x', '14:y'], FIRST_SHARD_HASH_KEY);
    await firehose.drain();
    expect(calls).toBe(2);
    expect(linesUnder(await objects(bucket), 'errors/processing-failed/')).toHaveLength(2);
  });

  it('flushes on its own when the buffer interval has passed', async () => {
    const { streamName, bucket, firehose } = await setUp({ bufferIntervalMs: 200 });
    firehose.start();
    await putOnShard(kinesis, streamName, ['14:timed'], FIRST_SHARD_HASH_KEY);
    await eventually('the timed flush', async () =>
      linesUnder(await objects(bucket), 'events/').length === 1 ? true : undefined,
    );
    await firehose.stop();
  });

  it('flushes on its own when the buffer size is reached, long before the interval', async () => {
    const { streamName, bucket, firehose } = await setUp({ bufferSizeBytes: 10, bufferIntervalMs: 3_600_000 });
    firehose.start();
    await putOnShard(kinesis, streamName, ['14:0123456789'], FIRST_SHARD_HASH_KEY);
    await eventually('the size flush', async () =>
      linesUnder(await objects(bucket), 'events/').length === 1 ? true : undefined,
    );
    await firehose.stop();
  });

  it("counts the buffer interval from a record's arrival, not from when it was read", async () => {
    // The buffer's clock runs an interval ahead of the stream's: a record read at once is an interval past arrival.
    const { streamName, bucket, firehose } = await setUp({
      bufferIntervalMs: 60_000,
      now: () => Date.now() + 60_000,
    });
    firehose.start();
    await putOnShard(kinesis, streamName, ['14:aged'], FIRST_SHARD_HASH_KEY);
    await eventually('the flush of a record a whole interval past its arrival', async () =>
      linesUnder(await objects(bucket), 'events/').length === 1 ? true : undefined,
    );
    await firehose.stop();
  });

  it('knows how far it has archived: nothing before it has read every shard, never past a buffered record, past it once delivered', async () => {
    const { streamName, firehose } = await setUp({ bufferIntervalMs: 3_600_000 });
    expect(firehose.archivedThroughMs).toBeUndefined();
    const caughtUpFrom = Date.now();
    await firehose.catchUp();
    expect(firehose.archivedThroughMs).toBeGreaterThanOrEqual(caughtUpFrom);

    await putOnShard(kinesis, streamName, ['14:held'], LAST_SHARD_HASH_KEY);
    const putBy = Date.now();
    // Read into the buffer, where the hour-long interval keeps it.
    await firehose.catchUp();
    const whileBuffered = firehose.archivedThroughMs;
    await eventually('the clock to move past the put', () => (Date.now() > putBy ? true : undefined));
    events.length = 0;
    expect(await firehose.drain()).toBe(1);
    const arrival = events[0].records[0].approximateArrivalTimestamp;
    expect(whileBuffered).toBeLessThanOrEqual(arrival);
    expect(firehose.archivedThroughMs).toBeGreaterThan(arrival);
  });

  it('holds archived-through below the records of a delivery that failed, and delivers them at the next flush', async () => {
    const bucket = `late-bucket-${counter}`;
    const { streamName, firehose } = await setUp({ bucket });
    await putOnShard(kinesis, streamName, ['14:stuck'], FIRST_SHARD_HASH_KEY);
    events.length = 0;
    await expect(firehose.drain()).rejects.toThrow();
    const arrival = events[0].records[0].approximateArrivalTimestamp;
    expect(firehose.archivedThroughMs).toBeLessThanOrEqual(arrival);

    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    expect(await firehose.drain()).toBe(1);
    expect(linesUnder(await objects(bucket), 'events/')).toEqual(['14:stuck']);
    expect(firehose.archivedThroughMs).toBeGreaterThan(arrival);
  });

  it('resumes after its checkpoint, so a restart does not archive delivered records again', async () => {
    const checkpoints = new MemoryCheckpointStore();
    const { streamName, streamArn, bucket, firehose } = await setUp({ checkpoints });
    await putOnShard(kinesis, streamName, ['14:first'], FIRST_SHARD_HASH_KEY);
    await firehose.drain();
    await putOnShard(kinesis, streamName, ['14:second'], FIRST_SHARD_HASH_KEY);
    const restarted = new FirehoseStandIn({ kinesis, streamName, streamArn, s3, bucket, transform, checkpoints });
    expect(await restarted.drain()).toBe(1);
    expect(linesUnder(await objects(bucket), 'events/')).toEqual(['14:first', '14:second']);
  });
});
