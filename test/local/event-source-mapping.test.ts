import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { MemoryCheckpointStore } from '../../local/checkpoint-store';
import { emulatorClientConfig, startKinesis, type KinesisEmulator } from '../../local/emulators';
import {
  KinesisEventSourceMapping,
  type DiscardedBatch,
  type EventSourceMappingOptions,
} from '../../local/event-source-mapping';
import { eventually } from '../support/eventually';
import { createActiveStream, FIRST_SHARD_HASH_KEY, LAST_SHARD_HASH_KEY, putOnShard } from '../support/kinesis-stream';

let emulator: KinesisEmulator;
let kinesis: KinesisClient;
let streamCounter = 0;

beforeAll(async () => {
  emulator = await startKinesis();
  kinesis = new KinesisClient(emulatorClientConfig(emulator.endpoint));
});
afterAll(async () => {
  kinesis.destroy();
  await emulator.stop();
});

const payloadsOf = (event: KinesisStreamEvent) =>
  event.Records.map((record) => Buffer.from(record.kinesis.data, 'base64').toString());

/** A fresh stream with `count` records on its first shard, and a mapping over it with a recording handler. */
async function setUp(
  count: number,
  handle: (
    event: KinesisStreamEvent,
    call: number,
  ) => Promise<KinesisStreamBatchResponse | void> | KinesisStreamBatchResponse | void,
  options: Partial<EventSourceMappingOptions> = {},
) {
  streamCounter += 1;
  const streamName = `esm-${streamCounter}`;
  const streamArn = await createActiveStream(kinesis, streamName, 1);
  const payloads = Array.from({ length: count }, (_, index) => `r${index}`);
  const sequenceNumbers = await putOnShard(kinesis, streamName, payloads, FIRST_SHARD_HASH_KEY);
  const batches: string[][] = [];
  const discarded: DiscardedBatch[] = [];
  const mapping = new KinesisEventSourceMapping({
    kinesis,
    streamName,
    streamArn,
    batchingWindowMs: 0,
    pollIntervalMs: 20,
    retryDelayMs: 0,
    onFailure: (batch) => {
      discarded.push(batch);
    },
    handler: async (event) => {
      batches.push(payloadsOf(event));
      return handle(event, batches.length);
    },
    ...options,
  });
  mapping.start();
  return { streamName, streamArn, payloads, sequenceNumbers, batches, discarded, mapping };
}

const delivered = (batches: readonly string[][]) => batches.flat();

describe('local Kinesis event source mapping', () => {
  it('delivers every record once, in order, in batches of at most the batch size, as Lambda events', async () => {
    let first: KinesisStreamEvent | undefined;
    const { payloads, batches, mapping, streamArn, sequenceNumbers } = await setUp(
      7,
      (event) => {
        first ??= event;
      },
      { batchSize: 3 },
    );
    await eventually('all records', () => (delivered(batches).length >= 7 ? true : undefined));
    await mapping.stop();
    expect(delivered(batches)).toEqual(payloads);
    expect(batches.every((batch) => batch.length <= 3)).toBe(true);
    expect(first?.Records[0]).toMatchObject({
      eventSource: 'aws:kinesis',
      eventName: 'aws:kinesis:record',
      eventSourceARN: streamArn,
      eventID: `shardId-000000000000:${sequenceNumbers[0]}`,
      kinesis: { sequenceNumber: sequenceNumbers[0], partitionKey: 'p', kinesisSchemaVersion: '1.0' },
    });
    expect(first?.Records[0].kinesis.approximateArrivalTimestamp).toBeGreaterThan(Date.now() / 1000 - 600);
  });

  it('resumes after its checkpoint when restarted, instead of re-reading from TRIM_HORIZON', async () => {
    const checkpoints = new MemoryCheckpointStore();
    const first = await setUp(4, () => undefined, { checkpoints });
    await eventually('first records', () => (delivered(first.batches).length >= 4 ? true : undefined));
    await first.mapping.stop();
    await putOnShard(kinesis, first.streamName, ['late-1', 'late-2'], FIRST_SHARD_HASH_KEY);
    const batches: string[][] = [];
    const restarted = new KinesisEventSourceMapping({
      kinesis,
      streamName: first.streamName,
      streamArn: first.streamArn,
      checkpoints,
      batchingWindowMs: 0,
      pollIntervalMs: 20,
      handler: async (event) => {
        batches.push(payloadsOf(event));
      },
    });
    restarted.start();
    await eventually('records after the checkpoint', () => (delivered(batches).length >= 2 ? true : undefined));
    await restarted.stop();
    expect(delivered(batches)).toEqual(['late-1', 'late-2']);
  });

  it('after a reported batch item failure, retries from that record with a batch that can extend past the original', async () => {
    const { batches, mapping, sequenceNumbers } = await setUp(
      8,
      (_event, call) => (call === 1 ? { batchItemFailures: [{ itemIdentifier: sequenceNumbers[2] }] } : undefined),
      { batchSize: 5 },
    );
    await eventually('the retry', () => (delivered(batches).length >= 11 ? true : undefined));
    await mapping.stop();
    expect(batches[0]).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(batches[1]).toEqual(['r2', 'r3', 'r4', 'r5', 'r6']);
    expect(delivered(batches.slice(1))).toEqual(['r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
  });

  it('bisects a batch whose invocation throws, and the halves do not use up the retry attempts', async () => {
    const { batches, mapping, discarded } = await setUp(
      4,
      (event) => {
        if (payloadsOf(event).includes('r3') && event.Records.length > 1) throw new Error('poison in this batch');
      },
      { batchSize: 4, maxRetryAttempts: 0 },
    );
    await eventually('every record delivered', () => (batches.length >= 4 ? true : undefined));
    await mapping.stop();
    expect(batches.slice(0, 4)).toEqual([['r0', 'r1', 'r2', 'r3'], ['r0', 'r1'], ['r2', 'r3'], ['r2']]);
    expect(batches[4]).toEqual(['r3']);
    expect(discarded).toEqual([]);
  });

  it('discards a batch to the on-failure destination once its retries are exhausted, then moves on', async () => {
    const { batches, mapping, discarded, sequenceNumbers } = await setUp(
      3,
      (event) => {
        if (payloadsOf(event).includes('r1')) throw new Error('always fails');
      },
      { batchSize: 1, maxRetryAttempts: 2 },
    );
    await eventually('r2 after the discard', () => (delivered(batches).includes('r2') ? true : undefined));
    await mapping.stop();
    expect(delivered(batches)).toEqual(['r0', 'r1', 'r1', 'r1', 'r2']);
    expect(discarded).toEqual([
      expect.objectContaining({
        condition: 'RetryAttemptsExhausted',
        shardId: 'shardId-000000000000',
        startSequenceNumber: sequenceNumbers[1],
        endSequenceNumber: sequenceNumbers[1],
        batchSize: 1,
      }),
    ]);
  });

  it('treats a failure report naming a record outside the batch as a failed batch', async () => {
    const { batches, mapping } = await setUp(
      2,
      (_event, call) => (call === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] } : undefined),
      { batchSize: 2, bisectBatchOnError: false },
    );
    await eventually('the retry', () => (batches.length >= 2 ? true : undefined));
    await mapping.stop();
    expect(batches.slice(0, 2)).toEqual([
      ['r0', 'r1'],
      ['r0', 'r1'],
    ]);
  });

  it('discards records older than the maximum record age without invoking the handler', async () => {
    const { batches, mapping, discarded } = await setUp(3, () => undefined, {
      maxRecordAgeMs: 60_000,
      now: () => Date.now() + 3_600_000,
    });
    await eventually('the discard', () => (discarded.length > 0 ? true : undefined));
    await mapping.stop();
    expect(batches).toEqual([]);
    expect(discarded[0]).toMatchObject({ condition: 'RecordAgeExceeded', batchSize: 3 });
  });

  it("reports a shard's iterator age while its batch fails, and 0 once it catches up", async () => {
    let failing = true;
    const { mapping } = await setUp(
      4,
      () => {
        if (failing) throw new Error('not yet');
      },
      { bisectBatchOnError: false, maxRetryAttempts: 1_000, retryDelayMs: 20 },
    );
    await eventually('two attempts at the batch', () => (mapping.invocationCount >= 2 ? true : undefined));
    // A batch that keeps failing keeps its shard behind: the age grows with the clock the caller reads it at.
    const lateNow = Date.now() + 3_600_000;
    expect(mapping.iteratorAgeMs(lateNow)).toBeGreaterThanOrEqual(3_600_000);
    failing = false;
    await eventually('the shard caught up', () => (mapping.iteratorAgeMs(lateNow) === 0 ? true : undefined));
    await mapping.stop();
  });

  it('keeps each shard in order while serving two shards', async () => {
    streamCounter += 1;
    const streamName = `esm-${streamCounter}`;
    const streamArn = await createActiveStream(kinesis, streamName, 2);
    await putOnShard(kinesis, streamName, ['a0', 'a1', 'a2'], FIRST_SHARD_HASH_KEY);
    await putOnShard(kinesis, streamName, ['b0', 'b1', 'b2'], LAST_SHARD_HASH_KEY);
    const byShard = new Map<string, string[]>();
    const mapping = new KinesisEventSourceMapping({
      kinesis,
      streamName,
      streamArn,
      batchSize: 2,
      batchingWindowMs: 0,
      pollIntervalMs: 20,
      handler: async (event) => {
        const shard = event.Records[0].eventID.split(':')[0];
        expect(event.Records.every((record) => record.eventID.startsWith(`${shard}:`))).toBe(true);
        byShard.set(shard, [...(byShard.get(shard) ?? []), ...payloadsOf(event)]);
      },
    });
    mapping.start();
    await eventually('both shards', () => ([...byShard.values()].flat().length >= 6 ? true : undefined));
    await mapping.stop();
    expect([...byShard.values()].sort()).toEqual([
      ['a0', 'a1', 'a2'],
      ['b0', 'b1', 'b2'],
    ]);
  });
});
