/// <reference lib="dom" />
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { LocalRuntime } from '../../local/local-runtime';
import { EPOCH_WAIT_MS, startTestRuntime, testRuntimeConfig } from '../support/test-runtime';

const config = testRuntimeConfig;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime());
  // The flags keep Chromium off the network it cannot reach here, and sandbox-free as root.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await stop?.();
});

const total = (selector: string) =>
  page.$$eval(selector, (cells) => cells.reduce((sum, cell) => sum + Number(cell.textContent ?? 0), 0));

describe('local dashboard in headless Chromium', () => {
  it('loads, with the views listed and no batch version yet', async () => {
    await page.goto(`${runtime.apiUrl}/?view=device_metric_minute&deviceId=device-b&metric=temperature&range=3600000`);
    await page.waitForFunction(() => document.querySelector('#refreshed')?.textContent !== '–');
    expect(await page.$$eval('#view option', (options) => options.map((option) => option.textContent))).toEqual(
      config.views.map((view) => view.name),
    );
    expect(await page.textContent('#batch-version')).toBe('none yet');
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
    await fetch(`${runtime.apiUrl}/events`, { method: 'POST', body: JSON.stringify(events) });
    await page.waitForFunction(
      () => Number(document.querySelector('.realtime-count')?.textContent ?? 0) > 0,
      undefined,
      { timeout: 20_000 },
    );
    expect(await total('.realtime-count')).toBe(5);
    expect(await total('.batch-count')).toBe(0);
    expect(
      await page.$$eval('rect.realtime', (bars) => bars.some((bar) => Number(bar.getAttribute('height')) > 0)),
    ).toBe(true);
  });

  it('changes after a batch flip: the counts move to the batch part and the version and cutoff appear', async () => {
    await new Promise((resolve) => setTimeout(resolve, EPOCH_WAIT_MS));
    await page.click('#run-batch');
    await page.waitForFunction(() => document.querySelector('#batch-version')?.textContent !== 'none yet', undefined, {
      timeout: 20_000,
    });
    await page.waitForFunction(() => Number(document.querySelector('.batch-count')?.textContent ?? 0) > 0);
    expect(await total('.batch-count')).toBe(5);
    expect(await total('.realtime-count')).toBe(0);
    expect(await page.textContent('#cutoff')).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    await page.screenshot({ path: join(tmpdir(), 'dashboard.png') });
  });

  it('groups over a dimension left empty, and ranks keys by a measure', async () => {
    await fetch(`${runtime.apiUrl}/events`, {
      method: 'POST',
      body: JSON.stringify(
        [1, 2, 3].map((i) => ({
          eventId: `c-${i}`,
          deviceId: 'device-c',
          site: 's',
          metric: 'temperature',
          value: 100 + i,
          ts: Date.now(),
        })),
      ),
    });
    // deviceId left empty: one series for the metric, merging device-b (batch) and device-c (speed layer).
    await page.goto(`${runtime.apiUrl}/?view=device_metric_minute&metric=temperature&range=3600000`);
    await page.waitForFunction(
      () => Number(document.querySelector('.realtime-count')?.textContent ?? 0) > 0,
      undefined,
      {
        timeout: 20_000,
      },
    );
    expect(await page.$$eval('#series option', (options) => options.map((option) => option.textContent))).toEqual([
      'metric=temperature',
    ]);
    expect((await total('.batch-count')) + (await total('.realtime-count'))).toBe(8);

    // Ranked by max: device-c's 103 above device-b's 4, one series per key in rank order.
    await page.goto(
      `${runtime.apiUrl}/?view=device_metric_minute&metric=temperature&range=3600000&orderBy=max&limit=2`,
    );
    await page.waitForFunction(() => document.querySelectorAll('#series option').length === 2, undefined, {
      timeout: 20_000,
    });
    expect(await page.$$eval('#series option', (options) => options.map((option) => option.textContent))).toEqual([
      'deviceId=device-c metric=temperature',
      'deviceId=device-b metric=temperature',
    ]);
    expect(await page.textContent('#error')).toBe('');
  });
});
