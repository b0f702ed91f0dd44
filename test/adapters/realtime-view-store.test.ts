import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  deltaAbove,
  isRefusedItemError,
  RealtimeViewStore,
  type Contribution,
  type RealtimeViewStoreOptions,
} from '../../functions/adapters/realtime-view-store';
import { measureAttributes } from '../../functions/core/aggregate-attributes';
import type { AggregateKey } from '../../functions/core/fold';
import { decodeRegisters, encodeRegisters } from '../../functions/core/hyperloglog';
import { measuresOf, measuresWith, mergeAllMeasures, type Measures } from '../../functions/core/measures';
import {
  readRealtimeItem,
  realtimeExpiresAt,
  UnreadableRealtimeItemError,
  watermarkAttribute,
} from '../../functions/core/realtime-update';
import { recordPosition } from '../../functions/core/sequence-position';
import { realtimeItemKey } from '../../functions/core/storage-keys';
import { defineViews, type StoredMeasure } from '../../functions/core/view-declaration';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { ACCESS_DENIED, DynamoDbFaults } from '../speed/dynamodb-faults';
import { createTable } from '../speed/realtime-table';

const EPOCH_MS = 15 * 60_000;
const RETENTION_MS = 48 * 3_600_000;
const SHARD_A = 'shardId-000000000000';
const SHARD_B = 'shardId-000000000001';

let dynamo: RunningEmulator;
let tables = 0;

beforeAll(async () => {
  dynamo = await startDynamoDb();
});
afterAll(async () => {
  await dynamo.stop();
});

const position = (n: number) => recordPosition(String(49_680_507_356_827_391_140_529_022_913n + BigInt(n)), 0);
const [deviceView, countAndMax] = defineViews([
  { name: 'device_metric_minute', dimensions: ['deviceId', 'metric'], granularity: 'minute' },
  { name: 'count_and_max', dimensions: ['deviceId'], granularity: 'minute', measures: ['count', 'max'] },
]);
const contributions = (values: Record<number, number>): Contribution[] =>
  Object.entries(values).map(([n, value]) => ({
    position: position(Number(n)),
    measures: measuresOf(deviceView, { value }),
  }));
/** The default view's stored measures in the shape a delta has them. */
const legacy = (count: number, sum: number, min: number, max: number) =>
  measuresWith({ count, sum: { sum }, min: { min }, max: { max } });

let keys = 0;
function freshKey(): AggregateKey {
  keys += 1;
  return {
    view: 'device_metric_minute',
    dimensionKey: `device-${keys}|temperature`,
    bucket: 1_795_392_000_000,
    epoch: 1_795_392_900_000,
  };
}

async function setUp(options: Partial<RealtimeViewStoreOptions> = {}) {
  tables += 1;
  const client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  const faults = new DynamoDbFaults().attachTo(client);
  // The test reads through its own client, so that the counts are the store's requests alone.
  const reader = new DynamoDBClient(emulatorClientConfig(dynamo.endpoint));
  const tableName = `realtime-${tables}`;
  await createTable(client, tableName);
  const newStore = (generation?: number) =>
    new RealtimeViewStore({
      client,
      tableName,
      epochLengthMs: EPOCH_MS,
      realtimeRetentionMs: RETENTION_MS,
      retry: { sleep: async () => undefined },
      generation,
      ...options,
    });
  const read = async (key: AggregateKey, generation = 1) => {
    const { pk, sk } = realtimeItemKey(key, generation);
    const { Item } = await reader.send(
      new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
    );
    return Item;
  };
  const put = (key: AggregateKey, attributes: Record<string, { S: string } | { N: string }>) => {
    const { pk, sk } = realtimeItemKey(key, 1);
    return reader.send(
      new PutItemCommand({ TableName: tableName, Item: { pk: { S: pk }, sk: { S: sk }, ...attributes } }),
    );
  };
  return { client, faults, newStore, read, put };
}

const write = (
  key: AggregateKey,
  shardId: string,
  parts: Contribution[],
  stored: readonly StoredMeasure[] = deviceView.stored,
  batchFirstPosition = parts[0].position,
) => ({ key, shardId, stored, contributions: parts, batchFirstPosition });

describe('realtime view store against dynalite', () => {
  it("a first write stores the measures, the shard's watermark, bucket, epoch and TTL under the generation's key", async () => {
    const { newStore, read } = await setUp();
    const key = freshKey();
    const result = await newStore(3).write(write(key, SHARD_A, contributions({ 1: 4, 2: -1.5, 3: 10 })));
    expect(result).toEqual({ status: 'written', conditionalRetries: 0 });
    expect(await read(key, 1)).toBeUndefined();
    expect(await read(key, 3)).toEqual({
      ...Object.fromEntries(Object.entries(realtimeItemKey(key, 3)).map(([name, value]) => [name, { S: value }])),
      count: { N: '3' },
      sum: { N: '12.5' },
      min: { N: '-1.5' },
      max: { N: '10' },
      [watermarkAttribute(SHARD_A)]: { S: position(3) },
      bucket: { N: String(key.bucket) },
      epoch: { N: String(key.epoch) },
      expiresAt: { N: String(realtimeExpiresAt(key, EPOCH_MS, RETENTION_MS)) },
    });
  });

  it('the generation can also be chosen per write', async () => {
    const { newStore, read } = await setUp();
    const key = freshKey();
    await newStore().write({ ...write(key, SHARD_A, contributions({ 1: 1 })), generation: 2 });
    expect(await read(key, 2)).toMatchObject({ count: { N: '1' } });
    expect(await read(key, 1)).toBeUndefined();
  });

  it('a redelivered batch is found already applied and changes nothing', async () => {
    const { newStore, read, faults } = await setUp();
    const key = freshKey();
    const store = newStore();
    const batch = write(key, SHARD_A, contributions({ 1: 4, 2: 6 }));
    await store.write(batch);
    const before = await read(key);
    expect(await store.write(batch)).toEqual({ status: 'already-applied', conditionalRetries: 1 });
    expect(await read(key)).toEqual(before);
    expect(faults.count('UpdateItemCommand')).toBe(2);
    expect(faults.count('GetItemCommand')).toBe(1);
  });

  it('an overlapping redelivery adds only the records above the watermark, with a compare-and-set', async () => {
    const { newStore, read, faults } = await setUp();
    const key = freshKey();
    const store = newStore();
    await store.write(write(key, SHARD_A, contributions({ 1: 1, 2: 2 })));
    const result = await store.write(write(key, SHARD_A, contributions({ 2: 2, 3: 3, 4: 4 })));
    expect(result).toEqual({ status: 'written', conditionalRetries: 1 });
    expect(await read(key)).toMatchObject({
      count: { N: '4' },
      sum: { N: '10' },
      [watermarkAttribute(SHARD_A)]: { S: position(4) },
    });
    // The first write, the second's conditional attempt, then its compare-and-set after one read.
    expect(faults.count('UpdateItemCommand')).toBe(3);
    expect(faults.count('GetItemCommand')).toBe(1);
  });

  it('a batch with a new min and max replaces them after reading the item, when nothing predicted it', async () => {
    const { newStore, read } = await setUp();
    const key = freshKey();
    await newStore().write(write(key, SHARD_A, contributions({ 1: 5, 2: 10 })));
    // A new store: a cold container, which does not know the stored extremes.
    const result = await newStore().write(write(key, SHARD_A, contributions({ 3: 1, 4: 20, 5: 7 })));
    expect(result).toEqual({ status: 'written', conditionalRetries: 1 });
    expect(await read(key)).toMatchObject({ count: { N: '5' }, sum: { N: '43' }, min: { N: '1' }, max: { N: '20' } });
  });

  it('a warm store predicts new extremes: one write per item and batch, no reads', async () => {
    const { newStore, read, faults } = await setUp();
    const key = freshKey();
    const store = newStore();
    const values = [5, 3, 8, 1, 12, -4, 30, 2];
    for (const [index, value] of values.entries()) {
      expect(await store.write(write(key, SHARD_A, contributions({ [index + 1]: value })))).toEqual({
        status: 'written',
        conditionalRetries: 0,
      });
    }
    expect(faults.count('UpdateItemCommand')).toBe(values.length);
    expect(faults.count('GetItemCommand')).toBe(0);
    expect(await read(key)).toMatchObject({ count: { N: '8' }, min: { N: '-4' }, max: { N: '30' } });
  });

  it("two shards writing the same item concurrently commute: each shard's records count once", async () => {
    const { newStore, read } = await setUp();
    const key = freshKey();
    const [storeA, storeB] = [newStore(), newStore()];
    const batches = (shardId: string, offset: number) =>
      Array.from({ length: 12 }, (_, batch) =>
        write(
          key,
          shardId,
          contributions({ [batch * 2 + 1]: offset + batch * 3 - 20, [batch * 2 + 2]: offset - batch * 5 + 11 }),
        ),
      );
    const run = async (store: RealtimeViewStore, shardBatches: ReturnType<typeof batches>) => {
      for (const batch of shardBatches) {
        expect((await store.write(batch)).status).toBe('written');
        // Each batch also redelivered once, as a retry would.
        expect((await store.write(batch)).status).toBe('already-applied');
      }
    };
    const [a, b] = [batches(SHARD_A, 0), batches(SHARD_B, 1000)];
    await Promise.all([run(storeA, a), run(storeB, b)]);
    const values = [...a, ...b].flatMap((batch) => batch.contributions.map((part) => part.measures.sum.sum));
    expect(await read(key)).toMatchObject({
      count: { N: String(values.length) },
      sum: { N: String(values.reduce((x, y) => x + y, 0)) },
      min: { N: String(Math.min(...values)) },
      max: { N: String(Math.max(...values)) },
      [watermarkAttribute(SHARD_A)]: { S: position(24) },
      [watermarkAttribute(SHARD_B)]: { S: position(24) },
    });
  });

  it("a view's undeclared measures are not stored", async () => {
    const { newStore, read } = await setUp();
    const key = freshKey();
    await newStore().write(write(key, SHARD_A, contributions({ 1: 3 }), countAndMax.stored));
    const item = await read(key);
    expect(item).toMatchObject({ count: { N: '1' }, max: { N: '3' } });
    expect(item?.sum).toBeUndefined();
    expect(item?.min).toBeUndefined();
  });

  it('a non-retryable error is returned as a failed write after one request, never thrown', async () => {
    const { newStore, faults, read } = await setUp();
    const key = freshKey();
    faults.failWhen(({ command }) => (command === 'UpdateItemCommand' ? ACCESS_DENIED : undefined));
    const result = await newStore().write(write(key, SHARD_A, contributions({ 1: 3 })));
    expect(result.status).toBe('failed');
    expect(result.status === 'failed' && (result.error as Error).name).toBe('AccessDeniedException');
    expect(faults.count('UpdateItemCommand')).toBe(1);
    faults.heal();
    expect(await read(key)).toBeUndefined();
  });

  it('an item whose condition keeps failing is given up after the bounded compare-and-set attempts', async () => {
    const { newStore, faults } = await setUp({ maxConditionalAttempts: 3 });
    const key = freshKey();
    faults.failWhen(({ command }) =>
      command === 'UpdateItemCommand' ? { statusCode: 400, type: 'ConditionalCheckFailedException' } : undefined,
    );
    const result = await newStore().write(write(key, SHARD_A, contributions({ 1: 3 })));
    expect(result).toMatchObject({ status: 'failed', conditionalRetries: 3 });
    expect(faults.count('UpdateItemCommand')).toBe(4);
    expect(faults.count('GetItemCommand')).toBe(3);
  });
});

const [sketchView] = defineViews([
  {
    name: 'site_sketches',
    dimensions: ['site'],
    granularity: 'minute',
    measures: {
      events: 'count',
      devices: { distinct: 'deviceId' },
      values: { histogram: 'value', boundaries: [-100, -10, 0, 10, 100] },
      spread: { stddev: 'value' },
      lowest: { min: 'value' },
      highest: { max: 'value' },
    },
  },
]);
/** The attribute the devices' registers are stored in: it names their precision (view-declaration.ts). */
const DEVICES = (() => {
  const measure = sketchView.measures.find((candidate) => candidate.name === 'devices');
  if (measure === undefined) throw new Error('no measure devices');
  return measure.attribute;
})();
/** One record per position: a device and a value. Values are whole numbers, so every sum of squares is exact. */
const sketchContributions = (records: Record<number, [string, number]>): Contribution[] =>
  Object.entries(records).map(([n, [deviceId, value]]) => ({
    position: position(Number(n)),
    measures: measuresOf(sketchView, { deviceId, value }),
  }));
/** Many records in one contribution: enough distinct devices make the sketch dense. */
const manyDevices = (n: number, devices: number, prefix: string): Contribution => ({
  position: position(n),
  measures: mergeAllMeasures(
    Array.from({ length: devices }, (_, index) =>
      measuresOf(sketchView, { deviceId: `${prefix}-${index}`, value: (index % 400) - 200 }),
    ),
  ),
});
const sketchWrite = (key: AggregateKey, shardId: string, parts: Contribution[]) =>
  write(key, shardId, parts, sketchView.stored);
/** The item's measures as the serving layer decodes them. */
const decoded = (item: Awaited<ReturnType<Awaited<ReturnType<typeof setUp>>['read']>>): Measures =>
  readRealtimeItem(item, SHARD_A, sketchView.stored).measures;
/** The merge of the distinct records' contributions: what the item must hold, register for register. */
const mergedOf = (parts: readonly Contribution[]): Measures =>
  mergeAllMeasures([...new Map(parts.map((part) => [part.position, part.measures])).values()]);

describe('realtime view store with sketch measures, against dynalite', () => {
  it('two shards interleaving batches, redeliveries and overlapping batches on one item end with the merge of the distinct records', async () => {
    const { newStore, read } = await setUp();
    const key = freshKey();
    const shardRecords = (offset: number): Record<number, [string, number]> =>
      Object.fromEntries(
        Array.from({ length: 30 }, (_, index) => [
          index + 1,
          // Devices shared between the shards, so that their registers meet; values across every bin.
          [`device-${(index * 7 + offset) % 23}`, ((index * 37 + offset) % 301) - 150] as [string, number],
        ]),
      );
    const deliveries = (shardId: string, records: Record<number, [string, number]>) => {
      const all = sketchContributions(records);
      const batches: ReturnType<typeof sketchWrite>[] = [];
      for (let start = 0; start < all.length; start += 3) {
        const batch = sketchWrite(key, shardId, all.slice(start, start + 3));
        // Delivered, redelivered whole, then overlapping: the last record again with the next two.
        batches.push(batch, batch, sketchWrite(key, shardId, all.slice(start + 2, start + 5)));
      }
      return { all, batches };
    };
    const a = deliveries(SHARD_A, shardRecords(0));
    const b = deliveries(SHARD_B, shardRecords(11));
    // Two containers, one per shard, each sending its next delivery at the same time as the other: whichever lands
    // second finds the item moved under its hint (or its watermark past the batch), reads it and compares-and-sets.
    const [storeA, storeB] = [newStore(), newStore()];
    let retries = 0;
    for (const [index, batchA] of a.batches.entries()) {
      for (const result of await Promise.all([storeA.write(batchA), storeB.write(b.batches[index])])) {
        expect(result.status).not.toBe('failed');
        retries += result.conditionalRetries;
      }
    }
    expect(retries).toBeGreaterThanOrEqual(a.batches.length);

    const item = await read(key);
    // Contributions are per shard: the same position on the other shard is another record.
    const expected = mergeAllMeasures([mergedOf(a.all), mergedOf(b.all)]);
    expect(decoded(item)).toEqual(expected);
    expect(item?.[DEVICES]).toEqual({ S: encodeRegisters(expected.distinct[DEVICES]!, 12) });
    expect(item?.[watermarkAttribute(SHARD_A)]).toEqual({ S: position(30) });
    expect(item?.[watermarkAttribute(SHARD_B)]).toEqual({ S: position(30) });
  });

  it('a hint made stale by another shard costs one read and one compare-and-set, and the item stays exact', async () => {
    const { newStore, read, faults } = await setUp();
    const key = freshKey();
    const [storeA, storeB] = [newStore(), newStore()];
    const firstA = sketchContributions({ 1: ['d1', 5], 2: ['d2', -20] });
    const onB = sketchContributions({ 1: ['d3', 50], 2: ['d1', 7] });
    const secondA = sketchContributions({ 3: ['d4', 1] });
    await storeA.write(sketchWrite(key, SHARD_A, firstA));
    await storeB.write(sketchWrite(key, SHARD_B, onB));
    faults.resetCounts();

    expect(await storeA.write(sketchWrite(key, SHARD_A, secondA))).toEqual({
      status: 'written',
      conditionalRetries: 1,
    });
    expect(faults.count('UpdateItemCommand')).toBe(2);
    expect(faults.count('GetItemCommand')).toBe(1);
    expect(decoded(await read(key))).toEqual(mergeAllMeasures([mergedOf(firstA), mergedOf(onB), mergedOf(secondA)]));
  });

  it('in steady state a second batch on the same item from the same container needs no read, its sketches included', async () => {
    const { newStore, read, faults } = await setUp();
    const key = freshKey();
    const store = newStore();
    const parts = sketchContributions({
      1: ['d1', 5],
      2: ['d2', -3],
      3: ['d3', 500],
      4: ['d1', -400],
      5: ['d5', 0],
      6: ['d6', 99],
    });
    for (const part of parts) {
      expect(await store.write(sketchWrite(key, SHARD_A, [part]))).toEqual({
        status: 'written',
        conditionalRetries: 0,
      });
    }
    expect(faults.count('UpdateItemCommand')).toBe(parts.length);
    expect(faults.count('GetItemCommand')).toBe(0);
    expect(decoded(await read(key))).toEqual(mergedOf(parts));
  });

  it('an item with a dense sketch (past 1,024 registers at precision 12) round-trips, written cold and warm', async () => {
    const { newStore, read, faults } = await setUp();
    const key = freshKey();
    const first = manyDevices(1, 3_000, 'first');
    await newStore().write(sketchWrite(key, SHARD_A, [first]));
    const item = await read(key);
    const devices = item?.[DEVICES]?.S ?? '';
    expect(devices.startsWith('d')).toBe(true);
    expect(devices).toHaveLength(4_097);
    expect(decodeRegisters(devices, 12).size).toBeGreaterThan(1_024);
    expect(decoded(item)).toEqual(first.measures);

    // A cold container reads the dense item once; a warm one writes the next batch without a read.
    const store = newStore();
    const second = manyDevices(2, 500, 'second');
    const third = manyDevices(3, 500, 'third');
    faults.resetCounts();
    expect(await store.write(sketchWrite(key, SHARD_A, [second]))).toEqual({
      status: 'written',
      conditionalRetries: 1,
    });
    expect(await store.write(sketchWrite(key, SHARD_A, [third]))).toEqual({ status: 'written', conditionalRetries: 0 });
    expect(faults.count('GetItemCommand')).toBe(1);
    expect(decoded(await read(key))).toEqual(mergeAllMeasures([first.measures, second.measures, third.measures]));
  });

  it('a stored sketch that does not decode fails the write as a refused item, after one read, and changes nothing', async () => {
    const { newStore, read, put, faults } = await setUp();
    const key = freshKey();
    const corrupt = { ...measureAttributes(mergedOf(sketchContributions({ 1: ['d1', 5] })), sketchView.stored) };
    await put(key, { ...corrupt, [DEVICES]: { S: 'd-not-a-sketch' } });
    const before = await read(key);
    const result = await newStore().write(sketchWrite(key, SHARD_A, sketchContributions({ 1: ['d2', 6] })));
    expect(result).toMatchObject({ status: 'failed', conditionalRetries: 1 });
    const error = result.status === 'failed' ? result.error : undefined;
    expect(error).toBeInstanceOf(UnreadableRealtimeItemError);
    expect(isRefusedItemError(error)).toBe(true);
    expect(faults.count('GetItemCommand')).toBe(1);
    expect(await read(key)).toEqual(before);
  });

  it('a write that would take the item past 400 KB is refused by the table, and fails as a refused item', async () => {
    const { newStore, read, put } = await setUp();
    const key = freshKey();
    // Whatever else fills the item (watermarks of many shards, a long key): here one attribute of 396 KB.
    await put(key, { padding: { S: 'x'.repeat(396 * 1024) } });
    const result = await newStore().write(sketchWrite(key, SHARD_A, [manyDevices(1, 3_000, 'big')]));
    expect(result.status).toBe('failed');
    const error = result.status === 'failed' ? result.error : undefined;
    expect((error as Error).name).toBe('ValidationException');
    expect(isRefusedItemError(error)).toBe(true);
    expect((await read(key))?.[DEVICES]).toBeUndefined();
  });
});

describe('delta above a watermark', () => {
  const parts = contributions({ 1: 1, 2: 2, 3: 3 });

  it('with no watermark, is every contribution, up to the highest position', () => {
    expect(deltaAbove(parts, null)).toEqual({ measures: legacy(3, 6, 1, 3), watermark: position(3) });
  });

  it('keeps only the contributions strictly above the watermark, in any order', () => {
    expect(deltaAbove([...parts].reverse(), position(1))).toEqual({
      measures: legacy(2, 5, 2, 3),
      watermark: position(3),
    });
  });

  it('is undefined when the watermark covers every contribution', () => {
    expect(deltaAbove(parts, position(3))).toBeUndefined();
    expect(deltaAbove([], null)).toBeUndefined();
  });
});
