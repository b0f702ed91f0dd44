import type { BatchRunSummary } from '../../functions/batch/batch-job';
import { IotTraffic } from '../../local/iot-traffic';
import type { LocalHealth } from '../../local/local-health';
import type { LocalRuntime } from '../../local/local-runtime';
import { eventually } from '../support/eventually';
import { EPOCH_WAIT_MS, startTestRuntime, testRuntimeConfig } from '../support/test-runtime';

/** GET /_local/health on the whole local runtime: what the dashboard's health panel shows. */

async function health(runtime: LocalRuntime<BatchRunSummary>): Promise<LocalHealth> {
  const response = await fetch(`${runtime.apiUrl}/_local/health`);
  expect(response.status).toBe(200);
  return (await response.json()) as LocalHealth;
}

const postEvents = (runtime: LocalRuntime<BatchRunSummary>, body: string) =>
  fetch(`${runtime.apiUrl}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('GET /_local/health in Lambda mode', () => {
  let runtime: LocalRuntime<BatchRunSummary>;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ runtime, stop } = await startTestRuntime());
  });
  afterAll(async () => {
    await stop?.();
  });

  it('starts with nothing counted, nothing served, and the next scheduled run', async () => {
    const start = await health(runtime);
    expect(start).toMatchObject({
      architecture: 'lambda',
      ingest: { windowSeconds: 60, accepted: 0, rejected: 0, acceptedPerSecond: 0, rejectedPerSecond: 0 },
      speedLayer: { records: 0, discardedBatches: 0, iteratorAgeMs: 0 },
      batch: { runs: 0, cutoff: null, cutoffMs: null, cutoffAgeMs: null, lastRun: null },
    });
    expect(Date.parse(start.batch?.nextRunAt ?? '')).toBeGreaterThan(start.nowMs);
    expect(start.generations).toEqual(
      testRuntimeConfig.views.map((view) => ({ view: view.name, served: 1, replays: 0, building: null })),
    );
  });

  it('counts accepted and rejected events, and the records that reach the speed layer', async () => {
    const good = new IotTraffic({ devices: 2, lateShare: 0, invalidShare: 0 }).batch(3);
    const response = await postEvents(runtime, JSON.stringify([...good, { deviceId: 'device-x', value: 'hot' }]));
    expect(response.status).toBe(207);
    const counted = await health(runtime);
    // Totals only: a rate of one event, rounded to a tenth, depends on how long the server has been up.
    expect(counted.ingest).toMatchObject({ accepted: 3, rejected: 1 });

    const reached = await eventually('the records at the speed layer', async () => {
      const current = await health(runtime);
      return current.speedLayer.records >= 3 ? current : undefined;
    });
    expect(reached.speedLayer.invocations).toBeGreaterThan(0);
    // Nothing more arrives, so every shard catches up.
    await eventually('the speed layer caught up', async () =>
      (await health(runtime)).speedLayer.iteratorAgeMs === 0 ? true : undefined,
    );
  });

  it('counts a request refused whole as one rejection', async () => {
    const response = await postEvents(runtime, '{not json');
    expect(response.status).toBe(400);
    expect((await health(runtime)).ingest).toMatchObject({ accepted: 3, rejected: 2 });
  });

  it('describes the last batch run and the served cutoff after a forced run', async () => {
    // Every event's arrival epoch must end, and its buffer interval pass, before a run's cutoff covers it.
    await new Promise((resolve) => setTimeout(resolve, EPOCH_WAIT_MS));
    const summary = await runtime.runBatchNow();
    const after = await health(runtime);
    const batch = after.batch;
    expect(batch?.runs).toBe(1);
    expect(batch?.cutoffMs).toBe(Math.min(...summary.views.map((view) => view.cutoff ?? Number.NaN)));
    expect(batch?.cutoff).toBe(new Date(batch?.cutoffMs ?? 0).toISOString());
    expect(batch?.cutoffAgeMs).toBeGreaterThanOrEqual(0);
    const lastRun = batch?.lastRun;
    expect(lastRun?.outcome).toBe('succeeded');
    expect(lastRun?.error).toBeUndefined();
    expect(lastRun?.rows).toBeGreaterThan(0);
    expect(lastRun?.window).not.toBeNull();
    expect(Date.parse(lastRun?.window?.to ?? '')).toBe(summary.cutoff);
    expect(lastRun?.bytesScanned).toBe(summary.bytesScanned);
    expect(lastRun?.seconds).toBeGreaterThanOrEqual(0);
    expect(Date.parse(lastRun?.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(lastRun?.startedAt ?? ''));
    expect(lastRun?.views.map((view) => view.view)).toEqual(testRuntimeConfig.views.map((view) => view.name));
    expect(lastRun?.views.every((view) => view.outcome === 'flipped' && view.cutoff !== null)).toBe(true);
  });

  it('answers another method with a 405 naming it, in the API error shape', async () => {
    const response = await fetch(`${runtime.apiUrl}/_local/health`, { method: 'POST' });
    expect(response.status).toBe(405);
    const message = "method: POST is not allowed; GET /_local/health reports the pipeline's health";
    expect(await response.json()).toEqual({ message, errors: [message] });
  });
});

describe('GET /_local/health in Kappa mode', () => {
  let runtime: LocalRuntime<BatchRunSummary>;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ runtime, stop } = await startTestRuntime({ ...testRuntimeConfig, architecture: 'kappa' }, 'health-route-'));
  });
  afterAll(async () => {
    await stop?.();
  });

  it('has no batch section, and lists every view with the generation it serves', async () => {
    const kappa = await health(runtime);
    expect(kappa.architecture).toBe('kappa');
    expect(kappa.batch).toBeNull();
    expect(kappa.generations).toEqual(
      testRuntimeConfig.views.map((view) => ({ view: view.name, served: 1, replays: 0, building: null })),
    );
  });
});
