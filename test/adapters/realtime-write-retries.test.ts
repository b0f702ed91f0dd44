import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RealtimeViewStore } from '../../functions/adapters/realtime-view-store';
import { backoffDelayMs, isRetryableError, retryPolicy, withRetries } from '../../functions/adapters/retry-policy';
import { measuresOf } from '../../functions/core/measures';
import { recordPosition } from '../../functions/core/sequence-position';
import { defineViews } from '../../functions/core/view-declaration';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { DynamoDbFaults, INTERNAL_ERROR, THROTTLED, type DynamoDbFault } from '../speed/dynamodb-faults';
import { createTable, scanTable } from '../speed/realtime-table';

const [view] = defineViews([{ name: 'v', dimensions: ['deviceId'], granularity: 'minute' }]);
const named = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, ...extra });

describe('which errors the realtime writes retry', () => {
  it.each([
    ['ProvisionedThroughputExceededException', named('ProvisionedThroughputExceededException')],
    ['ThrottlingException', named('ThrottlingException')],
    ['RequestLimitExceeded', named('RequestLimitExceeded')],
    ['an InternalServerError', named('InternalServerError')],
    ['any 5xx response', named('SomethingNew', { $metadata: { httpStatusCode: 503 } })],
    ['a reset connection', named('Error', { code: 'ECONNRESET' })],
    ['a timed-out attempt', named('AbortError')],
  ])('retries %s', (_, error) => {
    expect(isRetryableError(error)).toBe(true);
  });

  it.each([
    ['a failed condition', named('ConditionalCheckFailedException', { $metadata: { httpStatusCode: 400 } })],
    ['a validation error', named('ValidationException', { $metadata: { httpStatusCode: 400 } })],
    ['a permission error', named('AccessDeniedException', { $metadata: { httpStatusCode: 400 } })],
    ['a missing table', named('ResourceNotFoundException', { $metadata: { httpStatusCode: 400 } })],
    ['a value that is not an error', 'boom'],
  ])('does not retry %s', (_, error) => {
    expect(isRetryableError(error)).toBe(false);
  });
});

describe('backoff', () => {
  it('is full jitter under an exponential bound capped at maxDelayMs', () => {
    const policy = retryPolicy({ baseDelayMs: 50, maxDelayMs: 300, random: () => 0.999 });
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(policy, attempt))).toEqual([49, 99, 199, 299, 299]);
    expect(backoffDelayMs(retryPolicy({ random: () => 0 }), 3)).toBe(0);
  });

  it('gives up after maxAttempts, sleeping between attempts, and rethrows the last error', async () => {
    const sleeps: number[] = [];
    let attempts = 0;
    const policy = retryPolicy({ maxAttempts: 4, random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) });
    await expect(
      withRetries(policy, async () => {
        attempts += 1;
        throw named('ThrottlingException');
      }),
    ).rejects.toThrow('ThrottlingException');
    expect(attempts).toBe(4);
    expect(sleeps).toEqual([25, 50, 100]);
  });

  it('abandons an attempt that hangs past attemptTimeoutMs and retries it', async () => {
    let attempts = 0;
    const result = await withRetries(retryPolicy({ attemptTimeoutMs: 20, sleep: async () => undefined }), (signal) => {
      attempts += 1;
      if (attempts > 1) return Promise.resolve('answered');
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(named('AbortError'))));
    });
    expect(result).toBe('answered');
    expect(attempts).toBe(2);
  });

  it('rejects a policy without attempts', () => {
    expect(() => retryPolicy({ maxAttempts: 0 })).toThrow(/maxAttempts/);
  });
});

describe('realtime writes under throttling, against dynalite', () => {
  let dynamo: RunningEmulator;
  beforeAll(async () => {
    dynamo = await startDynamoDb();
  });
  afterAll(async () => {
    await dynamo.stop();
  });

  async function writeUnder(faultsByIndex: ReadonlyMap<number, DynamoDbFault>, maxAttempts: number) {
    const client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
    const faults = new DynamoDbFaults().attachTo(client);
    const tableName = `retries-${faultsByIndex.size}-${maxAttempts}`;
    await createTable(client, tableName);
    const store = new RealtimeViewStore({
      client,
      tableName,
      epochLengthMs: 900_000,
      realtimeRetentionMs: 172_800_000,
      retry: { maxAttempts, sleep: async () => undefined },
    });
    faults.failWhen(({ command, index }) => (command === 'UpdateItemCommand' ? faultsByIndex.get(index) : undefined));
    const result = await store.write({
      key: { view: 'v', dimensionKey: 'k', bucket: 0, epoch: 0 },
      stored: view.stored,
      shardId: 'shardId-000000000000',
      batchFirstPosition: recordPosition('1'),
      contributions: [{ position: recordPosition('1'), measures: measuresOf(view, { value: 2 }) }],
    });
    return { result, requests: faults.count('UpdateItemCommand'), items: await scanTable(client, tableName) };
  }

  it('a throttled and then failing write is retried until it succeeds, and applied once', async () => {
    const { result, requests, items } = await writeUnder(
      new Map([
        [1, THROTTLED],
        [2, INTERNAL_ERROR],
      ]),
      6,
    );
    expect(result).toEqual({ status: 'written', conditionalRetries: 0 });
    expect(requests).toBe(3);
    expect(items).toHaveLength(1);
    expect(items[0].count).toEqual({ N: '1' });
  });

  it('throttling that outlasts the retry budget fails the write after exactly maxAttempts requests', async () => {
    const always = new Map(Array.from({ length: 10 }, (_, index) => [index + 1, THROTTLED]));
    const { result, requests, items } = await writeUnder(always, 3);
    expect(result.status).toBe('failed');
    expect(requests).toBe(3);
    expect(items).toHaveLength(0);
  });
});
