import { KinesisClient } from '@aws-sdk/client-kinesis';
import {
  EventStreamWriter,
  PUT_RECORDS_MAX_BYTES,
  PUT_RECORDS_MAX_ENTRIES,
  putRecordsChunks,
} from '../../functions/adapters/event-stream-writer';
import { emulatorClientConfig, startKinesis, type KinesisEmulator } from '../../local/emulators';
import { ensureStream } from '../../local/provision';
import { readShard, SHARD_0, SHARD_1 } from '../speed/kinesis-batches';

let emulator: KinesisEmulator;
let kinesis: KinesisClient;
let streamCounter = 0;
/** PutRecords requests seen, and a plan to fail chosen entries of chosen requests as a throttled shard would. */
let requests: number[] = [];
let failEntries: (request: number, entry: number) => boolean = () => false;
/** A plan to fail chosen requests whole, after kinesis-local applied them (a lost answer) or before (refused). */
let failRequest: (request: number) => { error: Error; applied: boolean } | undefined = () => undefined;

beforeAll(async () => {
  emulator = await startKinesis();
  kinesis = new KinesisClient(emulatorClientConfig(emulator.endpoint));
  // Rewrites real PutRecords responses so that chosen entries come back failed, as when a shard is throttled.
  kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      const request = requests.length;
      const failure = failRequest(request);
      if (failure !== undefined) {
        requests.push((args.input as { Records: unknown[] }).Records.length);
        if (failure.applied) await next(args);
        throw failure.error;
      }
      const result = await next(args);
      const output = result.output as {
        Records?: { ErrorCode?: string; ErrorMessage?: string; SequenceNumber?: string }[];
        FailedRecordCount?: number;
      };
      requests.push(output.Records?.length ?? 0);
      output.Records = output.Records?.map((record, entry) =>
        failEntries(request, entry)
          ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' }
          : record,
      );
      return result;
    },
    { step: 'initialize', name: 'failChosenEntries' },
  );
});
afterAll(async () => {
  kinesis.destroy();
  await emulator.stop();
});

async function writer(maxAttempts = 4) {
  streamCounter += 1;
  const streamName = `ingest-${streamCounter}`;
  await ensureStream(kinesis, streamName, 2);
  requests = [];
  failEntries = () => false;
  failRequest = () => undefined;
  // kinesis-local on a loaded 2-core machine can take seconds per request: the attempt timeout is chosen for it,
  // so that no test here depends on the machine's speed (the timeout path has its own test, with an injected error).
  currentStream = streamName;
  return new EventStreamWriter({
    client: kinesis,
    streamName,
    retry: { maxAttempts, sleep: async () => undefined, attemptTimeoutMs: 600_000 },
  });
}

let currentStream = '';

const named = (name: string, extra: object = {}) => Object.assign(new Error(`injected ${name}`), { name, ...extra });

const entries = (count: number) =>
  Array.from({ length: count }, (_, i) => ({ data: Buffer.from(`{"n":${i}}`), partitionKey: `device-${i % 7}` }));

describe('event stream writer (PutRecords)', () => {
  it('retries only the entries PutRecords reports as failed, and answers every entry in order', async () => {
    const stream = await writer();
    failEntries = (request, entry) => request === 0 && (entry === 1 || entry === 3);
    const outcomes = await stream.put(entries(5));
    expect(requests).toEqual([5, 2]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
    ]);
    expect(new Set(outcomes.map((outcome) => outcome.status === 'accepted' && outcome.sequenceNumber)).size).toBe(5);
  });

  it('answers an entry as failed, with the stream error, once its attempts are used up', async () => {
    const stream = await writer(3);
    failEntries = (_request, entry) => entry === 0;
    const outcomes = await stream.put(entries(2));
    expect(requests).toEqual([2, 1, 1]);
    expect(outcomes[0]).toEqual({
      status: 'failed',
      error: 'ProvisionedThroughputExceededException: Rate exceeded for shard',
    });
    expect(outcomes[1].status).toBe('accepted');
  });

  it('splits a batch over the 500-entry limit of PutRecords into requests, in order', async () => {
    const stream = await writer();
    const outcomes = await stream.put(entries(PUT_RECORDS_MAX_ENTRIES + 1));
    expect(requests).toEqual([500, 1]);
    expect(outcomes.every((outcome) => outcome.status === 'accepted')).toBe(true);
  });

  // The byte limit is the chunking's alone: proving it needs no 6 MB of traffic to the emulator.
  it('groups entries into requests within 500 entries and 5 MiB, data and partition keys counted', () => {
    const sized = (bytes: number, partitionKey = 'p') => ({ data: Buffer.alloc(bytes, 97), partitionKey });
    const mib = 1_048_576;
    expect(putRecordsChunks(Array.from({ length: 6 }, () => sized(1_000_000)))).toEqual([[0, 1, 2, 3, 4], [5]]);
    // Exactly 5 MiB fits in one request; one byte of partition key more does not.
    expect(putRecordsChunks([sized(PUT_RECORDS_MAX_BYTES - 1)])).toEqual([[0]]);
    expect(putRecordsChunks([sized(4 * mib - 1), sized(mib - 1)])).toEqual([[0, 1]]);
    expect(putRecordsChunks([sized(4 * mib - 1), sized(mib - 1, 'pp')])).toEqual([[0], [1]]);
    expect(putRecordsChunks(Array.from({ length: 1001 }, () => sized(1))).map((chunk) => chunk.length)).toEqual([
      500, 500, 1,
    ]);
    expect(putRecordsChunks([])).toEqual([]);
  });

  it('never resends a request whose answer was lost: its entries are unknown, and the stream has them once', async () => {
    const stream = await writer();
    failRequest = (request) => (request === 0 ? { error: named('TimeoutError'), applied: true } : undefined);
    const outcomes = await stream.put(entries(3));
    expect(requests).toEqual([3]);
    expect(outcomes).toEqual(
      Array.from({ length: 3 }, () => ({ status: 'unknown', error: 'TimeoutError: injected TimeoutError' })),
    );
    const onStream = await Promise.all([SHARD_0, SHARD_1].map((shardId) => readShard(kinesis, currentStream, shardId)));
    expect(onStream.flat()).toHaveLength(3);
  });

  it.each([
    ['a connection reset', named('Error', { code: 'ECONNRESET' })],
    ['a 5xx', named('InternalFailure', { $metadata: { httpStatusCode: 500 } })],
  ])('answers unknown after %s, without resending', async (_, error) => {
    const stream = await writer();
    failRequest = () => ({ error, applied: false });
    const outcomes = await stream.put(entries(2));
    expect(requests).toEqual([2]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['unknown', 'unknown']);
  });

  it('resends a request the service refused whole (throttled, or no connection), then answers per entry', async () => {
    const stream = await writer();
    failRequest = (request) =>
      request === 0
        ? { error: named('LimitExceededException'), applied: false }
        : request === 1
          ? { error: named('Error', { code: 'ECONNREFUSED' }), applied: false }
          : undefined;
    const outcomes = await stream.put(entries(2));
    expect(requests).toEqual([2, 2, 2]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['accepted', 'accepted']);
  });

  it('answers failed when the stream refuses the request for good (no such stream), without resending', async () => {
    const stream = await writer();
    failRequest = () => ({
      error: named('ResourceNotFoundException', { $metadata: { httpStatusCode: 400 } }),
      applied: false,
    });
    const outcomes = await stream.put(entries(1));
    expect(requests).toEqual([1]);
    expect(outcomes).toEqual([
      { status: 'failed', error: 'ResourceNotFoundException: injected ResourceNotFoundException' },
    ]);
  });
});
