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
  isReplaced,
  readRealtimeItem,
  realtimeAggregateFromItem,
  realtimeExpiresAt,
  realtimeUpdateRequest,
  UnreadableRealtimeItemError,
  type RealtimeUpdate,
} from '../../functions/core/realtime-update';
import { measureAttributes } from '../../functions/core/aggregate-attributes';
import { recordPosition } from '../../functions/core/sequence-position';
import { realtimeItemKey } from '../../functions/core/storage-keys';
import {
  defineEventSchema,
  MAX_SCHEMA_DIMENSIONS,
  MAX_SCHEMA_NUMBERS,
} from '../../functions/core/event-schema-definition';
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
    expect(readRealtimeItem(item, SHARD, countAndMax.stored).measures).toEqual(
      measuresWith({ count: 2, max: { max: 8 } }),
    );
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

describe('replaced attributes (sums of squares and sketches) in the generated UpdateItem, against DynamoDB (dynalite)', () => {
  const [sketches] = defineViews([
    {
      name: 'sketches',
      dimensions: ['site'],
      granularity: 'minute',
      measures: {
        events: 'count',
        devices: { distinct: 'deviceId' },
        values: { histogram: 'value', boundaries: [-100, 0, 10, 100] },
        spread: { stddev: 'value' },
        lowest: { min: 'value' },
        highest: { max: 'value' },
      },
    },
  ]);
  const deltaOfEvents = (...events: [string, number][]): Measures =>
    mergeAllMeasures(events.map(([deviceId, value]) => measuresOf(sketches, { deviceId, value })));
  const attempt = (
    key: AggregateKey,
    known: Measures,
    delta: Measures,
    first: number,
    last: number,
    shardId = SHARD,
  ) => ({
    ...firstAttempt(key, delta, first, last, shardId),
    stored: sketches.stored,
    known,
    extremes: extremeUpdatesFor(known, delta, sketches.stored),
  });
  const readBack = async (key: AggregateKey) => readRealtimeItem(await stored(key), SHARD, sketches.stored).measures;
  /** The attribute a measure is stored in: a sketch's names its precision or boundaries (view-declaration.ts). */
  const attributeOf = (name: string): string => {
    const measure = sketches.measures.find((candidate) => candidate.name === name);
    if (measure === undefined) throw new Error(`no measure ${name}`);
    return measure.attribute;
  };

  it('stores the sum of squares, the registers and the bins beside the count, the sum and the extremes', () => {
    expect(sketches.stored.map((measure) => [measure.attribute, measure.kind, isReplaced(measure)])).toEqual([
      [attributeOf('devices'), 'distinct', true],
      [attributeOf('values'), 'histogram', true],
      ['lowest', 'min', false],
      ['highest', 'max', false],
      ['spread.sumSquares', 'sumSquares', true],
      ['spread.sum', 'sum', false],
    ]);
  });

  it('sets each replaced attribute to known ⊕ delta in the same request as the ADDs and the keep/replace extremes', async () => {
    const key = freshKey();
    const batches: [string, number][][] = [
      [
        ['d1', 5],
        ['d2', -3],
      ],
      // Inside the stored extremes, a device seen before and a new one.
      [
        ['d1', 1],
        ['d3', 2],
      ],
      // A new min and a new max in one batch, in bins not seen yet.
      [
        ['d4', -150],
        ['d1', 400],
      ],
      [['d2', 0]],
    ];
    const applied: [string, number][] = [];
    let known = EMPTY_MEASURES;
    let sequence = 0;
    for (const batch of batches) {
      const first = sequence + 1;
      sequence += batch.length;
      // What the writer knows is what the item holds: each write is the one request.
      expect(await send(attempt(key, known, deltaOfEvents(...batch), first, sequence))).toBe('applied');
      applied.push(...batch);
      known = await readBack(key);
      expect(known).toEqual(deltaOfEvents(...applied));
    }
    const item = await stored(key);
    expect(item?.[attributeOf('devices')]?.S?.startsWith('s')).toBe(true);
    expect(item?.[attributeOf('values')]).toEqual({ S: '0:1,1:2,2:3,4:1' });
    expect(item?.['spread.sumSquares']).toEqual({ S: String(25 + 9 + 1 + 4 + 22_500 + 160_000 + 0) });
    expect(item?.['spread.sum']).toEqual({ N: String(5 - 3 + 1 + 2 - 150 + 400 + 0) });
  });

  it('refuses a write whose known value is stale, leaving every attribute as it was; the compare-and-set on what a read finds applies it', async () => {
    const key = freshKey();
    const other = 'shardId-000000000001';
    const firstBatch = deltaOfEvents(['d1', 5]);
    await send(attempt(key, EMPTY_MEASURES, firstBatch, 1, 1));
    // Another shard writes the item meanwhile.
    await send(attempt(key, firstBatch, deltaOfEvents(['d2', 7]), 1, 1, other));
    const before = await stored(key);

    const batch = deltaOfEvents(['d3', 6]);
    // Believing the item unwritten, then believing it holds only the first batch: both refused, nothing lands.
    expect(await send(attempt(key, EMPTY_MEASURES, batch, 2, 2))).toBe('condition-failed');
    expect(await send(attempt(key, firstBatch, batch, 2, 2))).toBe('condition-failed');
    expect(await stored(key)).toEqual(before);

    const read = readRealtimeItem(before, SHARD, sketches.stored);
    const retry = { ...attempt(key, read.measures, batch, 2, 2), condition: { equals: read.watermark } };
    expect(await send(retry)).toBe('applied');
    expect(await readBack(key)).toEqual(deltaOfEvents(['d1', 5], ['d2', 7], ['d3', 6]));
    // The same compare-and-set again: the watermark and every replaced attribute have moved on.
    expect(await send(retry)).toBe('condition-failed');
  });

  it('refuses the compare-and-set of a redelivered batch even when the sketches already hold it, so that the counts stay exact', async () => {
    const key = freshKey();
    const batch = deltaOfEvents(['d1', 5], ['d1', 5]);
    await send(attempt(key, EMPTY_MEASURES, batch, 1, 2));
    const read = readRealtimeItem(await stored(key), SHARD, sketches.stored);
    // Merging the registers again would change nothing, but the bins, the count and the sums would double.
    const redelivered = { ...attempt(key, read.measures, batch, 1, 2) };
    expect(await send(redelivered)).toBe('condition-failed');
    expect(await readBack(key)).toEqual(batch);
  });

  it('refuses to read back an item whose replaced attribute is not the encoding a write would compare it with', () => {
    const item = measureAttributes(deltaOfEvents(['d1', 5], ['d2', 50]), sketches.stored);
    const [devicesAttribute, valuesAttribute] = [attributeOf('devices'), attributeOf('values')];
    const devices = item[devicesAttribute] as { S: string };
    const [firstEntry, secondEntry] = [devices.S.slice(1, 5), devices.S.slice(5, 9)];
    const unreadable = [
      { ...item, [devicesAttribute]: { S: 'not a sketch' } },
      // The same registers out of index order: not the one encoding a write compares with.
      { ...item, [devicesAttribute]: { S: `s${secondEntry}${firstEntry}` } },
      { ...item, [valuesAttribute]: { S: '9:1' } },
      { ...item, 'spread.sumSquares': { N: '2525' } },
      { ...item, 'spread.sumSquares': { S: '2525.0' } },
    ];
    for (const corrupt of unreadable) {
      expect(() => readRealtimeItem(corrupt, SHARD, sketches.stored)).toThrow(UnreadableRealtimeItemError);
    }
    expect(readRealtimeItem(item, SHARD, sketches.stored).measures).toEqual(deltaOfEvents(['d1', 5], ['d2', 50]));
  });
});

describe('the largest declaration the schema allows', () => {
  const dimensions = Array.from({ length: MAX_SCHEMA_DIMENSIONS }, (_, index) => `dimensionNumber${index}`);
  const numbers = Array.from({ length: MAX_SCHEMA_NUMBERS }, (_, index) => `measurementNumber${index}`);
  const schema = defineEventSchema({ dimensions, numbers });
  const name = (kind: string, index: number) => `${kind}OfTheLongestNamedField${index}`.slice(0, 63);
  /** Every stored kind over every field it may take: values are placeholders, and only their number counts. */
  const measures = Object.fromEntries([
    ...numbers.flatMap((field, index) => [
      ...(['sum', 'min', 'max', 'avg', 'stddev'] as const).map((kind) => [name(kind, index), { [kind]: field }]),
      [name('histogram', index), { histogram: field, boundaries: [0] }],
    ]),
    ...[...dimensions, schema.id].map((field, index) => [name('distinct', index), { distinct: field }]),
  ]);
  const [view] = defineViews(
    [{ name: 'widest', dimensions: ['dimensionNumber0'], granularity: 'minute', measures }],
    schema,
  );
  const event = Object.fromEntries([
    ...numbers.map((field, index) => [field, index]),
    ...[...dimensions, schema.id].map((field, index) => [field, `value-${index}`]),
  ]);
  const request = (known: Measures, extremes: 'keep' | 'replace') =>
    realtimeUpdateRequest({
      key: { view: 'widest', dimensionKey: 'd', bucket: 0, epoch: 0 },
      generation: 1,
      known,
      stored: view?.stored ?? [],
      delta: measuresOf(view as ViewDefinition, event),
      shardId: 'shardId-000000000000',
      watermark: recordPosition('1', 0),
      condition: { below: recordPosition('1', 0) },
      extremes: Object.fromEntries((view?.stored ?? []).map((measure) => [measure.attribute, extremes])),
      expiresAt: 1,
    });

  it('keeps every expression of the realtime update within DynamoDB’s 4 KB limit, sketches included', () => {
    // Per number a sum, a min, a max, a sum of squares and a histogram; per string field a distinct.
    expect(view?.stored).toHaveLength(5 * MAX_SCHEMA_NUMBERS + MAX_SCHEMA_DIMENSIONS + 1);
    const known = measuresOf(view as ViewDefinition, event);
    for (const [assumed, extremes] of [
      [EMPTY_MEASURES, 'keep'],
      [known, 'keep'],
      [known, 'replace'],
    ] as const) {
      const { UpdateExpression, ConditionExpression } = request(assumed, extremes);
      expect(Buffer.byteLength(UpdateExpression)).toBeLessThan(4096);
      expect(Buffer.byteLength(ConditionExpression)).toBeLessThan(4096);
    }
  });
});
