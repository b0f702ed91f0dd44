/// <reference lib="dom" />
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import { dashboardRoutes } from '../../local/dashboard-routes';
import { localPipelineConfig } from '../../local/local-config';
import { buildLocalHandlers } from '../../local/local-handlers';
import { LocalRuntime } from '../../local/local-runtime';

/**
 * The dashboard on the web-requests example (`npm start -- --config examples/web-requests.json`), whose views
 * declare sketch measures: a latency histogram shown as quantile columns, a stddev and a count of distinct paths.
 */
const EXAMPLE = join(__dirname, '..', '..', 'examples', 'web-requests.json');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let dataDir: string;
let runtime: LocalRuntime<BatchRunSummary>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sketch-dashboard-'));
  runtime = await LocalRuntime.start({
    config: { ...localPipelineConfig({ batchScheduleMinutes: 60 }, undefined, EXAMPLE), epochLengthMs: 5_000 },
    dataDir,
    batchingWindowMs: 100,
    buildHandlers: (environment) => buildLocalHandlers(environment, { logLevel: 'SILENT' }),
    localRoutes: (started) => dashboardRoutes(started),
  });
  // The flags keep Chromium off the network it cannot reach here, and sandbox-free as root.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
  rmSync(dataDir, { recursive: true, force: true });
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
    await fetch(`${runtime.apiUrl}/events`, { method: 'POST', body: JSON.stringify(requests) });
    await page.goto(`${runtime.apiUrl}/?view=path_status_minute&path=/search&status=200&range=3600000`);
    await page.waitForFunction(
      () => Number(document.querySelector('.realtime-count')?.textContent ?? 0) === 6,
      undefined,
      { timeout: 20_000 },
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
    await page.selectOption('#measure', 'latency@0.99');
    await page.waitForFunction(() => document.querySelector('#chart text')?.textContent?.startsWith('latency p99'));
    expect(await page.textContent('#error')).toBe('');
    await page.screenshot({ path: join(tmpdir(), 'sketch-dashboard.png') });
  });

  it('shows a distinct count merged over every country, and states its standard error', async () => {
    await page.goto(`${runtime.apiUrl}/?view=country_hour&range=3600000`);
    await page.waitForFunction(() => document.querySelector('td[data-measure="paths"]') !== null, undefined, {
      timeout: 20_000,
    });
    const [[paths]] = await cells('td[data-measure="paths"]');
    expect(paths).toBe('1');
    expect(await page.textContent('#accuracy')).toBe('paths: standard error 1.6%');
    expect(await page.textContent('#error')).toBe('');
  });
});
