import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  ANOMALY_EVENT,
  AnomalyEventsNotPutError,
  EventBridgeAnomalyNotifier,
} from '../../functions/adapters/anomaly-notifier';
import type { BaselineView } from '../../functions/adapters/baseline-reader';
import { anomalyId, presentAnomaly, type Anomaly } from '../../functions/core/anomaly';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { emulatorClientConfig, startEventBus, type EventBusEmulator } from '../../local/emulators';

const view = definePipelineConfig({
  views: [{ name: 'site_hour', dimensions: ['site'], granularity: 'hour', baseline: { measure: 'value' } }],
}).views[0] as BaselineView;
const T0 = Date.UTC(2026, 2, 2, 12);
const noWait = { sleep: async () => undefined };

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

function anomaly(eventId: string, value: number): Anomaly {
  return {
    id: anomalyId(view.name, 'site-a', eventId),
    view: view.name,
    dimensionKey: 'site-a',
    eventId,
    eventTimeMs: T0,
    arrivalMs: T0 + 500,
    field: 'value',
    value,
    score: (value - 50) / 5,
    direction: value > 50 ? 'high' : 'low',
    threshold: 4,
    slot: 12,
    slotLabel: '12:00 UTC',
    expected: 50,
    stddev: 5,
    lower: 30,
    upper: 70,
    baselineEvents: 40,
    windowFrom: T0 - 28 * 86_400_000,
    windowTo: T0 - (T0 % 3_600_000),
    shardId: 'shardId-000000000000',
    sequenceNumber: '1',
  };
}

describe('EventBridgeAnomalyNotifier', () => {
  it('puts one event per anomaly, ten per request, with the detail the anomalies answer presents', async () => {
    const anomalies = Array.from({ length: 23 }, (_, index) => anomaly(`n-${index}`, 100 + index));
    const before = bus.events().length;
    await new EventBridgeAnomalyNotifier({ client, eventBusName: 'default', retry: noWait }).publish(view, anomalies);
    // The stand-in refuses a request of more than ten entries, as EventBridge does: 23 got through in three.
    const events = bus.events().slice(before);
    expect(events.map(({ detail }) => detail)).toEqual(
      anomalies.map((found) => JSON.parse(JSON.stringify(presentAnomaly(view, found)))),
    );
    expect(
      new Set(events.map(({ source, detailType, eventBusName }) => `${eventBusName}|${source}|${detailType}`)),
    ).toEqual(new Set([`default|${ANOMALY_EVENT.source}|${ANOMALY_EVENT.detailType}`]));
  });

  it('throws, naming the error codes, when the bus refuses an entry', async () => {
    const notifier = new EventBridgeAnomalyNotifier({ client, eventBusName: '', retry: noWait });
    const failure = notifier.publish(view, [anomaly('refused', 99)]);
    await expect(failure).rejects.toBeInstanceOf(AnomalyEventsNotPutError);
    await expect(failure).rejects.toThrow(/did not accept 1 anomaly event\(s\): InvalidArgument/);
  });
});
