/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { LocalRuntime } from '../../local/local-runtime';
import { getJson as getApiJson, postEvents as postApiEvents } from '../support/dashboard-runtime';
import { eventually } from '../support/eventually';
import {
  WAIT_MS,
  chartOption,
  chartOptionWhen,
  launchChromium,
  newDashboardPage,
  saveScreenshot,
  seriesNamed,
  valueOfItem,
  waitForRefresh,
  type DashboardOption,
} from '../support/headless-chromium';
import { startTestRuntime } from '../support/test-runtime';

/**
 * The dashboard on the default view site_metric_hour, whose baseline learns `value` per UTC hour of the day
 * (threshold 4, 30 readings a slot): the band of the selected key (a custom series of ECharts), its anomalies (a
 * scatter series), and why an hour has no band yet. The screenshot is left in test-output/ for a reader to look at.
 */
const BAND = 'baseline band (expected ± threshold × stddev)';
const ANOMALIES = 'anomalies';
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
  browser = await launchChromium();
  page = await newDashboardPage(browser);
});

afterAll(async () => {
  await browser?.close();
  await stop?.();
});

async function postEvents(events: readonly object[]): Promise<void> {
  expect((await postApiEvents(runtime.apiUrl, events)).ok).toBe(true);
}

const getJson = <T>(path: string): Promise<T> => getApiJson<T>(runtime.apiUrl, path);

const reading = (eventId: string, value: number, ts: number) => ({
  eventId,
  deviceId: 'device-baseline',
  site: SITE,
  metric: METRIC,
  value,
  ts,
});

const keyParams = () => new URLSearchParams({ site: SITE, metric: METRIC });

/** Waits for the chart to be drawn (the page refreshed once) and gives its option. */
async function drawnOption(): Promise<DashboardOption> {
  await waitForRefresh(page);
  return chartOption(page);
}

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
    const option = await chartOptionWhen(
      page,
      'the band and the anomaly on the chart',
      (drawn) => seriesNamed(drawn, BAND) !== undefined && seriesNamed(drawn, ANOMALIES) !== undefined,
    );

    // Opened on the avg of the baseline's field; the legend names the key's line, the band and the anomalies.
    expect(await page.inputValue('#measure')).toBe('avg');
    const names = option.series.map((series) => series.name);
    expect(names).toEqual(expect.arrayContaining([`site=${SITE} metric=${METRIC}`, BAND, ANOMALIES]));
    // The band of the spike's hour: [start, end, lower, upper, expected], about 17 to 23 around an expected 20.
    const bandRows = (seriesNamed(option, BAND)?.data ?? []).map(valueOfItem) as number[][];
    const spikeHour = bandRows.find(([start]) => start === hour);
    expect(spikeHour).toBeDefined();
    const [, end, lower, upper, expected] = spikeHour!;
    expect(end).toBe(hour + HOUR_MS);
    expect(lower).toBeLessThan(20);
    expect(upper).toBeGreaterThan(20);
    expect(lower).toBeGreaterThan(16);
    expect(upper).toBeLessThan(24);
    expect(expected).toBeCloseTo(20, 0);
    // Every band row carries its expected value inside it (drawn dashed across the band).
    for (const [, , low, high, middle] of bandRows) expect(low <= middle && middle <= high).toBe(true);
    // The spike's dot: at its time and value, above the band.
    const dots = (seriesNamed(option, ANOMALIES)?.data ?? []).map(valueOfItem);
    expect(dots).toEqual([[spikeAt, 100]]);
    expect(Number(dots[0][1])).toBeGreaterThan(upper);
    // What the dot's tooltip said is the title of its row in the list under the chart.
    const titles = await page.$$eval('#anomalies tr.anomaly', (found) => found.map((row) => row.getAttribute('title')));
    expect(titles).toHaveLength(1);
    expect(titles[0]).toMatch(
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

    await saveScreenshot(page, 'baseline-dashboard.png');
  });

  it('asks for every dimension before it draws a band, and still lists the anomalies of the dimensions given', async () => {
    await page.goto(`${runtime.apiUrl}/?view=${VIEW}&site=${SITE}`);
    await page.waitForSelector('#anomalies tr.anomaly', { timeout: WAIT_MS });
    expect(await page.textContent('#baseline-note')).toBe(
      "give every dimension (site, metric) a value to draw the value baseline's band and mark its anomalies on the chart",
    );
    // No band nor anomalies on the chart, nor in its legend: only the keys' lines and the count's parts.
    const names = (await drawnOption()).series.map((series) => series.name);
    expect(names).toContain(`site=${SITE} metric=${METRIC}`);
    expect(names).not.toContain(BAND);
    expect(names).not.toContain(ANOMALIES);
  });

  it('shows a view without a baseline as before: no band, no note, no anomalies list', async () => {
    await page.goto(`${runtime.apiUrl}/?view=device_metric_minute&deviceId=device-baseline&metric=${METRIC}`);
    const names = (await drawnOption()).series.map((series) => series.name);
    expect(await page.$eval('#anomalies-panel', (panel) => (panel as HTMLElement).hidden)).toBe(true);
    expect(await page.textContent('#baseline-note')).toBe('');
    expect(names).not.toContain(BAND);
    expect(names).not.toContain(ANOMALIES);
  });
});
