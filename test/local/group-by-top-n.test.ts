import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { LocalRuntime } from '../../local/local-runtime';
import { eventually } from '../support/eventually';
import { startTestRuntime, testRuntimeConfig } from '../support/test-runtime';

const [deviceView] = testRuntimeConfig.views;
let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;

interface Series {
  key: Record<string, string>;
  keys?: number;
  rank?: number;
  value?: number;
  buckets: { startMs: number; count: number; sum: number; min: number; max: number }[];
}
interface Answer {
  series: Series[];
  keys?: { key: Record<string, string> }[];
  next?: string | null;
  message?: string;
}

async function get(path: string): Promise<{ status: number; body: Answer }> {
  const response = await fetch(`${runtime.apiUrl}${path}`);
  return { status: response.status, body: (await response.json()) as Answer };
}

/** Readings of three devices at one site: device-1 runs hottest, device-3 coolest; ts a few minutes back from now. */
const readings = [
  { deviceId: 'gt-device-1', values: [30, 34, 31] },
  { deviceId: 'gt-device-2', values: [25, 26] },
  { deviceId: 'gt-device-3', values: [18, 19, 20, 21] },
];

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime());
  const now = Date.now();
  const events = readings.flatMap(({ deviceId, values }) =>
    values.map((value, index) => ({
      eventId: `${deviceId}-${index}`,
      deviceId,
      site: 'gt-site',
      metric: 'temperature',
      value,
      ts: new Date(now - (index + 1) * 60_000).toISOString(),
    })),
  );
  const response = await fetch(`${runtime.apiUrl}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  expect(response.status).toBe(200);
});

afterAll(async () => {
  await stop();
});

const total = readings.reduce((sum, { values }) => sum + values.length, 0);

describe('group-by, top-N and the key listing through npm start', () => {
  it('groups by metric over every device the speed layer saw', async () => {
    const series = await eventually('the group-by to count every event', async () => {
      const { status, body } = await get(`/views/${deviceView.name}?metric=temperature`);
      expect(status).toBe(200);
      const [only] = body.series;
      const count = only.buckets.reduce((sum, bucket) => sum + bucket.count, 0);
      return count === total ? only : undefined;
    });
    expect(series.key).toEqual({ metric: 'temperature' });
    expect(series.keys).toBe(readings.length);
    const all = readings.flatMap(({ values }) => values);
    expect(Math.max(...series.buckets.map((bucket) => bucket.max))).toBe(Math.max(...all));
    expect(Math.min(...series.buckets.map((bucket) => bucket.min))).toBe(Math.min(...all));
    expect(series.buckets.reduce((sum, bucket) => sum + bucket.sum, 0)).toBe(all.reduce((a, b) => a + b, 0));
  });

  it('ranks the devices by max, and by avg ascending, with their series', async () => {
    const hottest = await eventually('the top-N to rank every device', async () => {
      const { body } = await get(`/views/${deviceView.name}?metric=temperature&orderBy=max&limit=2`);
      return body.series.length === 2 && body.series[0].value === 34 ? body : undefined;
    });
    expect(hottest.series.map((series) => [series.key.deviceId, series.rank, series.value])).toEqual([
      ['gt-device-1', 1, 34],
      ['gt-device-2', 2, 26],
    ]);
    expect(hottest.series[0].buckets.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(3);
    const { body: coolest } = await get(`/views/${deviceView.name}?metric=temperature&orderBy=avg&order=asc`);
    expect(coolest.series.map((series) => [series.key.deviceId, series.value])).toEqual([
      ['gt-device-3', 19.5],
      ['gt-device-2', 25.5],
      ['gt-device-1', 95 / 3],
    ]);
  });

  it('lists the keys the stream carried, page by page', async () => {
    const first = await get(`/views/${deviceView.name}/keys?metric=temperature&limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.keys?.map(({ key }) => key.deviceId)).toEqual(['gt-device-1', 'gt-device-2']);
    const second = await get(
      `/views/${deviceView.name}/keys?metric=temperature&limit=2&next=${encodeURIComponent(first.body.next ?? '')}`,
    );
    expect(second.body.keys?.map(({ key }) => key.deviceId)).toEqual(['gt-device-3']);
    expect(second.body.next).toBeNull();
  });

  it('refuses orderBy naming no measure, listing the measures', async () => {
    const { status, body } = await get(`/views/${deviceView.name}?orderBy=hottest`);
    expect(status).toBe(400);
    expect(body.message).toBe(
      `orderBy: expected a measure of view ${deviceView.name} (count, sum, min, max, avg), got "hottest"`,
    );
  });
});
