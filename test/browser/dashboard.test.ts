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
  chartOption,
  keyLines,
  launchChromium,
  newDashboardPage,
  optionTexts,
  runBatchFromPage,
  saveScreenshot,
  seriesTotal,
  timeAxisPixels,
  waitForRefresh,
  waitForTableTotals,
} from '../support/headless-chromium';
import { startTestRuntime, testRuntimeConfig } from '../support/test-runtime';

const config = testRuntimeConfig;
const KEY_B = 'deviceId=device-b metric=temperature';
const KEY_C = 'deviceId=device-c metric=temperature';

let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime());
  browser = await launchChromium();
  page = await newDashboardPage(browser);
});

afterAll(async () => {
  await browser?.close();
  await stop?.();
});

/** The names of the chart's key lines (one per key shown), in the chart's order. */
const keyLineNames = async () => keyLines(await chartOption(page)).map((series) => series.name);

const seriesOptions = () => optionTexts(page, '#series option');

describe('local dashboard in headless Chromium', () => {
  it('loads, with the views listed and no batch version yet', async () => {
    await page.goto(`${runtime.apiUrl}/?view=device_metric_minute&deviceId=device-b&metric=temperature&range=3600000`);
    await waitForRefresh(page);
    expect(await optionTexts(page, '#view option')).toEqual(config.views.map((view) => view.name));
    expect(await page.textContent('#batch-version')).toBe('none yet');
    expect(await page.textContent('#cutoff')).toBe('–');
    expect(await page.textContent('#error')).toBe('');
  });

  it('shows the speed layer part after events are sent', async () => {
    const ts = Date.now();
    const events = Array.from({ length: 5 }, (_, i) => ({
      eventId: `b-${i}`,
      deviceId: 'device-b',
      site: 's',
      metric: 'temperature',
      value: i,
      ts,
    }));
    await postEvents(runtime.apiUrl, events);
    await waitForTableTotals(page, 0, 5);
    // The lower grid: all five counted by the speed layer, none by the batch view yet.
    await eventually('the speed part of the chart to hold the five events', async () =>
      (await seriesTotal(page, SPEED_PART)) === 5 ? true : undefined,
    );
    expect(await seriesTotal(page, BATCH_PART)).toBe(0);
    expect(await keyLineNames()).toEqual([KEY_B]);
  });

  it('changes after a batch flip: the counts move to the batch part and the version and cutoff appear', async () => {
    await runBatchFromPage(page);
    await waitForTableTotals(page, 5, 0);
    await eventually('the batch part of the chart to hold the five events', async () =>
      (await seriesTotal(page, BATCH_PART)) === 5 ? true : undefined,
    );
    expect(await seriesTotal(page, SPEED_PART)).toBe(0);

    // The cutoff, as the API answers it: in the provenance, and as the vertical line through both grids.
    const params = new URLSearchParams({ deviceId: 'device-b', metric: 'temperature' });
    const answer = await getJson<{ provenance: { cutoffMs: number; batchVersion: string } }>(
      runtime.apiUrl,
      `/views/device_metric_minute?${params}`,
    );
    const { cutoffMs, batchVersion } = answer.provenance;
    await eventually('the page to show the batch version', async () =>
      (await page.textContent('#batch-version')) === batchVersion ? true : undefined,
    );
    expect(await page.textContent('#cutoff')).toBe(formatUtc(cutoffMs));
    expect(await page.textContent('#cutoff')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
    const option = await chartOption(page);
    const cutoffLines = option.series.flatMap((series) => series.markLine?.data?.map((mark) => mark.xAxis) ?? []);
    expect(cutoffLines.length).toBeGreaterThan(0);
    expect(new Set(cutoffLines)).toEqual(new Set([cutoffMs]));
    expect(await page.textContent('#batch-result')).toContain(`Batch run at cutoff ${formatUtc(cutoffMs)}`);
    expect(await page.textContent('#error')).toBe('');
    await saveScreenshot(page, 'dashboard.png');
  });

  it('groups over a dimension left empty, and ranks keys by a measure', async () => {
    await postEvents(
      runtime.apiUrl,
      [1, 2, 3].map((i) => ({
        eventId: `c-${i}`,
        deviceId: 'device-c',
        site: 's',
        metric: 'temperature',
        value: 100 + i,
        ts: Date.now(),
      })),
    );
    // deviceId left empty and no ranking (orderBy empty): one series for the metric, merging device-b (batch) and
    // device-c (speed layer).
    await page.goto(`${runtime.apiUrl}/?view=device_metric_minute&metric=temperature&range=3600000&orderBy=`);
    await waitForTableTotals(page, 5, 3);
    expect(await seriesOptions()).toEqual(['metric=temperature']);
    expect(await keyLineNames()).toEqual(['metric=temperature']);
    expect(await seriesTotal(page, BATCH_PART)).toBe(5);
    expect(await seriesTotal(page, SPEED_PART)).toBe(3);

    // Left to itself, the page opens ranked by the count, busiest first: device-b's 5 above device-c's 3.
    await page.goto(`${runtime.apiUrl}/?view=device_metric_minute&metric=temperature&range=3600000`);
    await eventually(
      'two keys ranked by count',
      async () => ((await seriesOptions()).length === 2 ? true : undefined),
      WAIT_MS,
    );
    expect(await page.inputValue('#order-by')).toBe('count');
    expect(await seriesOptions()).toEqual([KEY_B, KEY_C]);
    expect(await keyLineNames()).toEqual([KEY_B, KEY_C]);

    // Ranked by max: device-c's 103 above device-b's 4, one series per key in rank order.
    await page.goto(
      `${runtime.apiUrl}/?view=device_metric_minute&metric=temperature&range=3600000&orderBy=max&limit=2`,
    );
    await eventually(
      'two keys ranked by max',
      async () => ((await seriesOptions()).length === 2 ? true : undefined),
      WAIT_MS,
    );
    expect(await seriesOptions()).toEqual([KEY_C, KEY_B]);
    expect(await keyLineNames()).toEqual([KEY_C, KEY_B]);
    expect(await page.textContent('#error')).toBe('');
  });

  it("draws both grids over one time axis, so a bucket's bar sits under its point", async () => {
    const event = { eventId: 'axis-1', deviceId: 'device-axis', site: 's', metric: 'temperature', value: 1 };
    await postEvents(runtime.apiUrl, [{ ...event, ts: Date.now() }]);
    await page.goto(
      `${runtime.apiUrl}/?view=device_metric_minute&deviceId=device-axis&metric=temperature&range=3600000`,
    );
    // A bar in the lower grid: by default ECharts widens a time axis to make room for its bars (containShape).
    await eventually('the event in the chart', async () =>
      (await seriesTotal(page, SPEED_PART)) === 1 ? true : undefined,
    );
    const { xAxis } = await chartOption(page);
    const [from, to] = [xAxis[0].min ?? 0, xAxis[0].max ?? 0];
    expect([xAxis[1].min, xAxis[1].max]).toEqual([from, to]);
    // Where each axis puts the range's ends and middle, in pixels: the same x in the upper and the lower grid.
    const pixels = (await timeAxisPixels(page, [from, (from + to) / 2, to])).map((xs) => xs.map(Math.round));
    expect(pixels[1]).toEqual(pixels[0]);
  });
});
