import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { LocalRuntime } from '../../local/local-runtime';
import { EPOCH_WAIT_MS, startTestRuntime } from '../support/test-runtime';

let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime());
});
afterAll(async () => {
  await stop();
});

const DEVICES = Array.from({ length: 10 }, (_, index) => `device-${index}`);
const METRICS = ['temperature', 'humidity', 'pressure'];
const MINUTE = 60_000;
/** Event times a few minutes back, one minute per wave: every wave touches the same number of keys and buckets. */
const FIRST_MINUTE = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;

/** One wave: each device reports each metric once, all in the wave's minute. */
async function sendWave(wave: number): Promise<void> {
  const events = DEVICES.flatMap((deviceId, device) =>
    METRICS.map((metric, index) => ({
      eventId: `wave-${wave}-${deviceId}-${metric}`,
      deviceId,
      site: `site-${device % 3}`,
      metric,
      value: wave * 10 + index,
      ts: FIRST_MINUTE + wave * MINUTE + device * 1_000,
    })),
  );
  const response = await fetch(`${runtime.apiUrl}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  expect(response.status).toBe(200);
  // Everything sent is then below the cutoff of a batch run started after the wait.
  await new Promise((resolve) => setTimeout(resolve, EPOCH_WAIT_MS));
}

async function runBatch(): Promise<BatchRunSummary> {
  const response = await fetch(`${runtime.apiUrl}/_local/batch-runs`, { method: 'POST' });
  expect(response.status).toBe(200);
  return ((await response.json()) as { result: BatchRunSummary }).result;
}

async function answers(view: string, dimensions: string): Promise<unknown> {
  const response = await fetch(
    `${runtime.apiUrl}/views/${view}?${dimensions}&from=${FIRST_MINUTE - 3_600_000}&to=${FIRST_MINUTE + 3_600_000}`,
  );
  expect(response.status).toBe(200);
  const body = (await response.json()) as {
    series: { key: unknown; buckets: { startMs: number; count: number; sum: number }[] }[];
  };
  // The parts each layer contributes move with a rebuild or replay; the merged answer must not.
  return body.series.map((series) => ({
    key: series.key,
    buckets: series.buckets.map(({ startMs, count, sum }) => ({ startMs, count, sum })),
  }));
}

const runCommand = (script: string, view: string) =>
  promisify(execFile)(
    process.execPath,
    [
      join(__dirname, '../../node_modules/tsx/dist/cli.mjs'),
      join(__dirname, `../../local/${script}`),
      '--view',
      view,
      '--url',
      runtime.apiUrl,
    ],
    { env: { PATH: process.env.PATH } },
  );

describe('npm start, then npm run rebuild and npm run replay', () => {
  const minuteQuery = `deviceId=${DEVICES.join(',')}&metric=${METRICS.join(',')}`;

  it('batch runs after equal waves of new data write the same number of rows each time', async () => {
    const rows: Record<string, number>[] = [];
    for (const wave of [0, 1, 2]) {
      await sendWave(wave);
      const summary = await runBatch();
      rows.push(Object.fromEntries(summary.views.map((view) => [view.view, view.rows])));
    }
    // One row per key and bucket a window touched: 30 device×metric minutes; 3 sites × 3 metrics for an hour or day.
    expect(rows[0]).toEqual({ device_metric_minute: 30, site_metric_hour: 9, metric_day: 3 });
    expect(rows[1]).toEqual(rows[0]);
    expect(rows[2]).toEqual(rows[0]);
  });

  it('npm run rebuild lays a new base with the same answers, and the next window continues from it', async () => {
    const before = await answers('device_metric_minute', minuteQuery);
    const { stdout } = await runCommand('rebuild.ts', 'device_metric_minute');
    expect(stdout).toContain('device_metric_minute: flipped: base r');
    expect(await answers('device_metric_minute', minuteQuery)).toEqual(before);
    await sendWave(3);
    expect((await runBatch()).views.find((view) => view.view === 'device_metric_minute')?.rows).toBe(30);
    const after = (await answers('device_metric_minute', minuteQuery)) as { buckets: unknown[] }[];
    expect(after.flatMap((series) => series.buckets)).toHaveLength(4 * 30);
  });

  it('npm run replay builds a new realtime generation with the same answers', async () => {
    const before = await answers('device_metric_minute', minuteQuery);
    const { stdout } = await runCommand('replay.ts', 'device_metric_minute');
    expect(stdout).toContain('device_metric_minute: flipped: generation 2 is served');
    expect(await answers('device_metric_minute', minuteQuery)).toEqual(before);
  });
});
