/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import { formatUtc } from '../../local/dashboard/number-format';
import type { LocalRuntime } from '../../local/local-runtime';
import { getJson, postEvents } from '../support/dashboard-runtime';
import { eventually } from '../support/eventually';
import {
  BATCH_PART,
  SPEED_PART,
  WAIT_MS,
  cellTotal,
  chartOptionWhen,
  keyLines,
  launchChromium,
  newDashboardPage,
  optionTexts,
  optionValues,
  runBatchFromPage,
  saveScreenshot,
  seriesNamed,
  seriesSum,
  timeAxisPixels,
  valueOfItem,
  waitForTableTotals,
  type DashboardOption,
  type DashboardSeries,
} from '../support/headless-chromium';
import { startTestRuntime, testRuntimeConfig } from '../support/test-runtime';

/**
 * A person's first hour with the dashboard: the page opened with no address parameters on a few keys' events, one key
 * picked, a batch run moving its buckets from the speed layer's part to the batch view's, and the same page in Kappa
 * mode, which has no batch layer.
 */

const LAMBDA_TILES = ['events-in', 'events-rejected', 'iterator-age', 'cutoff-age', 'last-run', 'generation'];
const KAPPA_TILES = ['events-in', 'events-rejected', 'iterator-age', 'generation'];

interface KeyEvents {
  readonly deviceId: string;
  readonly metric: string;
  readonly events: number;
}

/** Three keys of different volumes, busiest first: the order the page opens on (ranked by count). */
const LAMBDA_KEYS: readonly KeyEvents[] = [
  { deviceId: 'device-a', metric: 'temperature', events: 6 },
  { deviceId: 'device-b', metric: 'temperature', events: 3 },
  { deviceId: 'device-c', metric: 'humidity', events: 1 },
];
const KAPPA_KEYS: readonly KeyEvents[] = [
  { deviceId: 'device-k', metric: 'pressure', events: 4 },
  { deviceId: 'device-l', metric: 'pressure', events: 2 },
];

const keyName = (key: KeyEvents) => `deviceId=${key.deviceId} metric=${key.metric}`;
const eventCount = (keys: readonly KeyEvents[]) => keys.reduce((sum, key) => sum + key.events, 0);

/** The instants of a series' items: where the bars of the count's parts stand. */
const instantsOf = (series: DashboardSeries | undefined) =>
  (series?.data ?? []).map((item) => Number(valueOfItem(item)[0]));

/**
 * The two grids share one time axis: each instant is drawn at the same x (within a pixel) in the upper grid (key
 * lines) and in the lower one (the count's parts), so a bucket and the cutoff line sit at the same x in both.
 */
async function expectOneTimeAxis(page: Page, instants: readonly number[]): Promise<void> {
  const [upper, lower] = await timeAxisPixels(page, instants);
  upper.forEach((x, i) => expect(Math.abs(x - lower[i])).toBeLessThan(1));
}

/** The range's ends and every bar of the speed layer's part, drawn at one x in both grids. */
async function expectBarsOnOneTimeAxis(page: Page, chart: DashboardOption): Promise<number[]> {
  const [axis] = chart.xAxis;
  const bars = instantsOf(seriesNamed(chart, SPEED_PART));
  await expectOneTimeAxis(page, [Number(axis.min), ...bars, Number(axis.max)]);
  return bars;
}

const tileIds = (page: Page) =>
  page.$$eval('#health .tile', (tiles) => tiles.map((tile) => (tile as HTMLElement).dataset.health));

const tileText = async (page: Page, id: string, part: 'b' | 'small' | 'span') =>
  (await page.textContent(`#health .tile[data-health=${id}] ${part}`)) ?? '';

/** Posts each key's events, all at one instant, plus `bad` events the API rejects; answers the HTTP status. */
async function postKeyEvents(apiUrl: string, keys: readonly KeyEvents[], prefix: string, bad = 0): Promise<number> {
  const ts = Date.now();
  const events: unknown[] = keys.flatMap((key) =>
    Array.from({ length: key.events }, (_, i) => ({
      eventId: `${prefix}-${key.deviceId}-${i}`,
      deviceId: key.deviceId,
      site: 'site-1',
      metric: key.metric,
      value: 20 + i,
      ts,
    })),
  );
  for (let i = 0; i < bad; i += 1) events.push({ deviceId: 'device-x', value: 'hot' });
  return (await postEvents(apiUrl, events)).status;
}

/**
 * Opens the page with no address parameters, waits for a line per key with every event in the speed layer's part,
 * checks the lines are the keys busiest first, and gives the chart then.
 */
async function openOnKeys(page: Page, apiUrl: string, keys: readonly KeyEvents[]): Promise<DashboardOption> {
  await page.goto(`${apiUrl}/`);
  const chart = await chartOptionWhen(
    page,
    'a line per key, busiest first, with every event in the speed layer part',
    (c) => keyLines(c).length === keys.length && seriesSum(seriesNamed(c, SPEED_PART)) === eventCount(keys),
  );
  expect(keyLines(chart).map((s) => s.name)).toEqual(keys.map(keyName));
  return chart;
}

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe('the dashboard in its first hour (Lambda)', () => {
  const [busiest] = LAMBDA_KEYS;
  let runtime: LocalRuntime<BatchRunSummary>;
  let stop: () => Promise<void>;
  let page: Page;

  beforeAll(async () => {
    ({ runtime, stop } = await startTestRuntime());
    page = await newDashboardPage(browser);
  });

  afterAll(async () => {
    await page?.close();
    await stop?.();
  });

  it('opens with no address parameters on the first view, a line per key busiest first, and the health tiles', async () => {
    // One bad event among the good ones: a mixed request is answered 207.
    expect(await postKeyEvents(runtime.apiUrl, LAMBDA_KEYS, 'first', 1)).toBe(207);
    const chart = await openOnKeys(page, runtime.apiUrl, LAMBDA_KEYS);
    expect(seriesSum(seriesNamed(chart, BATCH_PART))).toBe(0);
    // Each key's line sums to its events (the count measure, one bucket or two if a minute ended meanwhile).
    expect(keyLines(chart).map((s) => seriesSum(s))).toEqual(LAMBDA_KEYS.map((key) => key.events));
    expect(chart.useUTC).toBe(true);
    const [axis] = chart.xAxis;
    expect(Number(axis.max) - Number(axis.min)).toBeGreaterThanOrEqual(3_600_000);
    expect(Number(axis.max)).toBeGreaterThanOrEqual(Date.now() - 60_000);
    // The upper and lower grids over one time axis: the range's ends and each bar at the same x in both.
    const bars = await expectBarsOnOneTimeAxis(page, chart);
    expect(bars.length).toBeGreaterThan(0);

    expect(await page.textContent('#title')).toBe('Lambda architecture · local dashboard');
    expect(await page.getAttribute('body', 'data-architecture')).toBe('lambda');
    expect(await page.$eval('#view', (view) => (view as HTMLSelectElement).value)).toBe(
      testRuntimeConfig.views[0].name,
    );
    expect(await optionTexts(page, '#view option')).toEqual(testRuntimeConfig.views.map((view) => view.name));
    // The page opens ranked by the count, top 5, with no key picked.
    expect(await page.$eval('#order-by', (orderBy) => (orderBy as HTMLSelectElement).value)).not.toBe('');
    expect(await page.$eval('#limit', (limit) => (limit as HTMLInputElement).value)).toBe('5');
    expect(await page.$eval('#refreshed', (refreshed) => refreshed.textContent)).toMatch(/^\d{2}:\d{2}:\d{2} UTC$/);
    expect(await page.textContent('#batch-version')).toBe('none yet');
    expect(await page.isHidden('#empty')).toBe(true);

    // The pickers list the key directory's values (read at load and every 10 s).
    await eventually(
      'the pickers listing the directory',
      async () =>
        JSON.stringify(await optionValues(page, 'select[data-dimension=deviceId] option')) ===
          JSON.stringify(['', 'device-a', 'device-b', 'device-c']) &&
        JSON.stringify(await optionValues(page, 'select[data-dimension=metric] option')) ===
          JSON.stringify(['', 'humidity', 'temperature'])
          ? true
          : undefined,
      WAIT_MS,
    );

    // Health: the events in, and the rejected one.
    await eventually(
      'the health tiles counting the accepted and rejected events',
      async () =>
        (await tileText(page, 'events-in', 'small')).startsWith(`${eventCount(LAMBDA_KEYS)} accepted`) &&
        Number(/^(\d+) rejected/.exec(await tileText(page, 'events-rejected', 'small'))?.[1] ?? 0) > 0
          ? true
          : undefined,
      WAIT_MS,
    );
    expect(await tileIds(page)).toEqual(LAMBDA_TILES);
    expect(await tileText(page, 'events-in', 'b')).toMatch(/\/s$/);
    expect(await tileText(page, 'last-run', 'b')).toBe('none yet');
    expect(await page.textContent('#error')).toBe('');
    await saveScreenshot(page, 'dashboard-first-screen.png');
  });

  it('shows one key when its dimensions are picked, in the chart and the table', async () => {
    await page.selectOption('select[data-dimension=deviceId]', busiest.deviceId);
    await page.selectOption('select[data-dimension=metric]', busiest.metric);

    const chart = await chartOptionWhen(
      page,
      'the picked key alone',
      (c) =>
        keyLines(c).length === 1 &&
        keyLines(c)[0].name === keyName(busiest) &&
        seriesSum(seriesNamed(c, SPEED_PART)) === busiest.events,
    );
    expect(seriesSum(keyLines(chart)[0])).toBe(busiest.events);
    await eventually(
      "the table showing the picked key's events",
      async () =>
        JSON.stringify(await optionTexts(page, '#series option')) === JSON.stringify([keyName(busiest)]) &&
        (await cellTotal(page, '.realtime-count')) === busiest.events
          ? true
          : undefined,
      WAIT_MS,
    );
    // The table's key picker names its keys by their text, not their place.
    expect(await page.inputValue('#series')).toBe(keyName(busiest));
    expect(await cellTotal(page, '.batch-count')).toBe(0);
    // The address says what the page shows.
    const address = new URL(page.url()).searchParams;
    expect(address.get('deviceId')).toBe(busiest.deviceId);
    expect(address.get('metric')).toBe(busiest.metric);
    expect(await page.textContent('#error')).toBe('');
  });

  it("moves the key's events from the speed layer's part to the batch view's on a batch run", async () => {
    // Before the click: every event in the speed layer's part, none in the batch view's, no cutoff line.
    const before = await chartOptionWhen(
      page,
      "the key's events in the speed layer part",
      (c) => seriesSum(seriesNamed(c, SPEED_PART)) === busiest.events,
    );
    expect(seriesSum(seriesNamed(before, BATCH_PART))).toBe(0);
    expect(before.series.some((s) => (s.markLine?.data?.length ?? 0) > 0)).toBe(false);
    expect(await cellTotal(page, '.realtime-count')).toBe(busiest.events);
    expect(await cellTotal(page, '.batch-count')).toBe(0);
    expect(await page.textContent('#batch-version')).toBe('none yet');
    expect(await page.textContent('#cutoff')).toBe('–');
    await saveScreenshot(page, 'dashboard-before-flip.png');

    // Every event's epoch must end, and the archive's buffer interval pass, before a run's cutoff covers it.
    await runBatchFromPage(page);

    const after = await chartOptionWhen(
      page,
      "the key's events in the batch view part",
      (c) => seriesSum(seriesNamed(c, BATCH_PART)) === busiest.events,
    );
    expect(seriesSum(seriesNamed(after, SPEED_PART))).toBe(0);
    expect(seriesSum(keyLines(after)[0])).toBe(busiest.events);
    // The table's batch column holds the events, and its speed layer column none.
    await waitForTableTotals(page, busiest.events, 0);

    // The cutoff line: where the served answer's cutoff is, on the batch part and the first key line.
    const { from, to } = { from: Date.now() - 3_600_000, to: Date.now() + 60_000 };
    const params = new URLSearchParams({
      deviceId: busiest.deviceId,
      metric: busiest.metric,
      from: String(from),
      to: String(to),
      granularity: 'minute',
    });
    const answer = await getJson<{ provenance: { cutoffMs: number; batchVersion: string } | null }>(
      runtime.apiUrl,
      `/views/${testRuntimeConfig.views[0].name}?${params}`,
    );
    const cutoffMs = answer.provenance?.cutoffMs;
    expect(cutoffMs).toEqual(expect.any(Number));
    const [axis] = after.xAxis;
    expect(cutoffMs).toBeGreaterThan(Number(axis.min));
    expect(cutoffMs).toBeLessThan(Number(axis.max));
    expect(seriesNamed(after, BATCH_PART)?.markLine?.data?.[0]?.xAxis).toBe(cutoffMs);
    expect(keyLines(after)[0].markLine?.data?.[0]?.xAxis).toBe(cutoffMs);
    // The cutoff line runs through both grids at one x.
    await expectOneTimeAxis(page, [cutoffMs ?? 0]);

    const cutoffText = formatUtc(cutoffMs ?? 0);
    await page.waitForFunction((text) => document.querySelector('#cutoff')?.textContent === text, cutoffText, {
      timeout: WAIT_MS,
    });
    expect(await page.textContent('#batch-version')).toBe(answer.provenance?.batchVersion);
    expect(await page.textContent('#batch-result')).toContain(`cutoff ${cutoffText}`);
    const rows = await eventually(
      'the last-run tile showing rows',
      async () => {
        const match = /^(\d+) rows$/.exec(await tileText(page, 'last-run', 'b'));
        return match === null ? undefined : Number(match[1]);
      },
      WAIT_MS,
    );
    expect(rows).toBeGreaterThan(0);
    expect(await page.textContent('#error')).toBe('');
    await saveScreenshot(page, 'dashboard-batch-flip.png');
  });
});

describe('the dashboard in Kappa mode', () => {
  let runtime: LocalRuntime<BatchRunSummary>;
  let stop: () => Promise<void>;
  let page: Page;

  beforeAll(async () => {
    ({ runtime, stop } = await startTestRuntime(
      { ...testRuntimeConfig, architecture: 'kappa' },
      'local-runtime-kappa-',
    ));
    page = await newDashboardPage(browser);
  });

  afterAll(async () => {
    await page?.close();
    await stop?.();
  });

  it('has no batch layer: no Run batch, no batch provenance, tiles or part', async () => {
    expect(await postKeyEvents(runtime.apiUrl, KAPPA_KEYS, 'kappa')).toBe(200);
    const chart = await openOnKeys(page, runtime.apiUrl, KAPPA_KEYS);
    expect(chart.series.filter((s) => s.xAxisIndex === 1).map((s) => s.name)).toEqual([SPEED_PART]);
    expect(seriesNamed(chart, BATCH_PART)).toBeUndefined();
    await expectBarsOnOneTimeAxis(page, chart);

    expect(await page.textContent('#title')).toBe('Kappa architecture · local dashboard');
    expect(await page.getAttribute('body', 'data-architecture')).toBe('kappa');
    expect(await page.isHidden('#run-batch')).toBe(true);
    const lambdaOnly = await page.$$eval('[data-lambda]', (elements) =>
      elements.map((element) => (element as HTMLElement).hidden && (element as HTMLElement).offsetParent === null),
    );
    expect(lambdaOnly.length).toBeGreaterThan(0);
    expect(lambdaOnly.every(Boolean)).toBe(true);

    await eventually('the health panel', async () => ((await tileIds(page)).length > 0 ? true : undefined), WAIT_MS);
    expect(await tileIds(page)).toEqual(KAPPA_TILES);
    expect(await tileText(page, 'generation', 'b')).toBe('1');

    // The table shows the busiest key, counted by the speed layer only.
    await eventually(
      "the table's speed layer column",
      async () => ((await cellTotal(page, '.realtime-count')) === KAPPA_KEYS[0].events ? true : undefined),
      WAIT_MS,
    );
    expect(await page.$$eval('.batch-count', (cells) => cells.length)).toBe(0);
    expect(await page.textContent('#error')).toBe('');
    await saveScreenshot(page, 'dashboard-kappa.png');
  });
});
