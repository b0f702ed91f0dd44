import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { dedupItemKey, EventDedupStore } from '../../functions/adapters/event-dedup-store';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { ACCESS_DENIED, DynamoDbFaults, THROTTLED } from '../speed/dynamodb-faults';
import { createTable } from '../speed/realtime-table';

let dynamo: RunningEmulator;
let client: DynamoDBClient;
let faults: DynamoDbFaults;
let store: EventDedupStore;
const tableName = 'dedup';

beforeAll(async () => {
  dynamo = await startDynamoDb();
  client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  faults = new DynamoDbFaults().attachTo(client);
  await createTable(client, tableName);
  store = new EventDedupStore({ client, tableName, retry: { sleep: async () => undefined } });
});
afterAll(async () => {
  client.destroy();
  await dynamo.stop();
});
afterEach(() => faults.heal());

const HORIZON = 3_600_000;
const ARRIVAL = 1_795_000_000_000;
const claim = (eventId: string, owner: string, arrivalMs = ARRIVAL) =>
  store.claim({ eventId, owner, arrivalMs, horizonMs: HORIZON, expiresAt: 1_800_000_000 });

describe('eventId de-dup store against dynalite', () => {
  it('the first record to claim an event owns it; another record of the same event is a duplicate', async () => {
    expect(await claim('e-1', 'shardId-000000000000/001')).toBe('owner');
    expect(await claim('e-1', 'shardId-000000000000/009')).toBe('duplicate');
    expect(await claim('e-1', 'shardId-000000000001/001')).toBe('duplicate');
  });

  it('the owner claiming again (a redelivery of the same Kinesis record) is still the owner', async () => {
    expect(await claim('e-2', 'shardId-000000000000/005')).toBe('owner');
    expect(await claim('e-2', 'shardId-000000000000/005')).toBe('owner');
  });

  it('the claim item is keyed by eventId, names its owner and carries the TTL', async () => {
    await claim('e-3', 'shardId-000000000000/007');
    const { pk, sk } = dedupItemKey('e-3');
    const { Item } = await client.send(
      new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
    );
    expect(Item).toEqual({
      pk: { S: 'event#e-3' },
      sk: { S: 'event' },
      owner: { S: 'shardId-000000000000/007' },
      lastArrivalMs: { N: String(ARRIVAL) },
      expiresAt: { N: '1800000000' },
    });
  });

  it('a copy arriving more than the horizon after the last copy counts again; a chain of copies within it does not', async () => {
    expect(await claim('e-6', 'shardId-000000000000/001', ARRIVAL)).toBe('owner');
    // Each within the horizon of the one before, though the third is past the horizon of the first.
    expect(await claim('e-6', 'shardId-000000000000/002', ARRIVAL + 0.9 * HORIZON)).toBe('duplicate');
    expect(await claim('e-6', 'shardId-000000000000/003', ARRIVAL + 1.8 * HORIZON)).toBe('duplicate');
    // An older copy from another shard, processed late, neither counts nor moves the last arrival back.
    expect(await claim('e-6', 'shardId-000000000001/001', ARRIVAL + 0.5 * HORIZON)).toBe('duplicate');
    expect(await claim('e-6', 'shardId-000000000000/004', ARRIVAL + 2.8 * HORIZON + 1)).toBe('owner');
    expect(await claim('e-6', 'shardId-000000000000/004', ARRIVAL + 2.8 * HORIZON + 1)).toBe('owner');
  });

  it('a throttled claim is retried; an error that is not retryable is thrown for the caller to fail on', async () => {
    faults.failWhen(({ command, index }) => (command === 'PutItemCommand' && index % 2 === 1 ? THROTTLED : undefined));
    expect(await claim('e-4', 'shardId-000000000000/001')).toBe('owner');
    faults.failWhen(({ command }) => (command === 'PutItemCommand' ? ACCESS_DENIED : undefined));
    await expect(claim('e-5', 'shardId-000000000000/001')).rejects.toThrow(/AccessDeniedException/);
  });
});
