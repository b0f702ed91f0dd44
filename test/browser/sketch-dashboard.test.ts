/// <reference lib="dom" />
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import { localPipelineConfig } from '../../local/local-config';
import type { LocalRuntime } from '../../local/local-runtime';
import { getJson, postEvents } from '../support/dashboard-runtime';
import { startTestRuntime } from '../support/test-runtime';
import {
  WAIT_MS,
  chartOptionWhen,
  keyLines,
  launchChromium,
  newDashboardPage,
  optionTexts,
  saveScreenshot,
  valueOfItem,
} from '../support/headless-chromium';

/**
 * The dashboard on the web-requests example (`npm start -- --config examples/web-requests.json`), whose views
 * declare sketch measures: a latency histogram shown as quantile columns, a stddev and a count of distinct paths.
 */
const EXAMPLE = join(__dirname, '..', '..', 'examples', 'web-requests.json');

let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime(
    { ...localPipelineConfig({ batchScheduleMinutes: 60 }, undefined, EXAMPLE), epochLengthMs: 5_000 },
    'sketch-dashboard-',
  ));
  browser = await launchChromium();
  page = await newDashboardPage(browser);
});

afterAll(async () => {
  await browser?.close();
  await stop?.();
});

const cells = (selector: string) =>
  page.$$eval(selector, (found) => found.map((cell) => [cell.textContent ?? '', cell.getAttribute('title') ?? '']));

describe('local dashboard with sketch measures in headless Chromium', () => {
  it("shows a histogram as its quantiles' estimates, rounded, with their bounds, and the answer's accuracy", async () => {
    const at = Date.now();
    const latencies = [12.345678, 40, 41, 42, 250.5, 1234.5678];
    const requests = latencies.map((latencyMs, i) => ({
      requestId: `s-${i}`,
      path: '/search',
      status: '200',
      country: i % 2 === 0 ? 'US' : 'DE',
      latencyMs,
      bytes: 100,
      at,
    }));
    await postEvents(runtime.apiUrl, requests);
    await page.goto(`${runtime.apiUrl}/?view=path_status_minute&path=/search&status=200&range=3600000`);
    await page.waitForFunction(
      () => Number(document.querySelector('.realtime-count')?.textContent ?? 0) === 6,
      undefined,
      { timeout: WAIT_MS },
    );
    expect(await page.$$eval('#buckets th', (headers) => headers.map((header) => header.textContent))).toEqual([
      'bucket',
      'requests',
      'maxLatency',
      'avgLatency',
      'bytes',
      'latency p50',
      'latency p90',
      'latency p99',
      'sdLatency',
      'requests from batch',
      'requests from speed',
    ]);
    // Estimates of four significant digits at most, each with the bin that holds the true quantile.
    const quantiles = await cells('td[data-quantile]');
    expect(quantiles).toHaveLength(3);
    for (const [text, title] of quantiles) {
      expect(Number(text)).toBe(Number(Number(text).toPrecision(4)));
      expect(title).toMatch(/^in \([\d.]+, [\d.]+\]$/);
    }
    const [median] = quantiles;
    const [lower, upper] = /^in \(([\d.]+), ([\d.]+)\]$/.exec(median[1])!.slice(1).map(Number);
    expect(lower < 41 && 41 <= upper).toBe(true);
    const [[sd]] = await cells('td[data-measure="sdLatency"]');
    expect(sd).toBe('480.5');
    expect(await page.textContent('#accuracy')).toMatch(/^latency: quantiles within 2\.0% between 1 and [\d.]+$/);
    // A histogram cannot rank keys: it is not offered, its quantile lines can be charted.
    const values = (selector: string) =>
      page.$$eval(selector, (options) => options.map((option) => option.getAttribute('value')));
    expect(await values('#order-by option')).toEqual([
      '',
      'requests',
      'maxLatency',
      'avgLatency',
      'bytes',
      'sdLatency',
    ]);
    expect(await values('#measure option')).toEqual([
      'requests',
      'maxLatency',
      'avgLatency',
      'bytes',
      'latency@0.5',
      'latency@0.9',
      'latency@0.99',
      'sdLatency',
    ]);
    // Charting the p99: the first key's line is the answer's p99 estimates, a point in the middle of each minute.
    await page.selectOption('#measure', 'latency@0.99');
    const p99Line = await chartOptionWhen(
      page,
      'the chart to show latency p99',
      (option) => option.yAxis[0]?.name === 'latency p99',
    );
    const [firstLine] = keyLines(p99Line);
    expect(firstLine.name).toBe('path=/search status=200');
    const { min: from, max: to } = p99Line.xAxis[0];
    const params = new URLSearchParams({ path: '/search', status: '200', granularity: 'minute' });
    params.set('from', String(from));
    params.set('to', String(to));
    params.set('quantiles', '0.5,0.9,0.99');
    const answer = await getJson<{
      series: { buckets: { startMs: number; latency: Record<string, { estimate: number }> }[] }[];
    }>(runtime.apiUrl, `/views/path_status_minute?${params}`);
    const p99s = answer.series[0].buckets.map((b) => [b.startMs + 30_000, b.latency['0.99'].estimate]);
    expect(p99s).toHaveLength(1);
    expect(p99s[0][1]).toBeGreaterThan(1000);
    expect(firstLine.data?.map(valueOfItem)).toEqual(p99s);
    expect(await page.textContent('#error')).toBe('');
    await saveScreenshot(page, 'sketch-dashboard.png');
  });

  it('shows a distinct count merged over every country, and states its standard error', async () => {
    // Every country left at "any" and no ranking (orderBy empty): one series, the merge of every key.
    await page.goto(`${runtime.apiUrl}/?view=country_hour&range=3600000&orderBy=`);
    await page.waitForFunction(() => document.querySelector('td[data-measure="paths"]') !== null, undefined, {
      timeout: WAIT_MS,
    });
    expect(await optionTexts(page, '#series option')).toEqual(['all keys']);
    const [[paths]] = await cells('td[data-measure="paths"]');
    expect(paths).toBe('1');
    expect(await page.textContent('#accuracy')).toBe('paths: standard error 1.6%');
    expect(await page.textContent('#error')).toBe('');
  });
});
