import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import type { AttributeValue } from '../../functions/core/aggregate-attributes';
import { batchVersionId, type BatchManifest } from '../../functions/core/manifest';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { ensureTable } from '../../local/provision';
import { ACCESS_DENIED, DynamoDbWriteFaults, THROTTLED } from '../batch/dynamodb-write-faults';
import { scanKeys } from '../batch/batch-views';

let emulator: RunningEmulator;
let tableCounter = 0;

beforeAll(async () => {
  emulator = await startDynamoDb();
});
afterAll(() => emulator.stop());

/** Fresh tables, a client whose faults the test chooses, and a store whose backoff does not wait. */
async function setUp(options: { concurrency?: number; maxAttempts?: number } = {}) {
  tableCounter += 1;
  const client = new DynamoDBClient({ ...emulatorClientConfig(emulator.endpoint), maxAttempts: 1 });
  const batchTable = `batch-${tableCounter}`;
  const manifestTable = `manifest-${tableCounter}`;
  await ensureTable(client, batchTable);
  await ensureTable(client, manifestTable);
  const faults = new DynamoDbWriteFaults().attachTo(client);
  const sleeps: number[] = [];
  const store = new BatchViewStore({
    client,
    batchTable,
    manifestTable,
    concurrency: options.concurrency,
    retry: { sleep: async (ms) => void sleeps.push(ms), maxAttempts: options.maxAttempts },
  });
  return { client, batchTable, manifestTable, faults, sleeps, store };
}

const keyOf = (index: number, view = 'v') => ({
  pk: `${view}#version#key-${index}`,
  sk: String(index).padStart(16, '0'),
});
const items = (count: number): Record<string, AttributeValue>[] =>
  Array.from({ length: count }, (_, index) => ({
    pk: { S: keyOf(index).pk },
    sk: { S: keyOf(index).sk },
    count: { N: '1' },
  }));

const manifest = (cutoff: number, startedAt: number): BatchManifest => ({
  view: 'v',
  version: batchVersionId(cutoff, startedAt),
  cutoff,
  rowCount: 3,
  computedAt: new Date(startedAt).toISOString(),
});

describe('batch view store (dynalite)', () => {
  it('writes every item with BatchWriteItem, 25 per request, with at most `concurrency` requests in flight', async () => {
    const { client, batchTable, store } = await setUp({ concurrency: 3 });
    let inFlight = 0;
    let mostInFlight = 0;
    client.middlewareStack.add(
      (next) => async (args) => {
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          return await next(args);
        } finally {
          inFlight -= 1;
        }
      },
      { step: 'initialize' },
    );
    await store.writeItems(items(260));
    expect((await scanKeys(client, batchTable)).length).toBe(260);
    expect(mostInFlight).toBe(3);
  });

  it('retries UnprocessedItems with backoff until every item is written', async () => {
    const { client, batchTable, faults, sleeps, store } = await setUp({ concurrency: 1 });
    // The first three answers each leave 10 items unprocessed; the retries carry only those.
    faults.failWhen((request) =>
      request.command === 'BatchWriteItemCommand' && request.index <= 3 ? { unprocessed: 10 } : undefined,
    );
    await store.writeItems(items(30));
    expect(faults.requests.map((request) => request.partitionKeys.length)).toEqual([25, 10, 10, 10, 5]);
    expect(sleeps).toHaveLength(3);
    expect((await scanKeys(client, batchTable)).sort()).toEqual(
      items(30)
        .map((_, index) => `${keyOf(index).pk}|${keyOf(index).sk}`)
        .sort(),
    );
  });

  it('gives up after the retry bound when items stay unprocessed, naming how many, without setting any aside', async () => {
    const { faults, store } = await setUp({ concurrency: 1, maxAttempts: 4 });
    faults.failWhen((request) => (request.command === 'BatchWriteItemCommand' ? { unprocessed: 2 } : undefined));
    await expect(store.writeItems(items(5))).rejects.toThrow(
      'BatchWriteItem left 2 of 5 items unprocessed after 4 attempts',
    );
    expect(faults.count('BatchWriteItemCommand')).toBe(4);
  });

  it('retries a throttled request, but starts no new request after one fails for good, and tries no item alone when the error is about the caller', async () => {
    const { faults, store } = await setUp({ concurrency: 1 });
    faults.failWhen((request) => (request.index === 1 ? THROTTLED : request.index === 3 ? ACCESS_DENIED : undefined));
    await expect(store.writeItems(items(100))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // 1 throttled and retried (2), the second chunk (3) denied: chunks three and four are never sent.
    expect(faults.count('BatchWriteItemCommand')).toBe(3);
  });

  it("sets aside each item DynamoDB refuses for what it holds, with DynamoDB's error, and writes every other item", async () => {
    const { client, batchTable, faults, store } = await setUp({ concurrency: 1 });
    const written = items(60);
    // A partition key over DynamoDB's 2,048 bytes, and a number beyond its range: each makes DynamoDB refuse the
    // whole request it is in.
    written[30] = { ...written[30], pk: { S: `v#version#${'x'.repeat(2_100)}` } };
    written[45] = { ...written[45], count: { N: '1e200' } };
    const result = await store.writeItems(written);
    expect(result.refused).toEqual([
      { index: 30, reason: expect.stringMatching(/^ValidationException: .*Size of hashkey has exceeded/) },
      { index: 45, reason: expect.stringMatching(/^ValidationException: Number overflow/) },
    ]);
    expect((await scanKeys(client, batchTable)).sort()).toEqual(
      Array.from({ length: 60 }, (_, index) => index)
        .filter((index) => index !== 30 && index !== 45)
        .map((index) => `${keyOf(index).pk}|${keyOf(index).sk}`)
        .sort(),
    );
    // The refused request of 25 is written again one item at a time; the requests beside it are untouched.
    const writes = faults.requests.filter((request) => request.command === 'BatchWriteItemCommand');
    expect(writes.map((request) => request.partitionKeys.length)).toEqual([25, 25, ...Array(25).fill(1), 10]);
  });

  it('fails the write, setting nothing aside, when the table refuses every item: that is the table, not the rows', async () => {
    const { faults, store } = await setUp({ concurrency: 1 });
    faults.failWhen(() => ({ error: { statusCode: 400, type: 'ValidationException' } }));
    await expect(store.writeItems(items(30))).rejects.toThrow(
      /^the table refused every one of 30 items, the first with ValidationException/,
    );
  });

  it('flips to a newer version, and reports an older one as superseded without touching the manifest', async () => {
    const { store } = await setUp();
    const newer = manifest(2_000_000, 2_100_000);
    const older = manifest(1_000_000, 2_200_000);
    expect(await store.flip(newer)).toEqual({ outcome: 'flipped', servedVersion: newer.version });
    expect(await store.flip(older)).toEqual({ outcome: 'superseded', servedVersion: newer.version });
    expect(await store.servedManifest('v')).toEqual(newer);
  });

  it('a flip retried after its first attempt was applied reports flipped, not superseded', async () => {
    const { store } = await setUp();
    const version = manifest(2_000_000, 2_100_000);
    await store.flip(version);
    expect(await store.flip(version)).toEqual({ outcome: 'flipped', servedVersion: version.version });
  });

  it('retries a throttled flip', async () => {
    const { faults, store } = await setUp();
    faults.failWhen((request) =>
      request.command === 'UpdateItemCommand' && request.index === 1 ? THROTTLED : undefined,
    );
    const version = manifest(2_000_000, 2_100_000);
    expect(await store.flip(version)).toEqual({ outcome: 'flipped', servedVersion: version.version });
    expect(faults.count('UpdateItemCommand')).toBe(2);
  });
});
