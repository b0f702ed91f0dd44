import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { emulatorClientConfig, startEventBus, type EventBusEmulator } from '../../../local/emulators';

let bus: EventBusEmulator;
let client: EventBridgeClient;

beforeAll(async () => {
  bus = await startEventBus();
  client = new EventBridgeClient({ ...emulatorClientConfig(bus.endpoint), maxAttempts: 1 });
});
afterAll(async () => {
  client.destroy();
  await bus.stop();
});

describe('the local stand-in for EventBridge', () => {
  it('accepts PutEvents from the real EventBridgeClient and records each event with its parsed detail', async () => {
    const before = bus.events().length;
    const time = new Date('2026-03-01T12:00:00.000Z');
    const response = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'test.source',
            DetailType: 'Thing happened',
            Detail: JSON.stringify({ id: 'a', value: 1 }),
            Time: time,
          },
          {
            EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/alerts',
            Source: 'test.source',
            DetailType: 'Thing happened',
            Detail: '{"id":"b"}',
          },
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(0);
    expect(response.Entries).toHaveLength(2);
    const events = bus.events().slice(before);
    expect(events.map(({ id }) => id)).toEqual(response.Entries?.map(({ EventId }) => EventId));
    expect(events).toEqual([
      {
        id: expect.any(String),
        eventBusName: 'default',
        source: 'test.source',
        detailType: 'Thing happened',
        detail: { id: 'a', value: 1 },
        time: time.toISOString(),
      },
      {
        id: expect.any(String),
        eventBusName: 'alerts',
        source: 'test.source',
        detailType: 'Thing happened',
        detail: { id: 'b' },
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
  });

  it('refuses an entry whose Detail is not a JSON object the way EventBridge does: in the response, not recorded', async () => {
    const before = bus.events().length;
    const response = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: 's', DetailType: 'd', Detail: 'not json' },
          { Source: 's', DetailType: 'd', Detail: '{"ok":true}' },
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(1);
    expect(response.Entries?.[0]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    expect(response.Entries?.[1]?.EventId).toEqual(expect.any(String));
    expect(
      bus
        .events()
        .slice(before)
        .map(({ detail }) => detail),
    ).toEqual([{ ok: true }]);
  });

  it('answers a malformed request with an AWS-style error that the SDK raises by name', async () => {
    await expect(client.send(new PutEventsCommand({ Entries: [] }))).rejects.toMatchObject({
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
    });
    const tooMany = Array.from({ length: 11 }, () => ({ Source: 's', DetailType: 'd', Detail: '{}' }));
    await expect(client.send(new PutEventsCommand({ Entries: tooMany }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
    const raw = await fetch(bus.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body: '{not json',
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ __type: 'SerializationException' });
    const other = await fetch(bus.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.ListRules' },
      body: '{}',
    });
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('keeps only the latest events past its capacity, oldest dropped', async () => {
    const small = await startEventBus({ capacity: 2 });
    const smallClient = new EventBridgeClient({ ...emulatorClientConfig(small.endpoint), maxAttempts: 1 });
    try {
      await smallClient.send(
        new PutEventsCommand({
          Entries: [1, 2, 3].map((n) => ({ Source: 's', DetailType: 'd', Detail: JSON.stringify({ n }) })),
        }),
      );
      expect(small.events().map(({ detail }) => detail)).toEqual([{ n: 2 }, { n: 3 }]);
    } finally {
      smallClient.destroy();
      await small.stop();
    }
  });
});
