import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import type { AggregateKey } from '../../functions/core/fold';
import { measuresOf, mergeAllMeasures, type Measures } from '../../functions/core/measures';
import {
  extremeUpdatesFor,
  readRealtimeItem,
  realtimeAggregateFromItem,
  realtimeExpiresAt,
  realtimeUpdateRequest,
  type RealtimeUpdate,
} from '../../functions/core/realtime-update';
import { recordPosition } from '../../functions/core/sequence-position';
import { realtimeItemKey } from '../../functions/core/storage-keys';
import { MEASURES } from '../../functions/core/view-declaration';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { ensureTable } from '../../local/provision';

const TABLE = 'realtime';
let emulator: RunningEmulator;
let dynamodb: DynamoDBClient;
let keyCounter = 0;

beforeAll(async () => {
  emulator = await startDynamoDb();
  dynamodb = new DynamoDBClient(emulatorClientConfig(emulator.endpoint));
  await ensureTable(dynamodb, TABLE);
});
afterAll(async () => {
  dynamodb.destroy();
  await emulator.stop();
});

const SHARD = 'shardId-000000000000';
const position = (sequence: number) => recordPosition(String(49_680_000_000 + sequence));
const deltaOf = (...values: number[]): Measures => mergeAllMeasures(values.map(measuresOf));

function freshKey(): AggregateKey {
  keyCounter += 1;
  return {
    view: 'v',
    dimensionKey: `device-${keyCounter}|temperature`,
    bucket: 1_795_483_800_000,
    epoch: 1_795_483_500_000,
  };
}

/** The first attempt for a batch, as the speed layer makes it: conditional on the batch's first position. */
function firstAttempt(
  key: AggregateKey,
  delta: Measures,
  first: number,
  last: number,
  shardId = SHARD,
): RealtimeUpdate {
  return {
    key,
    generation: 1,
    measures: MEASURES,
    delta,
    shardId,
    watermark: position(last),
    condition: { below: position(first) },
    min: 'keep',
    max: 'keep',
    expiresAt: realtimeExpiresAt(key, 900_000, 48 * 3_600_000),
  };
}

async function send(update: RealtimeUpdate): Promise<'applied' | 'condition-failed'> {
  try {
    await dynamodb.send(new UpdateItemCommand({ TableName: TABLE, ...realtimeUpdateRequest(update) }));
    return 'applied';
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return 'condition-failed';
    throw error;
  }
}

async function stored(key: AggregateKey): Promise<Record<string, AttributeValue> | undefined> {
  const { pk, sk } = realtimeItemKey(key, 1);
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
  );
  return Item;
}

describe('generated realtime UpdateItem, against DynamoDB (dynalite)', () => {
  it('creates the item on its first write with every measure, the watermark, the bucket, the epoch and the TTL', async () => {
    const key = freshKey();
    expect(await send(firstAttempt(key, deltaOf(3, -1.5, 7), 1, 3))).toBe('applied');
    const item = await stored(key);
    expect(realtimeAggregateFromItem(key.dimensionKey, item!)).toEqual({
      dimensionKey: key.dimensionKey,
      bucket: key.bucket,
      epoch: key.epoch,
      measures: { count: 3, sum: 8.5, min: -1.5, max: 7 },
    });
    expect(item?.[`wm_${SHARD}`]).toEqual({ S: position(3) });
    expect(item?.expiresAt).toEqual({ N: String(realtimeExpiresAt(key, 900_000, 48 * 3_600_000)) });
  });

  it('adds a later batch whose values lie inside the stored extremes in one write', async () => {
    const key = freshKey();
    await send(firstAttempt(key, deltaOf(0, 10), 1, 2));
    expect(await send(firstAttempt(key, deltaOf(5), 3, 3))).toBe('applied');
    expect(readRealtimeItem(await stored(key), SHARD).measures).toEqual({ count: 3, sum: 15, min: 0, max: 10 });
  });

  it('refuses a batch that overlaps what the watermark says is applied', async () => {
    const key = freshKey();
    await send(firstAttempt(key, deltaOf(1, 2), 1, 2));
    expect(await send(firstAttempt(key, deltaOf(2, 3), 2, 3))).toBe('condition-failed');
    expect(readRealtimeItem(await stored(key), SHARD).measures).toEqual({ count: 2, sum: 3, min: 1, max: 2 });
  });

  it('refuses an optimistic write whose delta would lower the min, and the compare-and-set after a read applies it exactly', async () => {
    const key = freshKey();
    await send(firstAttempt(key, deltaOf(5, 6), 1, 2));
    const delta = deltaOf(-4, 9);
    expect(await send(firstAttempt(key, delta, 3, 4))).toBe('condition-failed');

    const read = readRealtimeItem(await stored(key), SHARD);
    expect(read.watermark).toBe(position(2));
    const extremes = extremeUpdatesFor(read, delta);
    expect(extremes).toEqual({ min: 'replace', max: 'replace' });
    const retry = { ...firstAttempt(key, delta, 3, 4), condition: { equals: read.watermark }, ...extremes };
    expect(await send(retry)).toBe('applied');
    expect(readRealtimeItem(await stored(key), SHARD).measures).toEqual({ count: 4, sum: 16, min: -4, max: 9 });
    // The same compare-and-set again finds the watermark moved on, so it cannot be applied twice.
    expect(await send(retry)).toBe('condition-failed');
  });

  it('lets another shard add to the same item, each shard keeping its own watermark', async () => {
    const key = freshKey();
    const other = 'shardId-000000000001';
    await send(firstAttempt(key, deltaOf(0, 10), 4, 5));
    expect(await send(firstAttempt(key, deltaOf(2), 1, 1, other))).toBe('applied');
    const item = await stored(key);
    expect(readRealtimeItem(item, SHARD).watermark).toBe(position(5));
    expect(readRealtimeItem(item, other).watermark).toBe(position(1));
    expect(readRealtimeItem(item, other).measures).toEqual({ count: 3, sum: 12, min: 0, max: 10 });
  });

  it('a compare-and-set against an item that a concurrent write changed is refused', async () => {
    const key = freshKey();
    const cas: RealtimeUpdate = { ...firstAttempt(key, deltaOf(1), 1, 1), condition: { equals: null } };
    expect(await send(cas)).toBe('applied');
    expect(await send(cas)).toBe('condition-failed');
  });

  it('stores only the measures a view declares, and count always', async () => {
    const key = freshKey();
    await send({ ...firstAttempt(key, deltaOf(4, 8), 1, 2), measures: ['count', 'max'] });
    const item = await stored(key);
    expect(Object.keys(item ?? {}).sort()).toEqual([
      'bucket',
      'count',
      'epoch',
      'expiresAt',
      'max',
      'pk',
      'sk',
      `wm_${SHARD}`,
    ]);
    expect(readRealtimeItem(item, SHARD).measures).toMatchObject({ count: 2, max: 8 });
  });
});
