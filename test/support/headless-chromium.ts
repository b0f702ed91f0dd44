/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually } from './eventually';
import { EPOCH_WAIT_MS } from './test-runtime';

/** Debian's Chromium, driven by playwright-core; CHROMIUM_PATH points elsewhere. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where the browser tests leave their screenshots for a reader to look at. */
export const SCREENSHOT_DIR = join(__dirname, '..', '..', 'test-output');

/** Every wait's bound in the browser tests: generous, so that a loaded machine is slow, never red. */
export const WAIT_MS = 30_000;

/** The window the dashboard is looked at in: wide and tall enough for both grids, the tiles and the table. */
export const DASHBOARD_VIEWPORT = { width: 1280, height: 1100 } as const;

/** The names of the lower grid's series: where each bucket's events were counted. */
export const BATCH_PART = 'from the batch view';
export const SPEED_PART = 'from the speed layer';

/** The flags keep Chromium off the network it cannot reach here, and sandbox-free as root. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

/** Headless Chromium with the flags above. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
}

/** A new page of `browser` in the dashboard's viewport. */
export function newDashboardPage(browser: Browser): Promise<Page> {
  return browser.newPage({ viewport: DASHBOARD_VIEWPORT });
}

/** The path of a screenshot named `name` in test-output/ (made if missing). */
export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return join(SCREENSHOT_DIR, name);
}

/** A screenshot of the whole page, left in test-output/ as `name`. */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: screenshotPath(name), fullPage: true });
}

/** The dashboard's chart option as ECharts holds it (`window.dashboard.chart.getOption()`), as plain JSON. */
export interface DashboardSeries {
  readonly name?: string;
  readonly type?: string;
  /** 0: the upper grid (the key lines, the baseline's marks); 1: the lower one (the count's parts). */
  readonly xAxisIndex?: number;
  readonly data?: unknown[];
  readonly markLine?: { readonly data?: { readonly xAxis?: number }[] };
}

export interface DashboardOption {
  readonly series: DashboardSeries[];
  readonly xAxis: { readonly min?: number; readonly max?: number }[];
  readonly yAxis: { readonly name?: string }[];
  readonly useUTC?: boolean;
}

type DashboardWindow = { dashboard?: { chart: { getOption(): unknown } } };

/**
 * The chart's option as it is now, or undefined before the page made its chart and drew it once (ECharts has no
 * option, or one without series, until then): only its JSON-able parts travel back (functions are dropped).
 */
export function currentChartOption(page: Page): Promise<DashboardOption | undefined> {
  return page.evaluate(() => {
    const { dashboard } = window as unknown as DashboardWindow;
    const option = dashboard?.chart.getOption() as { series?: unknown } | undefined;
    if (option?.series === undefined) return undefined;
    return JSON.parse(JSON.stringify(option)) as DashboardOption;
  });
}

/** The chart's option, once the chart has been drawn. */
export function chartOption(page: Page, timeoutMs = WAIT_MS): Promise<DashboardOption> {
  return eventually('the chart to be drawn', () => currentChartOption(page), timeoutMs);
}

/** Waits until the chart's option satisfies `accept` (`what` says what is waited for), and gives it then. */
export function chartOptionWhen(
  page: Page,
  what: string,
  accept: (option: DashboardOption) => boolean,
  timeoutMs = WAIT_MS,
): Promise<DashboardOption> {
  return eventually(
    what,
    async () => {
      const option = await currentChartOption(page);
      return option !== undefined && accept(option) ? option : undefined;
    },
    timeoutMs,
  );
}

/** The chart's series named `name`, if it has one. */
export const seriesNamed = (option: DashboardOption, name: string): DashboardSeries | undefined =>
  option.series.find((series) => series.name === name);

/** The key lines: the upper grid's line series, one per key shown, in the order the chart draws them. */
export const keyLines = (option: DashboardOption): DashboardSeries[] =>
  option.series.filter((series) => series.type === 'line' && (series.xAxisIndex ?? 0) === 0);

/** The sum of a series' values (the y of its [x, y] items); undefined when there is no such series. */
export const seriesSum = (series: DashboardSeries | undefined): number | undefined =>
  series?.data?.reduce<number>((sum, item) => sum + Number(valueOfItem(item)[1] ?? 0), 0);

/** The series names of the chart, in its order: what its legend lists. */
export async function seriesNames(page: Page): Promise<(string | undefined)[]> {
  return (await chartOption(page)).series.map((series) => series.name);
}

/** The sum of the values ([x, y] items) of the chart's series named `name`; undefined when there is no such series. */
export async function seriesTotal(page: Page, name: string): Promise<number | undefined> {
  return seriesSum(seriesNamed(await chartOption(page), name));
}

/** An item's [x, y, ...] value: ECharts keeps an item either as `{ value: [...] }` or as the array itself. */
export function valueOfItem(item: unknown): unknown[] {
  if (Array.isArray(item)) return item;
  const value = (item as { value?: unknown } | null)?.value;
  return Array.isArray(value) ? value : [];
}

/**
 * Where each instant is drawn on the upper grid's time axis (key lines) and on the lower one's (the count's parts), in
 * pixels: `[upper, lower]`, one number per instant in each.
 */
export function timeAxisPixels(page: Page, instants: readonly number[]): Promise<[number[], number[]]> {
  return page.evaluate((times) => {
    const { dashboard } = window as unknown as {
      dashboard: { chart: { convertToPixel(finder: { xAxisIndex: number }, value: number): number } };
    };
    const on = (xAxisIndex: number) => times.map((at) => dashboard.chart.convertToPixel({ xAxisIndex }, at));
    return [on(0), on(1)] as [number[], number[]];
  }, instants);
}

/** The sum of the numbers in the cells `selector` finds (the table's `.batch-count`, `.realtime-count`). */
export const cellTotal = (page: Page, selector: string): Promise<number> =>
  page.$$eval(selector, (cells) => cells.reduce((sum, cell) => sum + Number(cell.textContent ?? 0), 0));

/** The texts of the options `selector` finds (`#view option`, `#series option`). */
export const optionTexts = (page: Page, selector: string): Promise<(string | null)[]> =>
  page.$$eval(selector, (options) => options.map((option) => option.textContent));

/** The values of the options `selector` finds. */
export const optionValues = (page: Page, selector: string): Promise<string[]> =>
  page.$$eval(selector, (options) => options.map((option) => (option as HTMLOptionElement).value));

/** Waits until the page has drawn an answer once: `#refreshed` shows the time of the last draw, '–' before. */
export async function waitForRefresh(page: Page, timeoutMs = WAIT_MS): Promise<void> {
  await page.waitForFunction(() => document.querySelector('#refreshed')?.textContent !== '–', undefined, {
    timeout: timeoutMs,
  });
}

/**
 * Clicks Run batch once everything sent so far is below the cutoff of a run started then (its epoch ended and the
 * archive's buffer interval passed), and waits until the run has answered and the page shows a batch version.
 */
export async function runBatchFromPage(page: Page, timeoutMs = WAIT_MS): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, EPOCH_WAIT_MS));
  await page.click('#run-batch');
  // The run has answered (its line is written) and the page has refreshed after it (the button is enabled again):
  // the 2 s refresh alone may show the new version before the run's own answer arrives.
  await page.waitForFunction(
    () =>
      (document.querySelector('#batch-result')?.textContent ?? '').startsWith('Batch run at cutoff') &&
      !(document.querySelector('#run-batch') as HTMLButtonElement | null)?.disabled &&
      document.querySelector('#batch-version')?.textContent !== 'none yet',
    undefined,
    { timeout: timeoutMs },
  );
}

/** Waits until the table's `.batch-count` and `.realtime-count` cells sum to `batch` and `realtime`. */
export function waitForTableTotals(page: Page, batch: number, realtime: number, timeoutMs = WAIT_MS): Promise<true> {
  return eventually(
    `the table to count ${batch} from batch and ${realtime} from speed`,
    async () =>
      ((await cellTotal(page, '.batch-count')) === batch && (await cellTotal(page, '.realtime-count')) === realtime) ||
      undefined,
    timeoutMs,
  );
}
