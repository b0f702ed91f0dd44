import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import type { AttributeValue } from '../../functions/core/aggregate-attributes';
import {
  beginRebuildRequest,
  beginWindowRequest,
  expiredRequest,
  finishWindowRequest,
  flipRebuildRequest,
  manifestKey,
  MANIFEST_KINDS,
  nextWindow,
  rebuildComputedRequest,
  rebuildId,
  rebuildProgressRequest,
  servedManifest,
  type BatchViewState,
} from '../../functions/core/manifest';
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
  pk: `${view}#w#key-${index}`,
  sk: String(index).padStart(16, '0'),
});
const items = (count: number): Record<string, AttributeValue>[] =>
  Array.from({ length: count }, (_, index) => ({
    pk: { S: keyOf(index).pk },
    sk: { S: keyOf(index).sk },
    count: { N: '1' },
  }));

const HOUR_MS = 3_600_000;
const C1 = Date.UTC(2026, 10, 24);
const C2 = C1 + HOUR_MS;
const C3 = C2 + HOUR_MS;
const AT = C3 + 10 * HOUR_MS;
const iso = (ms: number) => new Date(ms).toISOString();

/** What a view with nothing served and nothing running looks like. */
const EMPTY: BatchViewState = {
  view: 'v',
  cutoff: null,
  base: null,
  computedAt: null,
  windows: 0,
  pending: null,
  rebuild: null,
  expiring: null,
};

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
    written[30] = { ...written[30], pk: { S: `v#w#${'x'.repeat(2_100)}` } };
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
});

describe('batch manifest conditional writes (dynalite)', () => {
  it('records a window as pending only from the served cutoff and while none is pending, and flips only the pending window', async () => {
    const { store } = await setUp();
    expect(await store.state('v')).toEqual(EMPTY);
    // A view's first window starts at 0.
    expect(await store.updateManifest(beginWindowRequest('v', { from: C1, to: C2, startedAt: AT }))).toBe(false);
    expect(await store.updateManifest(beginWindowRequest('v', { from: 0, to: C1, startedAt: AT }))).toBe(true);
    expect(await store.state('v')).toEqual({ ...EMPTY, pending: { from: 0, to: C1, startedAt: AT } });
    // Another run cannot record a window, not even the same one, while it is pending.
    expect(await store.updateManifest(beginWindowRequest('v', { from: 0, to: C1, startedAt: AT + 1 }))).toBe(false);
    expect(await store.updateManifest(beginWindowRequest('v', { from: 0, to: C2, startedAt: AT + 1 }))).toBe(false);
    // Only the pending window flips.
    expect(await store.updateManifest(finishWindowRequest('v', { from: 0, to: C2 }, iso(AT)))).toBe(false);
    expect(await store.state('v')).toEqual({ ...EMPTY, pending: { from: 0, to: C1, startedAt: AT } });
    expect(await store.updateManifest(finishWindowRequest('v', { from: 0, to: C1 }, iso(AT)))).toBe(true);
    const served = { ...EMPTY, cutoff: C1, computedAt: iso(AT), windows: 1 };
    expect(await store.state('v')).toEqual(served);
    // A flip retried after it was applied, or a second run's flip of the same window, changes nothing.
    expect(await store.updateManifest(finishWindowRequest('v', { from: 0, to: C1 }, iso(AT + 1)))).toBe(false);
    expect(await store.state('v')).toEqual(served);

    // From now on a window starts at the served cutoff, and nowhere else.
    for (const from of [0, C1 - 1, C1 + 1]) {
      expect(await store.updateManifest(beginWindowRequest('v', { from, to: C2, startedAt: AT }))).toBe(false);
    }
    expect(await store.updateManifest(beginWindowRequest('v', { from: C1, to: C2, startedAt: AT + 5 }))).toBe(true);
    expect(nextWindow(await store.state('v'), C3, HOUR_MS)).toEqual({ from: C1, to: C2 });
    expect(await store.updateManifest(finishWindowRequest('v', { from: C1, to: C2 }, iso(AT + 6)))).toBe(true);
    expect(await store.state('v')).toEqual({ ...EMPTY, cutoff: C2, computedAt: iso(AT + 6), windows: 2 });
    expect(servedManifest(await store.state('v'))).toEqual({
      view: 'v',
      version: expect.any(String),
      cutoff: C2,
      base: null,
      computedAt: iso(AT + 6),
    });
    // Views are independent.
    expect(await store.state('w')).toEqual({ ...EMPTY, view: 'w' });
  });

  it('of concurrent runs recording windows, exactly one succeeds, and of concurrent flips of it, exactly one', async () => {
    const { store } = await setUp();
    await store.updateManifest(beginWindowRequest('v', { from: 0, to: C1, startedAt: AT }));
    await store.updateManifest(finishWindowRequest('v', { from: 0, to: C1 }, iso(AT)));
    const windows = [C2, C3, C2, C3 + HOUR_MS, C2].map((to, index) => ({ from: C1, to, startedAt: AT + index }));
    const begun = await Promise.all(windows.map((window) => store.updateManifest(beginWindowRequest('v', window))));
    expect(begun.filter(Boolean)).toHaveLength(1);
    const winner = windows[begun.indexOf(true)];
    expect((await store.state('v')).pending).toEqual(winner);
    const flips = await Promise.all(
      [1, 2, 3].map((index) => store.updateManifest(finishWindowRequest('v', winner, iso(AT + index)))),
    );
    expect(flips.filter(Boolean)).toHaveLength(1);
    expect(await store.state('v')).toMatchObject({ cutoff: winner.to, windows: 2, pending: null });
  });

  it('keeps a rebuild in progress beside the windows: begin, progress, flip to a new base, and the expiry of what it superseded', async () => {
    const { store } = await setUp();
    await store.updateManifest(beginWindowRequest('v', { from: 0, to: C1, startedAt: AT }));
    await store.updateManifest(finishWindowRequest('v', { from: 0, to: C1 }, iso(AT)));
    const first = { id: rebuildId(C1, AT), cutoff: C1, startedAt: AT };
    // A rebuild of a served view starts at its served cutoff, and one at a time.
    expect(await store.updateManifest(beginRebuildRequest('v', { ...first, cutoff: C2 }, C2))).toBe(false);
    expect(await store.updateManifest(beginRebuildRequest('v', first, C1))).toBe(true);
    expect(await store.updateManifest(beginRebuildRequest('v', { ...first, id: 'other' }, C1))).toBe(false);
    const progress = {
      id: first.id,
      cutoff: C1,
      startedAt: AT,
      result: null,
      filesDone: 0,
      linesDone: 0,
      rowsWritten: 0,
    };
    expect((await store.state('v')).rebuild).toEqual(progress);
    // Windows go on meanwhile: they continue from the base's cutoff.
    expect(await store.updateManifest(beginWindowRequest('v', { from: C1, to: C2, startedAt: AT }))).toBe(true);
    expect(await store.updateManifest(finishWindowRequest('v', { from: C1, to: C2 }, iso(AT)))).toBe(true);

    const result = { prefix: 'rebuilds/v/r1/', files: 2, bytesScanned: 1234 };
    expect(await store.updateManifest(rebuildComputedRequest('v', 'other', result))).toBe(false);
    expect(await store.updateManifest(rebuildComputedRequest('v', first.id, result))).toBe(true);
    // The result is recorded once: a second computation of it does not replace it.
    expect(await store.updateManifest(rebuildComputedRequest('v', first.id, { ...result, files: 3 }))).toBe(false);
    const step = { filesDone: 1, linesDone: 10, rowsWritten: 500 };
    expect(await store.updateManifest(rebuildProgressRequest('v', 'other', step))).toBe(false);
    expect(await store.updateManifest(rebuildProgressRequest('v', first.id, step))).toBe(true);
    expect((await store.state('v')).rebuild).toEqual({ ...progress, result, ...step });
    // The flip waits for every file.
    const rebuilt = { id: first.id, cutoff: C1, rowsWritten: 900 };
    expect(
      await store.updateManifest(flipRebuildRequest('v', rebuilt, 2, { served: C2, baseId: null }, iso(AT + 1))),
    ).toBe(false);
    const done = { filesDone: 2, linesDone: 0, rowsWritten: 900 };
    expect(await store.updateManifest(rebuildProgressRequest('v', first.id, done))).toBe(true);
    expect(
      await store.updateManifest(
        flipRebuildRequest('v', { ...rebuilt, id: 'other' }, 2, { served: C2, baseId: null }, iso(AT)),
      ),
    ).toBe(false);
    expect(
      await store.updateManifest(flipRebuildRequest('v', rebuilt, 2, { served: C2, baseId: null }, iso(AT + 1))),
    ).toBe(true);
    // The served cutoff and the windows stay; the base is new, and what it superseded is named for expiry.
    const afterFlip = {
      ...EMPTY,
      cutoff: C2,
      computedAt: iso(AT),
      windows: 2,
      base: { id: first.id, cutoff: C1, rows: 900 },
      expiring: { below: C1, baseId: null },
    };
    expect(await store.state('v')).toEqual(afterFlip);
    expect(servedManifest(afterFlip)).toMatchObject({ cutoff: C2, base: { id: first.id, cutoff: C1 } });
    expect(
      await store.updateManifest(flipRebuildRequest('v', rebuilt, 2, { served: C2, baseId: null }, iso(AT + 1))),
    ).toBe(false);

    // Only the expiry that is recorded is cleared.
    expect(await store.updateManifest(expiredRequest('v', C2))).toBe(false);
    expect(await store.updateManifest(expiredRequest('v', C1))).toBe(true);
    expect((await store.state('v')).expiring).toBeNull();
    expect(await store.updateManifest(expiredRequest('v', C1))).toBe(false);

    // A second rebuild supersedes the first base.
    const second = { id: rebuildId(C2, AT + 2), cutoff: C2, startedAt: AT + 2 };
    expect(await store.updateManifest(beginRebuildRequest('v', second, C2))).toBe(true);
    await store.updateManifest(rebuildComputedRequest('v', second.id, { ...result, files: 1 }));
    await store.updateManifest(rebuildProgressRequest('v', second.id, { filesDone: 1, linesDone: 0, rowsWritten: 7 }));
    expect(
      await store.updateManifest(
        flipRebuildRequest(
          'v',
          { id: second.id, cutoff: C2, rowsWritten: 7 },
          1,
          { served: C2, baseId: first.id },
          iso(AT + 3),
        ),
      ),
    ).toBe(true);
    expect(await store.state('v')).toMatchObject({
      cutoff: C2,
      base: { id: second.id, cutoff: C2, rows: 7 },
      rebuild: null,
      expiring: { below: C2, baseId: first.id },
    });
  });

  it("lays a view's first base: it takes a pending first window over, no window starts meanwhile, and the flip serves the base's cutoff", async () => {
    const { store } = await setUp();
    // A first window still pending is taken over: the base will serve what it would have (its run finds it gone).
    await store.updateManifest(beginWindowRequest('p', { from: 0, to: C1, startedAt: AT }));
    const takeover = { id: rebuildId(C1, AT), cutoff: C1, startedAt: AT };
    expect(await store.updateManifest(beginRebuildRequest('p', takeover, null))).toBe(true);
    expect(await store.state('p')).toMatchObject({ cutoff: null, pending: null, rebuild: { id: takeover.id } });
    expect(await store.updateManifest(finishWindowRequest('p', { from: 0, to: C1 }, iso(AT)))).toBe(false);
    // Not once a window is served: then a rebuild starts at the served cutoff.
    await store.updateManifest(beginWindowRequest('s', { from: 0, to: C1, startedAt: AT }));
    await store.updateManifest(finishWindowRequest('s', { from: 0, to: C1 }, iso(AT)));
    expect(await store.updateManifest(beginRebuildRequest('s', { ...takeover, cutoff: C2 }, null))).toBe(false);

    const rebuild = { id: rebuildId(C2, AT), cutoff: C2, startedAt: AT };
    expect(await store.updateManifest(beginRebuildRequest('v', rebuild, null))).toBe(true);
    expect(await store.updateManifest(beginWindowRequest('v', { from: 0, to: C1, startedAt: AT }))).toBe(false);
    expect(nextWindow(await store.state('v'), C3, HOUR_MS)).toBeNull();
    await store.updateManifest(rebuildComputedRequest('v', rebuild.id, { prefix: 'p/', files: 1, bytesScanned: 1 }));
    await store.updateManifest(rebuildProgressRequest('v', rebuild.id, { filesDone: 1, linesDone: 0, rowsWritten: 3 }));
    expect(
      await store.updateManifest(
        flipRebuildRequest(
          'v',
          { id: rebuild.id, cutoff: C2, rowsWritten: 3 },
          1,
          { served: null, baseId: null },
          iso(AT + 1),
        ),
      ),
    ).toBe(true);
    expect(await store.state('v')).toEqual({
      ...EMPTY,
      cutoff: C2,
      computedAt: iso(AT + 1),
      base: { id: rebuild.id, cutoff: C2, rows: 3 },
      expiring: { below: C2, baseId: null },
    });
    // Windows continue from the base.
    expect(nextWindow(await store.state('v'), C3, HOUR_MS)).toEqual({ from: C2, to: C3 });
    expect(await store.updateManifest(beginWindowRequest('v', { from: C2, to: C3, startedAt: AT }))).toBe(true);
  });

  it("reads a manifest item of a release before arrival windows as nothing served, and its view's first window replaces it", async () => {
    const { client, manifestTable, store } = await setUp();
    await client.send(
      new PutItemCommand({
        TableName: manifestTable,
        Item: {
          ...manifestKey('v', MANIFEST_KINDS.batch),
          version: { S: 'v0000000000000001-0000000000000002' },
          cutoff: { N: String(C1) },
          rowCount: { N: '3' },
          computedAt: { S: iso(AT) },
        },
      }),
    );
    const legacy = await store.state('v');
    expect(legacy).toMatchObject({ cutoff: null, base: null, windows: 0, pending: null, rebuild: null });
    expect(servedManifest(legacy)).toBeNull();
    expect(nextWindow(legacy, C2, HOUR_MS)).toEqual({ from: 0, to: C2 });
    expect(await store.updateManifest(beginWindowRequest('v', { from: 0, to: C2, startedAt: AT }))).toBe(true);
    expect(await store.updateManifest(finishWindowRequest('v', { from: 0, to: C2 }, iso(AT + 1)))).toBe(true);
    expect(await store.state('v')).toEqual({ ...EMPTY, cutoff: C2, computedAt: iso(AT + 1), windows: 1 });
    const { Item } = await client.send(
      new GetItemCommand({ TableName: manifestTable, Key: manifestKey('v', MANIFEST_KINDS.batch) }),
    );
    expect(Item).not.toHaveProperty('version');
    expect(Item).not.toHaveProperty('rowCount');
  });

  it('retries a throttled manifest write', async () => {
    const { faults, store } = await setUp();
    faults.failWhen((request) =>
      request.command === 'UpdateItemCommand' && request.index === 1 ? THROTTLED : undefined,
    );
    expect(await store.updateManifest(beginWindowRequest('v', { from: 0, to: C1, startedAt: AT }))).toBe(true);
    expect(faults.count('UpdateItemCommand')).toBe(2);
    expect((await store.state('v')).pending).toEqual({ from: 0, to: C1, startedAt: AT });
  });

  it('reports a write whose answer was lost and whose retry found it applied as not applied: the caller reads the state again', async () => {
    const { client, store } = await setUp();
    let lost = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'UpdateItemCommand' && lost === 0) {
          lost += 1;
          throw Object.assign(new Error('the answer was lost'), { name: 'InternalServerError', $metadata: {} });
        }
        return result;
      },
      { step: 'initialize', name: 'loseTheFirstAnswer' },
    );
    expect(await store.updateManifest(beginWindowRequest('v', { from: 0, to: C1, startedAt: AT }))).toBe(false);
    expect(lost).toBe(1);
    expect((await store.state('v')).pending).toEqual({ from: 0, to: C1, startedAt: AT });
  });

  it('fails a manifest write that is refused for good', async () => {
    const { faults, store } = await setUp();
    faults.failWhen((request) => (request.command === 'UpdateItemCommand' ? ACCESS_DENIED : undefined));
    await expect(
      store.updateManifest(beginWindowRequest('v', { from: 0, to: C1, startedAt: AT })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    faults.heal();
    expect(await store.state('v')).toEqual(EMPTY);
  });
});
