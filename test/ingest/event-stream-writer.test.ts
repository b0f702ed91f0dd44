import { KinesisClient } from '@aws-sdk/client-kinesis';
import { EventStreamWriter, PUT_RECORDS_MAX_ENTRIES } from '../../functions/adapters/event-stream-writer';
import { emulatorClientConfig, startKinesis, type KinesisEmulator } from '../../local/emulators';
import { ensureStream } from '../../local/provision';

let emulator: KinesisEmulator;
let kinesis: KinesisClient;
let streamCounter = 0;
/** PutRecords requests seen, and a plan to fail chosen entries of chosen requests as a throttled shard would. */
let requests: number[] = [];
let failEntries: (request: number, entry: number) => boolean = () => false;

beforeAll(async () => {
  emulator = await startKinesis();
  kinesis = new KinesisClient(emulatorClientConfig(emulator.endpoint));
  // Rewrites real PutRecords responses so that chosen entries come back failed, as when a shard is throttled.
  kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName !== 'PutRecordsCommand') return result;
      const request = requests.length;
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
  return new EventStreamWriter({ client: kinesis, streamName, retry: { maxAttempts, sleep: async () => undefined } });
}

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

  it('splits a batch over the 500-entry and 5 MiB limits of PutRecords', async () => {
    const stream = await writer();
    failEntries = () => false;
    await stream.put(entries(PUT_RECORDS_MAX_ENTRIES + 1));
    expect(requests).toEqual([500, 1]);
    requests = [];
    const big = Array.from({ length: 6 }, (_, i) => ({ data: Buffer.alloc(1_000_000, 97), partitionKey: `p${i}` }));
    await stream.put(big);
    expect(requests).toEqual([5, 1]);
  });
});
