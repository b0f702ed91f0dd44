/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { LocalRuntime } from '../../local/local-runtime';
import { eventually } from '../support/eventually';
import { startTestRuntime } from '../support/test-runtime';

/**
 * The dashboard on the default view site_metric_hour, whose baseline learns `value` per UTC hour of the day
 * (threshold 4, 30 readings a slot): the band of the selected key, its anomalies as red dots, and why an hour has
 * no band yet. The screenshot is left in test-output/ for a reader to look at.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT_DIR = join(__dirname, '..', '..', 'test-output');
const VIEW = 'site_metric_hour';
const SITE = 'site-baseline';
const METRIC = 'temperature';
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Around 20, spread by about 0.7: a band of roughly 17 to 23 at threshold 4. */
const NOISE = [-1, -0.5, 0, 0.5, 1];

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
  page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
});

afterAll(async () => {
  await browser?.close();
  await stop?.();
});

async function postEvents(events: readonly object[]): Promise<void> {
  const response = await fetch(`${runtime.apiUrl}/events`, { method: 'POST', body: JSON.stringify(events) });
  expect(response.ok).toBe(true);
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(`${runtime.apiUrl}${path}`);
  return (await response.json()) as T;
}

const reading = (eventId: string, value: number, ts: number) => ({
  eventId,
  deviceId: 'device-baseline',
  site: SITE,
  metric: METRIC,
  value,
  ts,
});

const keyParams = () => new URLSearchParams({ site: SITE, metric: METRIC });

describe('local dashboard with a baseline view in headless Chromium', () => {
  it("draws the selected key's band and expected value, marks its anomaly as a red dot, lists it, and says why a cold hour has no band", async () => {
    const spikeAt = Date.now();
    const hour = Math.floor(spikeAt / HOUR_MS) * HOUR_MS;
    // 40 readings near 20 at this UTC hour on the previous 10 days: the hour's slot has a ready baseline.
    const history = Array.from({ length: 40 }, (_, i) =>
      reading(
        `history-${i}`,
        20 + NOISE[i % NOISE.length],
        hour - (1 + (i % 10)) * DAY_MS + 60_000 + Math.floor(i / 10) * 12 * 60_000,
      ),
    );
    await postEvents(history);
    // The spike is scored against what is served when it arrives: the history first.
    const historyRange = new URLSearchParams({ ...Object.fromEntries(keyParams()), from: String(hour - 11 * DAY_MS) });
    historyRange.set('to', String(hour));
    await eventually('the history to be served', async () => {
      const answer = await getJson<{ series?: { buckets: { count?: number }[] }[] }>(`/views/${VIEW}?${historyRange}`);
      const served = (answer.series ?? []).flatMap((s) => s.buckets).reduce((sum, b) => sum + (b.count ?? 0), 0);
      return served === history.length ? served : undefined;
    });
    await postEvents([reading('spike', 100, spikeAt)]);
    const [anomaly] = await eventually('the spike in the anomalies answer', async () => {
      const answer = await getJson<{ anomalies?: { eventId: string; score: number }[] }>(
        `/views/${VIEW}/anomalies?${keyParams()}`,
      );
      return answer.anomalies?.some((a) => a.eventId === 'spike') ? answer.anomalies : undefined;
    });
    expect(anomaly.score).toBeGreaterThan(4);

    await page.goto(`${runtime.apiUrl}/?view=${VIEW}&${keyParams()}`);
    await page.waitForSelector('circle.anomaly', { timeout: 30_000 });
    await page.waitForSelector('rect.band', { timeout: 30_000 });

    // Opened on the avg of the baseline's field, with the band's legend.
    expect(await page.inputValue('#measure')).toBe('avg');
    expect(await page.$eval('#baseline-legend', (legend) => (legend as HTMLElement).hidden)).toBe(false);
    // The band of the spike's hour, with the expected value dashed across it, and the spike's dot above it.
    const hourStart = new Date(hour).toISOString();
    const band = await page.$eval(`rect.band[data-bucket="${hourStart}"]`, (rect) => ({
      top: Number(rect.getAttribute('y')),
      height: Number(rect.getAttribute('height')),
      title: rect.querySelector('title')?.textContent ?? '',
    }));
    expect(band.height).toBeGreaterThan(0);
    expect(band.title).toMatch(/expected 20(\.\d+)?, band 1\d(\.\d+)? – 2\d(\.\d+)? from 40 readings$/);
    expect(
      await page.$$eval('path.expected', (paths) => paths.map((path) => path.getAttribute('stroke-dasharray'))),
    ).not.toHaveLength(0);
    const dot = await page.$eval('circle.anomaly', (circle) => ({
      fill: circle.getAttribute('fill'),
      cy: Number(circle.getAttribute('cy')),
      title: circle.querySelector('title')?.textContent ?? '',
    }));
    expect(dot.fill).toBe('var(--anomaly)');
    expect(dot.cy).toBeLessThan(band.top);
    expect(dot.title).toMatch(
      /: value 100, score [\d.]+ \(high, threshold 4\); expected 20(\.\d+)?, band [\d.]+ – [\d.]+ at slot \d{2}:00 UTC \(40 readings\)$/,
    );
    // Every other hour of the range has no readings in its window yet: it is cold, and the note says why.
    expect(await page.textContent('#baseline-note')).toMatch(
      /^no baseline yet: 0 value readings at \d{2}:00 UTC in the 28-day training window ending .+; scoring needs 30/,
    );
    // The list under the chart: time, key, value, score.
    const rows = await page.$$eval('#anomalies tr.anomaly', (found) =>
      found.map((row) => Array.from(row.querySelectorAll('td')).map((cell) => cell.textContent)),
    );
    expect(rows).toEqual([
      [new Date(spikeAt).toISOString(), `site=${SITE} metric=${METRIC}`, '100', expect.any(String)],
    ]);
    expect(Number(rows[0][3])).toBeGreaterThan(4);
    expect(await page.textContent('#error')).toBe('');

    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'baseline-dashboard.png'), fullPage: true });
  });

  it('asks for every dimension before it draws a band, and still lists the anomalies of the dimensions given', async () => {
    await page.goto(`${runtime.apiUrl}/?view=${VIEW}&site=${SITE}`);
    await page.waitForSelector('#anomalies tr.anomaly', { timeout: 30_000 });
    expect(await page.textContent('#baseline-note')).toBe(
      "give every dimension (site, metric) a value to draw the value baseline's band and mark its anomalies on the chart",
    );
    expect(await page.$$eval('rect.band, circle.anomaly', (marks) => marks.length)).toBe(0);
    expect(await page.$eval('#baseline-legend', (legend) => (legend as HTMLElement).hidden)).toBe(true);
  });

  it('shows a view without a baseline as before: no band, no note, no anomalies list', async () => {
    await page.goto(`${runtime.apiUrl}/?view=device_metric_minute&deviceId=device-baseline&metric=${METRIC}`);
    await page.waitForFunction(() => document.querySelector('#refreshed')?.textContent !== '–', undefined, {
      timeout: 20_000,
    });
    expect(await page.$eval('#anomalies-panel', (panel) => (panel as HTMLElement).hidden)).toBe(true);
    expect(await page.textContent('#baseline-note')).toBe('');
    expect(await page.$$eval('rect.band, circle.anomaly', (marks) => marks.length)).toBe(0);
  });
});
