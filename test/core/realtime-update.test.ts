import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import type { AggregateKey } from '../../functions/core/fold';
import {
  EMPTY_MEASURES,
  measuresOf,
  measuresWith,
  mergeAllMeasures,
  type Measures,
} from '../../functions/core/measures';
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
import { defineEventSchema, MAX_SCHEMA_NUMBERS } from '../../functions/core/event-schema-definition';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';
import { climate, reading } from '../support/climate-view';
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
const [view] = defineViews([{ name: 'v', dimensions: ['deviceId', 'metric'], granularity: 'minute' }]);
const STORED = view.stored;
const deltaOf = (...values: number[]): Measures => mergeAllMeasures(values.map((value) => measuresOf(view, { value })));
/** The default view's stored measures in the shape a read returns them. */
const legacy = (count: number, sum: number, min: number, max: number): Measures =>
  measuresWith({ count, sum: { sum }, min: { min }, max: { max } });

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
    stored: STORED,
    known: EMPTY_MEASURES,
    delta,
    shardId,
    watermark: position(last),
    condition: { below: position(first) },
    extremes: {},
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
    expect(realtimeAggregateFromItem(key.dimensionKey, item!, STORED)).toEqual({
      dimensionKey: key.dimensionKey,
      bucket: key.bucket,
      epoch: key.epoch,
      measures: legacy(3, 8.5, -1.5, 7),
    });
    expect(item?.[`wm_${SHARD}`]).toEqual({ S: position(3) });
    expect(item?.expiresAt).toEqual({ N: String(realtimeExpiresAt(key, 900_000, 48 * 3_600_000)) });
  });

  it('adds a later batch whose values lie inside the stored extremes in one write', async () => {
    const key = freshKey();
    await send(firstAttempt(key, deltaOf(0, 10), 1, 2));
    expect(await send(firstAttempt(key, deltaOf(5), 3, 3))).toBe('applied');
    expect(readRealtimeItem(await stored(key), SHARD, STORED).measures).toEqual(legacy(3, 15, 0, 10));
  });

  it('refuses a batch that overlaps what the watermark says is applied', async () => {
    const key = freshKey();
    await send(firstAttempt(key, deltaOf(1, 2), 1, 2));
    expect(await send(firstAttempt(key, deltaOf(2, 3), 2, 3))).toBe('condition-failed');
    expect(readRealtimeItem(await stored(key), SHARD, STORED).measures).toEqual(legacy(2, 3, 1, 2));
  });

  it('refuses an optimistic write whose delta would lower the min, and the compare-and-set after a read applies it exactly', async () => {
    const key = freshKey();
    await send(firstAttempt(key, deltaOf(5, 6), 1, 2));
    const delta = deltaOf(-4, 9);
    expect(await send(firstAttempt(key, delta, 3, 4))).toBe('condition-failed');

    const read = readRealtimeItem(await stored(key), SHARD, STORED);
    expect(read.watermark).toBe(position(2));
    const extremes = extremeUpdatesFor(read.measures, delta, STORED);
    expect(extremes).toEqual({ min: 'replace', max: 'replace' });
    const retry = { ...firstAttempt(key, delta, 3, 4), condition: { equals: read.watermark }, extremes };
    expect(await send(retry)).toBe('applied');
    expect(readRealtimeItem(await stored(key), SHARD, STORED).measures).toEqual(legacy(4, 16, -4, 9));
    // The same compare-and-set again finds the watermark moved on, so it cannot be applied twice.
    expect(await send(retry)).toBe('condition-failed');
  });

  it('lets another shard add to the same item, each shard keeping its own watermark', async () => {
    const key = freshKey();
    const other = 'shardId-000000000001';
    await send(firstAttempt(key, deltaOf(0, 10), 4, 5));
    expect(await send(firstAttempt(key, deltaOf(2), 1, 1, other))).toBe('applied');
    const item = await stored(key);
    expect(readRealtimeItem(item, SHARD, STORED).watermark).toBe(position(5));
    expect(readRealtimeItem(item, other, STORED).watermark).toBe(position(1));
    expect(readRealtimeItem(item, other, STORED).measures).toEqual(legacy(3, 12, 0, 10));
  });

  it('a compare-and-set against an item that a concurrent write changed is refused', async () => {
    const key = freshKey();
    const cas: RealtimeUpdate = { ...firstAttempt(key, deltaOf(1), 1, 1), condition: { equals: null } };
    expect(await send(cas)).toBe('applied');
    expect(await send(cas)).toBe('condition-failed');
  });

  it('stores only the measures a view declares, and count always', async () => {
    const key = freshKey();
    const [countAndMax] = defineViews([
      { name: 'v', dimensions: ['deviceId'], granularity: 'minute', measures: ['count', 'max'] },
    ]);
    const delta = mergeAllMeasures([4, 8].map((value) => measuresOf(countAndMax, { value })));
    await send({ ...firstAttempt(key, delta, 1, 2), stored: countAndMax.stored });
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
    expect(readRealtimeItem(item, SHARD, countAndMax.stored).measures).toEqual({
      count: 2,
      sum: {},
      min: {},
      max: { max: 8 },
    });
  });
});

describe('generated realtime UpdateItem for a schema with two numeric fields, against DynamoDB (dynalite)', () => {
  const deltaOfReadings = (...readings: [number, number][]): Measures =>
    mergeAllMeasures(readings.map(([temperature, humidity]) => reading(temperature, humidity)));
  const attempt = (key: AggregateKey, delta: Measures, first: number, last: number): RealtimeUpdate => ({
    ...firstAttempt(key, delta, first, last),
    stored: climate.stored,
  });
  /** Brute force over the readings: each attribute computed from its field without the monoid. */
  const expectedOf = (readings: readonly [number, number][]): Measures => {
    const temperatures = readings.map(([temperature]) => temperature);
    const humidities = readings.map(([, humidity]) => humidity);
    return measuresWith({
      count: readings.length,
      sum: {
        humidity: humidities.reduce((a, b) => a + b, 0),
        meanTemperature: temperatures.reduce((a, b) => a + b, 0),
      },
      min: { coldest: Math.min(...temperatures), driest: Math.min(...humidities) },
      max: { hottest: Math.max(...temperatures), wettest: Math.max(...humidities) },
    });
  };

  it('stores each declared attribute once, the avg in a sum of its own field', () => {
    expect(climate.stored).toEqual([
      { attribute: 'coldest', kind: 'min', field: 'temperature' },
      { attribute: 'hottest', kind: 'max', field: 'temperature' },
      { attribute: 'driest', kind: 'min', field: 'humidity' },
      { attribute: 'wettest', kind: 'max', field: 'humidity' },
      { attribute: 'humidity', kind: 'sum', field: 'humidity' },
      { attribute: 'meanTemperature', kind: 'sum', field: 'temperature' },
    ]);
  });

  it('chooses keep or replace per attribute: each min and max judged against its own stored value', () => {
    const known = deltaOfReadings([10, 50], [20, 60]);
    expect(extremeUpdatesFor(known, deltaOfReadings([5, 55]), climate.stored)).toEqual({
      coldest: 'replace',
      hottest: 'keep',
      driest: 'keep',
      wettest: 'keep',
    });
    expect(extremeUpdatesFor(known, deltaOfReadings([15, 40], [25, 70]), climate.stored)).toEqual({
      coldest: 'keep',
      hottest: 'replace',
      driest: 'replace',
      wettest: 'replace',
    });
    // Nothing stored yet: keep sets an absent attribute.
    expect(extremeUpdatesFor(EMPTY_MEASURES, deltaOfReadings([1, 1]), climate.stored)).toEqual({
      coldest: 'keep',
      hottest: 'keep',
      driest: 'keep',
      wettest: 'keep',
    });
  });

  it('keeps two min and two max attributes exact under the keep/replace protocol, a failed guess resolved by a read', async () => {
    const key = freshKey();
    const batches: [number, number][][] = [
      [
        [20, 40],
        [22, 45],
      ],
      // Inside every stored extreme: the optimistic keep holds.
      [[21, 42]],
      // Lowers the min temperature and raises the max humidity, leaves the other two.
      [
        [18, 41],
        [21, 48],
      ],
      // Raises the max temperature and lowers the min humidity.
      [[30, 35]],
      // Moves all four at once.
      [
        [-5, 99],
        [35, 10],
      ],
    ];
    const applied: [number, number][] = [];
    let sequence = 0;
    for (const batch of batches) {
      const delta = deltaOfReadings(...batch);
      const first = sequence + 1;
      sequence += batch.length;
      const optimistic = await send(attempt(key, delta, first, sequence));
      if (optimistic === 'condition-failed') {
        const read = readRealtimeItem(await stored(key), SHARD, climate.stored);
        const retry: RealtimeUpdate = {
          ...attempt(key, delta, first, sequence),
          condition: { equals: read.watermark },
          extremes: extremeUpdatesFor(read.measures, delta, climate.stored),
        };
        expect(await send(retry)).toBe('applied');
      }
      applied.push(...batch);
      expect(readRealtimeItem(await stored(key), SHARD, climate.stored).measures).toEqual(expectedOf(applied));
    }
    const item = await stored(key);
    expect(Object.keys(item ?? {}).filter((name) => !/^(pk|sk|bucket|epoch|expiresAt|wm_.*)$/.test(name))).toEqual(
      expect.arrayContaining(['count', 'coldest', 'hottest', 'driest', 'wettest', 'humidity', 'meanTemperature']),
    );
  });

  it('refuses a keep whose condition fails on one attribute only, leaving every attribute as it was', async () => {
    const key = freshKey();
    await send(attempt(key, deltaOfReadings([20, 40]), 1, 1));
    // Only the humidity max moves; keeping all four is refused, and nothing of the delta lands.
    expect(await send(attempt(key, deltaOfReadings([20, 90]), 2, 2))).toBe('condition-failed');
    expect(readRealtimeItem(await stored(key), SHARD, climate.stored).measures).toEqual(expectedOf([[20, 40]]));
    // Replacing the one that moves, keeping the others, applies exactly.
    const retry: RealtimeUpdate = {
      ...attempt(key, deltaOfReadings([20, 90]), 2, 2),
      extremes: { wettest: 'replace' },
    };
    expect(await send(retry)).toBe('applied');
    expect(readRealtimeItem(await stored(key), SHARD, climate.stored).measures).toEqual(
      expectedOf([
        [20, 40],
        [20, 90],
      ]),
    );
  });
});

describe('the largest declaration the schema allows', () => {
  it('keeps every expression of the realtime update within DynamoDB’s 4 KB limit', () => {
    const numbers = Array.from({ length: MAX_SCHEMA_NUMBERS }, (_, index) => `measurementNumber${index}`);
    const schema = defineEventSchema({ dimensions: ['deviceId'], numbers });
    const measures = Object.fromEntries(
      numbers.flatMap((field, index) =>
        (['sum', 'min', 'max', 'avg'] as const).map((kind) => [
          `${kind}OfTheLongestNamedField${index}`.slice(0, 63),
          { [kind]: field },
        ]),
      ),
    );
    const [view] = defineViews([{ name: 'widest', dimensions: ['deviceId'], granularity: 'minute', measures }], schema);
    expect(view?.stored).toHaveLength(3 * MAX_SCHEMA_NUMBERS);
    const event = Object.fromEntries(numbers.map((field, index) => [field, index]));
    const request = realtimeUpdateRequest({
      key: { view: 'widest', dimensionKey: 'd', bucket: 0, epoch: 0 },
      generation: 1,
      known: EMPTY_MEASURES,
      stored: view?.stored ?? [],
      delta: measuresOf(view as ViewDefinition, event),
      shardId: 'shardId-000000000000',
      watermark: recordPosition('1', 0),
      condition: { below: recordPosition('1', 0) },
      extremes: {},
      expiresAt: 1,
    });
    expect(Buffer.byteLength(request.UpdateExpression)).toBeLessThan(4096);
    expect(Buffer.byteLength(request.ConditionExpression)).toBeLessThan(4096);
  });
});
