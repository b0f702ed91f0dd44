import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { PresentedAnomaly } from '../../functions/core/anomaly';
import type { LocalRuntime } from '../../local/local-runtime';
import type { RecordedBusEvent } from '../../local/emulators';
import { eventually } from '../support/eventually';
import { EPOCH_WAIT_MS, startTestRuntime, testRuntimeConfig } from '../support/test-runtime';

/**
 * The end-to-end promise through `npm start`: history posted through POST /events becomes the baseline of
 * its key (batch ⊕ realtime), and a spike posted next is scored by the speed layer the moment it arrives: it is in
 * GET /views/{view}/anomalies and on the stand-in for EventBridge, and the forecast of the key answers the baseline.
 */

const HOUR = 3_600_000;
const DAY = 86_400_000;
const VIEW = 'site_metric_hour';
const KEY = { site: 'site-anomaly-e2e', metric: 'temperature' };
const HISTORY_DAYS = 20;
/** Readings per day at the hour of the spike: 40 in all, past the view's minEvents of 30. */
const READINGS_PER_DAY = 2;

let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;

/** The time of the spike, fixed at the start: its hour's slot is the one the history fills, whatever the clock does. */
const spikeAt = Date.now();
const spikeHour = Math.floor(spikeAt / HOUR) * HOUR;

/** Readings from 18 to 22 at the spike's UTC hour on each of the days before: mean 20, spread about 1.4. */
const history = Array.from({ length: HISTORY_DAYS * READINGS_PER_DAY }, (_, index) => {
  const day = Math.floor(index / READINGS_PER_DAY) + 1;
  const reading = index % READINGS_PER_DAY;
  return {
    eventId: `history-${day}-${reading}`,
    deviceId: 'device-anomaly-e2e',
    ...KEY,
    value: 20 + ((index * 3) % 5) - 2,
    ts: new Date(spikeHour - day * DAY + (5 + reading * 30) * 60_000).toISOString(),
  };
});
const historyMean = history.reduce((total, event) => total + event.value, 0) / history.length;
const spike = {
  eventId: 'spike-1',
  deviceId: 'device-anomaly-e2e',
  ...KEY,
  value: 100,
  ts: new Date(spikeAt).toISOString(),
};

async function postEvents(events: readonly Record<string, unknown>[]): Promise<void> {
  const response = await fetch(`${runtime.apiUrl}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  const body = (await response.json()) as { accepted: number };
  expect({ status: response.status, accepted: body.accepted }).toEqual({ status: 200, accepted: events.length });
}

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${runtime.apiUrl}${path}`);
  return { status: response.status, body: (await response.json()) as T };
}

const keyQuery = `site=${KEY.site}&metric=${KEY.metric}`;

/** The events of the history the view answers for the key, batch and realtime together. */
async function historyCounted(): Promise<number> {
  const { body } = await getJson<{ series: { buckets: { count: number }[] }[] }>(
    `/views/${VIEW}?${keyQuery}&from=${spikeHour - (HISTORY_DAYS + 1) * DAY}&to=${spikeHour}`,
  );
  return body.series.flatMap((series) => series.buckets).reduce((total, bucket) => total + bucket.count, 0);
}

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime());
});

afterAll(async () => {
  await stop?.();
});

describe('npm start: anomalies scored in the speed layer against the baseline of batch ⊕ realtime', () => {
  it('declares the baseline this test relies on', () => {
    const view = testRuntimeConfig.views.find((candidate) => candidate.name === VIEW);
    expect(view?.baseline).toMatchObject({ field: 'value', seasonality: 'hourOfDay', minEvents: 30, threshold: 4 });
    expect(history.length).toBeGreaterThanOrEqual(view?.baseline?.minEvents ?? Infinity);
  });

  it('records a spike posted through POST /events as an anomaly, in the answer and on the local event bus', async () => {
    await postEvents(history);
    await eventually('the speed layer to fold the history', async () =>
      (await historyCounted()) === history.length ? true : undefined,
    );
    // Part of the baseline then comes from the batch view: the served rule, not one layer, is what is learned from.
    await new Promise((resolve) => setTimeout(resolve, EPOCH_WAIT_MS));
    await runtime.runBatchNow();
    expect(await historyCounted()).toBe(history.length);

    await postEvents([spike]);
    const anomaly = await eventually(
      'the spike in GET /views/{view}/anomalies',
      async () => {
        const { status, body } = await getJson<{ anomalies: PresentedAnomaly[] }>(
          `/views/${VIEW}/anomalies?${keyQuery}`,
        );
        expect(status).toBe(200);
        return body.anomalies.find((candidate) => candidate.eventId === spike.eventId);
      },
      120_000,
    );
    expect(anomaly).toMatchObject({
      view: VIEW,
      key: KEY,
      field: 'value',
      value: 100,
      direction: 'high',
      threshold: 4,
      timeMs: spikeAt,
      baseline: { events: history.length, expected: expect.closeTo(historyMean, 9) },
    });
    expect(anomaly.score).toBeGreaterThanOrEqual(4);
    // The history never strays far from its mean: nothing of it is an anomaly.
    const { body: all } = await getJson<{ anomalies: PresentedAnomaly[] }>(
      `/views/${VIEW}/anomalies?${keyQuery}&from=${spikeHour - (HISTORY_DAYS + 1) * DAY}&to=${spikeAt + HOUR}`,
    );
    expect(all.anomalies.map((candidate) => candidate.eventId)).toEqual([spike.eventId]);

    const published = await eventually(
      'the anomaly event on GET /local/bus-events',
      async () => {
        const { status, body } = await getJson<{ events: RecordedBusEvent[] }>('/local/bus-events');
        expect(status).toBe(200);
        return body.events.find(
          (event) =>
            event.detailType === 'Anomaly detected' && (event.detail as { id?: string } | null)?.id === anomaly.id,
        );
      },
      120_000,
    );
    expect(published).toMatchObject({ eventBusName: 'default', source: 'lambda-architecture' });
    expect(published.detail).toEqual(anomaly);
  });

  it("forecasts the key's next buckets from the same baseline: the spike's hour ready near the history's mean", async () => {
    const { status, body } = await getJson<{
      fromMs: number;
      buckets: { startMs: number; status: string; expected: number | null; events: number; reason?: string }[];
    }>(`/views/${VIEW}/forecast?${keyQuery}&from=${spikeAt}&horizon=24`);
    expect(status).toBe(200);
    expect(body.fromMs).toBe(spikeHour);
    expect(body.buckets).toHaveLength(24);
    // The window ends where the spike's bucket starts: the spike is not in the baseline it was scored against.
    expect(body.buckets[0]).toMatchObject({
      startMs: spikeHour,
      status: 'ready',
      events: history.length,
      expected: expect.closeTo(historyMean, 9),
    });
    for (const bucket of body.buckets.slice(1)) {
      expect(bucket).toMatchObject({ status: 'cold', expected: null, events: 0 });
      expect(bucket.reason).toMatch(/scoring needs 30$/);
    }
  });
});
