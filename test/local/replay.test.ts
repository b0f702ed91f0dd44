import { measuresFromAttributes } from '../../functions/core/aggregate-attributes';
import { mergeMeasures, type Measures } from '../../functions/core/measures';
import { parseRealtimeSortKey } from '../../functions/core/storage-keys';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import type { PipelineConfig } from '../../functions/core/pipeline-config';
import type { StreamRecord } from '../../functions/core/stream-record';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';
import type { ReplayProgress } from '../../functions/replay/replay-job';
import { dashboardRoutes } from '../../local/dashboard-routes';
import { IotTraffic } from '../../local/iot-traffic';
import { buildLocalHandlers, buildLocalReplay } from '../../local/local-handlers';
import { LocalRuntime } from '../../local/local-runtime';
import { scanItems } from '../batch/batch-views';
import { acceptedRecords, type IngestResult } from '../support/accepted-records';
import {
  answerBuckets,
  asExpected,
  bruteForce,
  bruteForceAnswer,
  presentedBuckets,
  type AnswerSeries,
  type ExpectedBucket,
  type PresentedBucket,
} from '../support/brute-force';
import { eventually } from '../support/eventually';
import { testRuntimeConfig } from '../support/test-runtime';

type Expected = Map<string, PresentedBucket>;

/** The view the tests change: at first every reading, then only readings of 30 and above. */
const VIEW = 'device_metric_minute';
const viewsWith = (filter: unknown[]) =>
  defineViews(DEFAULT_VIEW_DECLARATIONS.map((view) => (view.name === VIEW ? { ...view, filter } : view)));
const before = viewsWith([]);
const after = viewsWith([{ field: 'value', op: 'gte', value: 30 }]);
const viewOf = (views: ViewDefinition[]) => views.find((view) => view.name === VIEW)!;

let dataDir: string;
let runtime: LocalRuntime<BatchRunSummary> | undefined;

async function start(config: PipelineConfig): Promise<LocalRuntime<BatchRunSummary>> {
  runtime = await LocalRuntime.start({
    config,
    dataDir,
    batchingWindowMs: 100,
    buildHandlers: (environment) => buildLocalHandlers(environment, { logLevel: 'SILENT' }),
    localRoutes: (started) => dashboardRoutes(started),
  });
  return runtime;
}

/** Posts events; returns the accepted ones with the identity the stream gave them. */
async function send(events: readonly Record<string, unknown>[]): Promise<StreamRecord[]> {
  const response = await fetch(`${runtime!.apiUrl}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  return acceptedRecords(events, ((await response.json()) as { results: IngestResult[] }).results);
}

/** Late events, and a producer retry of some: the retried ones are new Kinesis records and count again. */
function wave(size: number): Record<string, unknown>[] {
  const events = new IotTraffic({ devices: 4, lateShare: 0.3, invalidShare: 0 }).batch(size);
  return [...events, ...events.slice(0, 5)];
}

interface DeviceAnswer {
  device: string;
  generation: number;
  buckets: Expected;
}

/** One request: one device, every metric, over the whole range. */
async function answerFor(device: string, metrics: readonly string[]): Promise<DeviceAnswer> {
  const from = Date.now() - 3 * 3_600_000;
  const to = Date.now() + 3_600_000;
  const response = await fetch(
    `${runtime!.apiUrl}/views/${VIEW}?deviceId=${device}&metric=${metrics.join(',')}&from=${from}&to=${to}`,
  );
  const body = (await response.json()) as {
    realtimeGeneration: number;
    series: AnswerSeries;
  };
  return { device, generation: body.realtimeGeneration, buckets: answerBuckets(body.series, ['deviceId', 'metric']) };
}

const devicesOf = (records: readonly StreamRecord[]) => [
  ...new Set(records.map((record) => String(record.event.deviceId))),
];
const metricsOf = (records: readonly StreamRecord[]) => [
  ...new Set(records.map((record) => String(record.event.metric))),
];
const sorted = (buckets: Expected) => JSON.stringify([...buckets].sort());
const forDevice = (expected: Expected, device: string) =>
  new Map([...expected].filter(([key]) => key.startsWith(`${encodeURIComponent(device)}|`)));

/**
 * Two brute forces, each over its records with its own definition, added up as stored attributes (an attribute one
 * era lacks counts as nothing), then presented as `view` presents them: what a generation built in two eras holds.
 */
function merged(view: ViewDefinition, ...parts: Map<string, ExpectedBucket>[]): Expected {
  const result = new Map<string, ExpectedBucket>();
  for (const part of parts) {
    for (const [key, bucket] of part) {
      const current = result.get(key);
      result.set(key, current === undefined ? bucket : mergeMeasures(current, bucket));
    }
  }
  return presentedBuckets(view, result);
}

async function expectAnswers(records: readonly StreamRecord[], expected: Expected, generation: number) {
  for (const device of devicesOf(records)) {
    await eventually(`${device} to answer generation ${generation} as expected`, async () => {
      const answer = await answerFor(device, metricsOf(records));
      return answer.generation === generation && sorted(answer.buckets) === sorted(forDevice(expected, device))
        ? true
        : undefined;
    });
  }
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'replay-'));
});

afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

describe('replay: a view rebuilt from the master dataset into a new generation, then flipped', () => {
  it('after a view declaration changes, rebuilds it exactly while events arrive, through a killed and resumed replay, and no answer mixes generations', async () => {
    const kappa = (views: ViewDefinition[]): PipelineConfig => ({ ...testRuntimeConfig, views, architecture: 'kappa' });
    await start(kappa(before));
    const first = await send(wave(120));
    await expectAnswers(first, bruteForceAnswer(viewOf(before), first), 1);

    // The declaration changes: the served generation folds new events with the new definition from now on.
    await runtime!.stop();
    await start(kappa(after));
    const second = await send(wave(120));
    let all = [...first, ...second];
    await expectAnswers(
      all,
      merged(viewOf(after), bruteForce(viewOf(before), first), bruteForce(viewOf(after), second)),
      1,
    );

    // The replay, killed midway through its backfill, while events keep arriving on both sides of the hand-off.
    const replay = buildLocalReplay(runtime!.environment, { progressEvery: 5 });
    const controller = new AbortController();
    const progress: ReplayProgress[] = [];
    const killed = replay(VIEW, {
      signal: controller.signal,
      onProgress: (report) => {
        progress.push(report);
        if (report.phase === 'backfilling' && (report.itemsWritten ?? 0) >= 5) controller.abort(new Error('killed'));
      },
    });
    const outcome = killed.then(
      () => 'finished',
      (error: unknown) => (error as Error).message,
    );
    all = [...all, ...(await send(wave(40)))];
    // The replay reports its hand-off once every consumer can know of it: on a loaded machine, after the wave.
    const { handoffMs } = await eventually('the replay to report its hand-off', () => progress[0]);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, handoffMs - Date.now()) + 300));
    all = [...all, ...(await send(wave(40)))];
    expect(await outcome).toBe('killed');
    const written = progress.filter((report) => report.phase === 'backfilling');
    const writtenBeforeKill = written.at(-1)!.itemsWritten!;
    expect(writtenBeforeKill).toBeGreaterThanOrEqual(5);

    // Still generation 1 until the flip, with the events of the third wave folded by the new definition.
    const third = all.slice(first.length + second.length);
    const generationOne = merged(
      viewOf(after),
      bruteForce(viewOf(before), first),
      bruteForce(viewOf(after), [...second, ...third]),
    );
    await expectAnswers(all, generationOne, 1);

    // Resumed, with requests running all along: each answer is all generation 1 or all generation 2.
    const generationTwo = bruteForceAnswer(viewOf(after), all);
    const observed: DeviceAnswer[] = [];
    let replaying = true;
    const querying = (async () => {
      while (replaying) {
        for (const device of devicesOf(all)) observed.push(await answerFor(device, metricsOf(all)));
      }
    })();
    const summary = await replay(VIEW);
    replaying = false;
    await querying;

    expect(summary).toMatchObject({ view: VIEW, from: 1, to: 2 });
    // Resumed from the progress the killed run saved: the items it wrote are not written again.
    expect(summary.backfilledItems).toBeGreaterThan(writtenBeforeKill);
    expect(summary.itemsAlreadyWritten).toBe(0);
    await expectAnswers(all, generationTwo, 2);
    expect(observed.length).toBeGreaterThan(0);
    let seen = 1;
    for (const answer of observed) {
      expect(answer.generation).toBeGreaterThanOrEqual(seen);
      seen = answer.generation;
      const expected = answer.generation === 1 ? generationOne : generationTwo;
      expect(sorted(answer.buckets)).toBe(sorted(forDevice(expected, answer.device)));
    }

    // The old generation is unserved and now expires.
    const { Items } = await runtime!.environment.dynamodb.send(
      new ScanCommand({ TableName: runtime!.environment.resources.realtimeTable }),
    );
    const old = (Items ?? []).filter((item) => item.pk?.S?.startsWith(`${VIEW}@1#`));
    expect(old.length).toBeGreaterThan(0);
    expect(old.every((item) => Number(item.expiresAt?.N) <= Date.now() / 1000 + 601)).toBe(true);
    const current = (Items ?? []).filter((item) => item.pk?.S?.startsWith(`${VIEW}@2#`));
    expect(current.every((item) => item.expiresAt === undefined)).toBe(true);
  }, 300_000);

  it('in Lambda mode, fills a newly declared view with sketch measures from the whole history without waiting for a batch run, and a run stopped after its flip is finished by the next', async () => {
    const added = defineViews([
      ...DEFAULT_VIEW_DECLARATIONS,
      {
        name: 'device_site_minute',
        dimensions: ['deviceId', 'site'],
        granularity: 'minute',
        // Sketches and a sum of squares, so that the backfill's SQL (grouped by arrival epoch) carries their cells
        // into realtime items. The boundaries include the metrics' baselines, which quarter-rounded readings hit.
        measures: {
          count: 'count',
          sum: { sum: 'value' },
          spread: { stddev: 'value' },
          metrics: { distinct: 'metric', precision: 4 },
          readings: { distinct: 'eventId' },
          values: { histogram: 'value', boundaries: [0, 15, 21, 27, 45, 65, 1000, 1013, 1028] },
        },
      },
    ]);
    const newView = added.at(-1)!;
    await start({ ...testRuntimeConfig, views: defineViews(DEFAULT_VIEW_DECLARATIONS) });
    const earlier = await send(wave(100));
    await expectAnswers(earlier, bruteForceAnswer(viewOf(defineViews(DEFAULT_VIEW_DECLARATIONS)), earlier), 1);
    await runtime!.stop();

    await start({ ...testRuntimeConfig, views: added });
    const later = await send(wave(30));
    const all = [...earlier, ...later];
    const query = async () => {
      const sites = [...new Set(all.map((record) => record.event.site))];
      const response = await fetch(
        `${runtime!.apiUrl}/views/${newView.name}?deviceId=${devicesOf(all).join(',')}&site=${sites.join(',')}` +
          `&from=${Date.now() - 3 * 3_600_000}&to=${Date.now() + 3_600_000}`,
      );
      const body = (await response.json()) as {
        provenance: unknown;
        realtimeGeneration: number;
        series: AnswerSeries;
      };
      return { body, buckets: answerBuckets(body.series, newView.dimensions) };
    };
    // Before the replay the new view holds only what arrived since it was declared.
    await eventually('the new view to count the later events', async () =>
      sorted((await query()).buckets) === sorted(bruteForceAnswer(newView, later)) ? true : undefined,
    );

    // Stopped right after its flip, before the old generation had a TTL: running it again finishes just that.
    const crashing = buildLocalReplay(runtime!.environment, {
      overrides: {
        expireGeneration: async () => {
          throw new Error('crashed after the flip');
        },
      },
    });
    await expect(crashing(newView.name)).rejects.toThrow('crashed after the flip');
    const summary = await buildLocalReplay(runtime!.environment)(newView.name);
    expect(summary).toMatchObject({ view: newView.name, from: 1, to: 2, backfilledItems: 0 });
    expect(summary.oldGenerationItemsExpired).toBeGreaterThan(0);
    const { body, buckets } = await query();
    expect(body.provenance).toBeNull();
    expect(body.realtimeGeneration).toBe(2);
    expect(sorted(buckets)).toBe(sorted(bruteForceAnswer(newView, all)));
    // As stored: generation 2's items, merged over arrival epochs, hold brute force's registers, bins and sums.
    const prefix = `${newView.name}@2#`;
    const stored = new Map<string, { dimensionKey: string; bucket: number; measures: Measures }>();
    for (const item of await scanItems(runtime!.environment.dynamodb, runtime!.environment.resources.realtimeTable)) {
      if (!item.pk?.S?.startsWith(prefix)) continue;
      const dimensionKey = item.pk.S.slice(prefix.length);
      const { bucket } = parseRealtimeSortKey(item.sk?.S ?? '');
      const measures = measuresFromAttributes(item, newView.stored);
      const existing = stored.get(`${dimensionKey}@${bucket}`)?.measures;
      stored.set(`${dimensionKey}@${bucket}`, {
        dimensionKey,
        bucket,
        measures: existing === undefined ? measures : mergeMeasures(existing, measures),
      });
    }
    expect(asExpected(stored.values())).toEqual(bruteForce(newView, all));
    // Several readings in some bucket: the registers merged across events, not one event's.
    const readings = newView.stored.find((measure) => measure.kind === 'distinct' && measure.field === 'eventId');
    expect(
      [...stored.values()].some(({ measures }) => (measures.distinct[readings?.attribute ?? '']?.size ?? 0) > 1),
    ).toBe(true);
  }, 300_000);
});
