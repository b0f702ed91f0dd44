import {
  DynamoDBClient,
  GetItemCommand,
  type BatchGetItemCommandInput,
  type KeysAndAttributes,
} from '@aws-sdk/client-dynamodb';
import { KeyDirectoryStore } from '../../functions/adapters/key-directory-store';
import { encodeDimensionKey } from '../../functions/core/dimension-key';
import {
  directoryItemKey,
  directorySortKey,
  matchesDirectoryFilter,
  type DirectoryEntry,
  type DirectoryFilter,
  type KeySighting,
} from '../../functions/core/key-directory';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { DynamoDbFaults, THROTTLED } from '../speed/dynamodb-faults';
import { createTable } from '../speed/realtime-table';
import { seededRandom } from '../speed/generated-events';

let dynamo: RunningEmulator;
let client: DynamoDBClient;
let faults: DynamoDbFaults;
const tableName = 'key-directory';
const noWait = { sleep: async () => undefined };
const ARRIVAL = 1_795_000_000_000;

beforeAll(async () => {
  dynamo = await startDynamoDb();
  client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  faults = new DynamoDbFaults().attachTo(client);
  await createTable(client, tableName);
});
afterAll(async () => {
  client.destroy();
  await dynamo.stop();
});
afterEach(() => {
  faults.heal();
  faults.resetCounts();
});

const freshStore = () => new KeyDirectoryStore({ client, tableName, retry: noWait });
const sighting = (values: readonly string[], firstMs = ARRIVAL, lastMs = firstMs): KeySighting => ({
  dimensionKey: encodeDimensionKey(values),
  firstMs,
  lastMs,
});

async function itemOf(view: string, dimensionKey: string) {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: directoryItemKey(view, dimensionKey), ConsistentRead: true }),
  );
  return Item;
}

/** Every page of a listing, `limit` entries at a time, and how many pages it took. */
async function listAll(
  store: KeyDirectoryStore,
  view: { name: string; dimensions: string[] },
  filter: DirectoryFilter,
  limit: number,
): Promise<{ entries: DirectoryEntry[]; pages: number }> {
  const entries: DirectoryEntry[] = [];
  let after: string | undefined;
  for (let pages = 1; ; pages += 1) {
    const page = await store.listPage(view, filter, { limit, after });
    expect(page.entries.length).toBeLessThanOrEqual(limit);
    entries.push(...page.entries);
    if (page.lastSortKey === null) return { entries, pages };
    expect(page.entries.length).toBe(limit);
    after = page.lastSortKey;
  }
}

describe('key directory store: recording new keys (speed layer)', () => {
  it('writes each new key once, with its arrivals and its dimension values', async () => {
    const store = freshStore();
    const writes = await store.recordNewKeys('new-keys', [
      sighting(['dev-1', 'site-a'], ARRIVAL + 5),
      sighting(['dev-2', 'site|b'], ARRIVAL + 1),
      sighting(['dev-1', 'site-a'], ARRIVAL + 2),
    ]);
    expect(writes).toBe(2);
    expect(faults.count('PutItemCommand')).toBe(2);
    expect(await itemOf('new-keys', encodeDimensionKey(['dev-1', 'site-a']))).toEqual({
      pk: { S: 'new-keys' },
      sk: { S: 'dev-1|site-a' },
      key: { S: 'dev-1|site-a' },
      firstSeen: { N: String(ARRIVAL + 2) },
      lastSeen: { N: String(ARRIVAL + 5) },
      d0: { S: 'dev-1' },
      d1: { S: 'site-a' },
    });
    expect((await itemOf('new-keys', encodeDimensionKey(['dev-2', 'site|b'])))?.d1).toEqual({ S: 'site|b' });
  });

  it('a second call with the same keys makes no request at all: the container remembers them', async () => {
    const store = freshStore();
    const keys = [sighting(['again-1']), sighting(['again-2'])];
    expect(await store.recordNewKeys('again', keys)).toBe(2);
    faults.resetCounts();
    expect(await store.recordNewKeys('again', keys)).toBe(0);
    expect(faults.count('PutItemCommand')).toBe(0);
    expect(faults.count('BatchGetItemCommand')).toBe(0);
  });

  it('a new container with keys the directory holds reads them once and writes nothing', async () => {
    const keys = Array.from({ length: 30 }, (_, index) => sighting([`known-${index}`]));
    await freshStore().recordNewKeys('known', keys);
    faults.resetCounts();
    const store = freshStore();
    expect(await store.recordNewKeys('known', keys)).toBe(0);
    expect(faults.count('PutItemCommand')).toBe(0);
    expect(faults.count('BatchGetItemCommand')).toBe(1);
    expect(await store.recordNewKeys('known', keys)).toBe(0);
    expect(faults.count('BatchGetItemCommand')).toBe(1);
  });

  it('asks about at most 100 keys per BatchGetItem and writes only the missing ones', async () => {
    const keys = Array.from({ length: 250 }, (_, index) => sighting([`many-${index}`]));
    await freshStore().recordNewKeys(
      'many',
      keys.filter((_, index) => index % 2 === 0),
    );
    faults.resetCounts();
    expect(await freshStore().recordNewKeys('many', keys)).toBe(125);
    expect(faults.count('BatchGetItemCommand')).toBe(3);
    expect(faults.count('PutItemCommand')).toBe(125);
  });

  it('keys BatchGetItem leaves unprocessed are asked again, and a throttled request is retried', async () => {
    let split = 0;
    const splitting = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
    const counted = new DynamoDbFaults().attachTo(splitting);
    // The first two BatchGetItems send only half their keys and answer the rest unprocessed, as DynamoDB does
    // when a request runs into its limits.
    splitting.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchGetItemCommand' || split >= 2) return next(args);
        split += 1;
        const input = args.input as BatchGetItemCommandInput;
        const request: KeysAndAttributes = input.RequestItems?.[tableName] ?? { Keys: [] };
        const keys = request.Keys ?? [];
        const half = Math.ceil(keys.length / 2);
        const result = await next({
          ...args,
          input: { ...input, RequestItems: { [tableName]: { ...request, Keys: keys.slice(0, half) } } },
        });
        const output = result.output as { UnprocessedKeys?: Record<string, unknown> };
        output.UnprocessedKeys = { [tableName]: { ...request, Keys: keys.slice(half) } };
        return result;
      },
      { step: 'initialize', name: 'splitBatchGet' },
    );
    const keys = Array.from({ length: 40 }, (_, index) => sighting([`split-${index}`]));
    await freshStore().recordNewKeys('split', keys);
    counted.failWhen(({ command, index }) =>
      command === 'BatchGetItemCommand' && index === 1 ? THROTTLED : undefined,
    );
    const store = new KeyDirectoryStore({ client: splitting, tableName, retry: noWait });
    expect(await store.recordNewKeys('split', keys)).toBe(0);
    expect(counted.count('PutItemCommand')).toBe(0);
    expect(split).toBe(2);
    splitting.destroy();
  });

  it('two containers recording the same new key at once leave one item, and neither fails', async () => {
    const key = sighting(['raced'], ARRIVAL + 10);
    const results = await Promise.all([
      freshStore().recordNewKeys('race', [key]),
      freshStore().recordNewKeys('race', [{ ...key, firstMs: ARRIVAL + 20, lastMs: ARRIVAL + 20 }]),
    ]);
    expect(results.every((writes) => writes <= 1)).toBe(true);
    const item = await itemOf('race', key.dimensionKey);
    expect(item?.key).toEqual({ S: 'raced' });
  });

  it('a throttled put is retried; an error that is not retryable is thrown so the caller fails', async () => {
    faults.failWhen(({ command, index }) => (command === 'PutItemCommand' && index === 1 ? THROTTLED : undefined));
    expect(await freshStore().recordNewKeys('throttled', [sighting(['t-1'])])).toBe(1);
    expect((await itemOf('throttled', 't-1'))?.key).toEqual({ S: 't-1' });
    faults.failWhen(({ command }) =>
      command === 'PutItemCommand' ? { statusCode: 400, type: 'AccessDeniedException' } : undefined,
    );
    const store = freshStore();
    await expect(store.recordNewKeys('throttled', [sighting(['t-2'])])).rejects.toThrow(/AccessDenied/);
    faults.heal();
    // Nothing was remembered of the failed key: the next call writes it.
    expect(await store.recordNewKeys('throttled', [sighting(['t-2'])])).toBe(1);
  });
});

describe('key directory store: recording sightings (batch, rebuild, replay)', () => {
  const seenOf = async (view: string, dimensionKey: string) => {
    const item = await itemOf(view, dimensionKey);
    return { first: Number(item?.firstSeen?.N), last: Number(item?.lastSeen?.N) };
  };

  it('keeps the earliest first and the latest last arrival whatever order the sightings come in', async () => {
    const random = seededRandom(7);
    const spans = Array.from({ length: 8 }, () => {
      const first = ARRIVAL + Math.floor(random() * 1000);
      return { first, last: first + Math.floor(random() * 1000) };
    });
    const expected = {
      first: Math.min(...spans.map((span) => span.first)),
      last: Math.max(...spans.map((span) => span.last)),
    };
    for (let trial = 0; trial < 4; trial += 1) {
      const view = `order-${trial}`;
      const shuffled = [...spans].sort(() => random() - 0.5);
      const store = freshStore();
      for (const span of shuffled) {
        await store.recordSightings(view, [sighting(['dev', 'site'], span.first, span.last)]);
      }
      expect(await seenOf(view, 'dev|site')).toEqual(expected);
    }
    // Concurrent writers, each its own container, and every sighting sent twice (a retried window).
    await Promise.all(
      [...spans, ...spans].map((span) =>
        freshStore().recordSightings('concurrent', [sighting(['dev', 'site'], span.first, span.last)]),
      ),
    );
    expect(await seenOf('concurrent', 'dev|site')).toEqual(expected);
  });

  it('widens a key the speed layer recorded, and the speed layer never narrows what a batch recorded', async () => {
    await freshStore().recordNewKeys('both', [sighting(['k'], ARRIVAL + 50, ARRIVAL + 60)]);
    await freshStore().recordSightings('both', [sighting(['k'], ARRIVAL + 40, ARRIVAL + 100)]);
    expect(await seenOf('both', 'k')).toEqual({ first: ARRIVAL + 40, last: ARRIVAL + 100 });
    await freshStore().recordSightings('both', [sighting(['j'], ARRIVAL + 10, ARRIVAL + 20)]);
    expect(await freshStore().recordNewKeys('both', [sighting(['j'], ARRIVAL + 500)])).toBe(0);
    expect(await seenOf('both', 'j')).toEqual({ first: ARRIVAL + 10, last: ARRIVAL + 20 });
  });

  it('merges the sightings of one key in a call into one update, usually one write', async () => {
    const store = freshStore();
    const writes = await store.recordSightings('merged', [
      sighting(['m'], ARRIVAL + 5, ARRIVAL + 6),
      sighting(['m'], ARRIVAL + 1, ARRIVAL + 2),
      sighting(['n'], ARRIVAL + 3, ARRIVAL + 9),
    ]);
    expect(writes).toBe(2);
    expect(await seenOf('merged', 'm')).toEqual({ first: ARRIVAL + 1, last: ARRIVAL + 6 });
    // A later window of the same key moves its last arrival in one write.
    expect(await store.recordSightings('merged', [sighting(['m'], ARRIVAL + 7, ARRIVAL + 8)])).toBe(1);
    expect(await seenOf('merged', 'm')).toEqual({ first: ARRIVAL + 1, last: ARRIVAL + 8 });
  });
});

describe('key directory store: listing', () => {
  const view = { name: 'listing', dimensions: ['deviceId', 'site', 'metric'] };
  const devices = ['d-1', 'd-2', 'd-10', 'd 3', 'd|4', 'é-5'];
  const sites = ['s-a', 's-b', 's-a|b'];
  const metrics = ['temp', 'hum'];
  const all: KeySighting[] = [];
  const random = seededRandom(11);
  for (const device of devices) {
    for (const site of sites) {
      for (const metric of metrics) {
        if (random() < 0.7) all.push(sighting([device, site, metric], ARRIVAL + all.length, ARRIVAL + 2 * all.length));
      }
    }
  }
  const expectedOf = (filter: DirectoryFilter) =>
    all
      .filter((key) => matchesDirectoryFilter(key.dimensionKey, filter))
      .sort((a, b) => (directorySortKey(a.dimensionKey) < directorySortKey(b.dimensionKey) ? -1 : 1))
      .map((key) => ({ dimensionKey: key.dimensionKey, firstSeenMs: key.firstMs, lastSeenMs: key.lastMs }));

  beforeAll(async () => {
    await freshStore().recordSightings(view.name, all);
    await freshStore().recordNewKeys('listing-other', all.slice(0, 5));
  });

  it('lists every key of the view, and no other view\u2019s, in sort-key order, page by page', async () => {
    const store = freshStore();
    for (const limit of [1, 7, 1000]) {
      const { entries, pages } = await listAll(store, view, new Map(), limit);
      expect(entries).toEqual(expectedOf(new Map()));
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(all.length / limit));
    }
  });

  it('a filter on any dimensions lists exactly the keys an in-memory filter keeps, page by page', async () => {
    const store = freshStore();
    const filters: DirectoryFilter[] = [
      new Map([[0, ['d-1']]]),
      new Map([[0, ['d|4']]]),
      new Map([
        [0, ['d-1']],
        [1, ['s-a']],
      ]),
      new Map([
        [0, ['d-1']],
        [1, ['s-a']],
        [2, ['temp']],
      ]),
      new Map([[1, ['s-a|b']]]),
      new Map([[2, ['hum']]]),
      new Map([
        [0, ['d-2', 'é-5', 'nobody']],
        [2, ['temp']],
      ]),
      new Map([
        [0, ['d-10']],
        [2, ['hum', 'temp']],
      ]),
      new Map([[0, ['nobody']]]),
      new Map([[1, []]]),
    ];
    for (const filter of filters) {
      for (const limit of [2, 5, 100]) {
        const { entries } = await listAll(store, view, filter, limit);
        expect({ filter: [...filter], entries }).toEqual({ filter: [...filter], entries: expectedOf(filter) });
      }
    }
  });

  it('a whole key as the filter does not list longer keys that begin with it', async () => {
    const store = freshStore();
    const twoDimensions = { name: 'whole-key', dimensions: ['deviceId', 'site'] };
    await store.recordSightings(twoDimensions.name, [
      sighting(['a', 'b']),
      sighting(['a', 'bc']),
      sighting(['ab', 'b']),
    ]);
    const page = await store.listPage(
      twoDimensions,
      new Map([
        [0, ['a']],
        [1, ['b']],
      ]),
      { limit: 10 },
    );
    expect(page.entries.map((entry) => entry.dimensionKey)).toEqual(['a|b']);
    expect(page.lastSortKey).toBeNull();
  });

  it('a continuation from another filter\u2019s listing starts within this one\u2019s range', async () => {
    const store = freshStore();
    const filter: DirectoryFilter = new Map([[0, ['d-2']]]);
    const expected = expectedOf(filter);
    expect((await store.listPage(view, filter, { limit: 100, after: 'a' })).entries).toEqual(expected);
    expect(await store.listPage(view, filter, { limit: 100, after: 'z' })).toEqual({ entries: [], lastSortKey: null });
  });

  it('keys longer than a sort key may be are listed whole and distinct, and found by their prefix', async () => {
    const store = freshStore();
    const longView = { name: 'long-keys', dimensions: ['deviceId', 'site'] };
    const long = 'x'.repeat(1200);
    const keys = [
      sighting([long, 'site-1'], ARRIVAL + 1),
      sighting([long, 'site-2'], ARRIVAL + 2),
      sighting([`${long}y`, 'site-1'], ARRIVAL + 3),
      sighting(['short', 'site-1'], ARRIVAL + 4),
    ];
    expect(keys[0].dimensionKey.length).toBeGreaterThan(1000);
    expect(await store.recordNewKeys(longView.name, keys)).toBe(4);
    await store.recordSightings(longView.name, [sighting([long, 'site-2'], ARRIVAL, ARRIVAL + 9)]);
    const { entries } = await listAll(store, longView, new Map(), 1);
    expect(new Set(entries.map((entry) => entry.dimensionKey))).toEqual(new Set(keys.map((key) => key.dimensionKey)));
    expect(entries.find((entry) => entry.dimensionKey === keys[1].dimensionKey)).toEqual({
      dimensionKey: keys[1].dimensionKey,
      firstSeenMs: ARRIVAL,
      lastSeenMs: ARRIVAL + 9,
    });
    const bySite = await listAll(store, longView, new Map([[1, ['site-1']]]), 1);
    expect(bySite.entries.map((entry) => entry.dimensionKey).sort()).toEqual(
      [keys[0], keys[2], keys[3]].map((key) => key.dimensionKey).sort(),
    );
    const byDevice = await listAll(store, longView, new Map([[0, [long]]]), 1);
    expect(byDevice.entries.map((entry) => entry.dimensionKey).sort()).toEqual(
      [keys[0], keys[1]].map((key) => key.dimensionKey).sort(),
    );
    // A fresh container finds them all: nothing new to write.
    expect(await freshStore().recordNewKeys(longView.name, keys)).toBe(0);
  });
});
