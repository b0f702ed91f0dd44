/// <reference lib="dom" />
import { BarChart, CustomChart, LineChart, ScatterChart } from 'echarts/charts';
import {
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
  AxisPointerComponent,
} from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { LocalHealth } from '../local-health';
import {
  anomalyText,
  baselineMarks,
  type BaselineOverlay,
  type ForecastBucket,
  type ListedAnomaly,
} from './baseline-marks';
import { chartOption } from './chart-option';
import { healthTiles } from './health-panel';
import { escapeHtml as escape } from './html-text';
import { formatUtc, formatUtcTime, formatValue } from './number-format';
import {
  accuracyText,
  averageOf,
  baselineOf,
  boundsOf,
  columnById,
  columnsOf,
  countMeasure,
  GRANULARITIES,
  GRANULARITY_MS,
  hasHistogram,
  keyText,
  kindOf,
  measureLabel,
  QUANTILES,
  rankableMeasures,
  valueOf,
  type Column,
  type ListedView,
  type ViewAnswer,
} from './view-catalogue';

echarts.use([
  BarChart,
  CustomChart,
  LineChart,
  ScatterChart,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
  AxisPointerComponent,
  SVGRenderer,
]);

/** How often the chart, table and health panel are asked for again. */
const REFRESH_MS = 2_000;
/** How often the key pickers learn the keys that arrived since: the directory changes slowly. */
const KEYS_REFRESH_MS = 10_000;
/** The keys the pickers list at most: five pages of the directory. */
const KEY_PAGES = 5;
/** How many busiest keys the page opens on. */
const DEFAULT_TOP = 5;
/** Forecast buckets asked for at most (the API's limit), and how far past the chart's range the band is asked for. */
const MAX_HORIZON = 168;
const HORIZON_AHEAD = 24;
/** How long a forecast is reused: its training window ends where the chart starts, so only late readings move it. */
const FORECAST_REUSE_MS = 30_000;
/** How many of the latest anomalies the list under the chart shows. */
const LATEST_ANOMALIES = 10;
/** The table's rows: the latest buckets of the key it shows. */
const TABLE_ROWS = 20;

/** Kinds of measure that are 0 over no events (the others have no value there). */
const ZERO_WHEN_EMPTY = ['count', 'sum', 'sumSquares', 'distinct'];
/** The range a view opens on, by its granularity: about sixty buckets. */
const DEFAULT_RANGE_MS = { minute: 3_600_000, hour: 86_400_000, day: 604_800_000 } as const;

type Architecture = 'lambda' | 'kappa';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const select = (id: string) => $<HTMLSelectElement>(id);

let views: ListedView[] = [];
let architecture: Architecture = 'lambda';
/** Values of each dimension of the selected view, from its key directory. */
let directory: { view: string; values: Map<string, string[]> } | undefined;
let forecastCache: { path: string; at: number; answer: { buckets: readonly ForecastBucket[] } } | undefined;
let chart: echarts.ECharts;
/** How many refreshes have started: the number of the latest. */
let refreshes = 0;

async function getJson<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, init);
  const body = (await response.json()) as T & { message?: string; error?: string };
  if (!response.ok) throw new Error(body.message ?? body.error ?? `${response.status}`);
  return body;
}

function selectedView(): ListedView {
  return views.find((view) => view.name === select('view').value) ?? views[0];
}

function dimensionSelects(): HTMLSelectElement[] {
  return Array.from(document.querySelectorAll<HTMLSelectElement>('select[data-dimension]'));
}

/** The dimensions given a value; one left at "any" is grouped over (merged, or ranked by a top-N). */
function givenDimensions(): Record<string, string> {
  const given: Record<string, string> = {};
  for (const picker of dimensionSelects()) {
    if (picker.value !== '') given[picker.dataset.dimension ?? ''] = picker.value;
  }
  return given;
}

/** Every dimension's value when each one is given (one key of the view), else undefined. */
function fullKey(view: ListedView): Record<string, string> | undefined {
  const given = givenDimensions();
  return view.dimensions.every((field) => field in given) ? given : undefined;
}

/**
 * The chart's range: whole buckets of the chosen granularity, ending with the bucket now is in (so the current
 * bucket is drawn whole, and nothing past it).
 */
function chartRange(): { from: number; to: number } {
  const size = GRANULARITY_MS[select('granularity').value as keyof typeof GRANULARITY_MS] ?? 60_000;
  const to = (Math.floor(Date.now() / size) + 1) * size;
  const from = Math.floor((to - Math.max(size, Number(select('range').value))) / size) * size;
  return { from, to };
}

function queryPath(range: { from: number; to: number }): string {
  const view = selectedView();
  const params = new URLSearchParams(givenDimensions());
  params.set('from', String(range.from));
  params.set('to', String(range.to));
  params.set('granularity', select('granularity').value);
  if (hasHistogram(view)) params.set('quantiles', QUANTILES.join(','));
  if (select('order-by').value !== '') {
    params.set('orderBy', select('order-by').value);
    params.set('order', 'desc');
    params.set('limit', $<HTMLInputElement>('limit').value || String(DEFAULT_TOP));
  }
  return `/views/${encodeURIComponent(view.name)}?${params}`;
}

/** The page's address says what it shows, so that it can be bookmarked or shared. */
function rememberInAddress(): void {
  const params = new URLSearchParams({ view: select('view').value, ...givenDimensions() });
  params.set('granularity', select('granularity').value);
  params.set('range', select('range').value);
  params.set('measure', select('measure').value);
  params.set('orderBy', select('order-by').value);
  params.set('limit', $<HTMLInputElement>('limit').value);
  history.replaceState(null, '', `?${params}`);
}

/** The values of each dimension among the view's keys (the key directory, up to KEY_PAGES pages). */
async function readDirectory(view: ListedView): Promise<Map<string, string[]>> {
  const values = new Map(view.dimensions.map((field) => [field, new Set<string>()]));
  let next: string | null = null;
  for (let page = 0; page < KEY_PAGES; page += 1) {
    const params = new URLSearchParams({ limit: '1000' });
    if (next !== null) params.set('next', next);
    const listing = await getJson<{ keys: { key: Record<string, string> }[]; next: string | null }>(
      `/views/${encodeURIComponent(view.name)}/keys?${params}`,
    );
    for (const { key } of listing.keys) {
      for (const [field, value] of Object.entries(key)) values.get(field)?.add(value);
    }
    next = listing.next;
    if (next === null) break;
  }
  return new Map([...values].map(([field, set]) => [field, [...set].sort()]));
}

/** Fills each dimension's picker with the values the directory knows, keeping what is picked. */
function fillPickers(values: Map<string, string[]>): void {
  for (const picker of dimensionSelects()) {
    const field = picker.dataset.dimension ?? '';
    const picked = picker.value;
    const known = values.get(field) ?? [];
    // A value picked (or given in the address) before the directory lists it stays pickable.
    const options = picked !== '' && !known.includes(picked) ? [picked, ...known] : known;
    const markup =
      `<option value="">any ${escape(field)}</option>` +
      options.map((value) => `<option value="${escape(value)}">${escape(value)}</option>`).join('');
    if (picker.innerHTML !== markup) {
      picker.innerHTML = markup;
      picker.value = picked;
    }
  }
}

async function refreshDirectory(): Promise<void> {
  const view = selectedView();
  try {
    const values = await readDirectory(view);
    if (view.name !== selectedView().name) return;
    directory = { view: view.name, values };
    fillPickers(values);
  } catch (error) {
    $('error').textContent = `keys: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** The controls of the selected view: its dimensions' pickers, granularities, measures and what ranks keys. */
function renderControls(): void {
  const view = selectedView();
  $('dimensions').innerHTML = view.dimensions
    .map(
      (field) =>
        `<label>${escape(field)}<select data-dimension="${escape(field)}"><option value="">any ${escape(field)}</option></select></label>`,
    )
    .join('');
  if (directory?.view === view.name) fillPickers(directory.values);
  for (const picker of dimensionSelects()) picker.addEventListener('change', () => void refresh());
  const allowed = GRANULARITIES.slice(GRANULARITIES.indexOf(view.granularity));
  select('granularity').innerHTML = allowed.map((g) => `<option>${g}</option>`).join('');
  select('range').value = String(DEFAULT_RANGE_MS[view.granularity]);
  const label = (column: Column) =>
    column.quantile === undefined ? measureLabel(view, column.name) : `${column.label} (${kindOf(view, column.name)})`;
  select('measure').innerHTML = columnsOf(view)
    .map((column) => `<option value="${escape(column.id)}">${escape(label(column))}</option>`)
    .join('');
  // A view with a baseline opens on the avg of its field: the series its band and anomalies are read against.
  const baseline = baselineOf(view);
  const average = baseline && averageOf(view, baseline.field);
  select('measure').value = average ? average.id : countMeasure(view);
  // A histogram has no one number to rank keys by: the API refuses it as orderBy.
  select('order-by').innerHTML =
    '<option value="">(none: merge the keys)</option>' +
    rankableMeasures(view)
      .map((name) => `<option value="${escape(name)}">${escape(measureLabel(view, name))}</option>`)
      .join('');
  // The page opens on the view's busiest keys.
  select('order-by').value = countMeasure(view);
  $<HTMLInputElement>('limit').value = String(DEFAULT_TOP);
}

/** The forecast of the key over the chart's range and a day past it; reused for a while (see FORECAST_REUSE_MS). */
async function forecastOf(view: ListedView, key: Record<string, string>, range: { from: number; to: number }) {
  const size = GRANULARITY_MS[view.granularity];
  const from = Math.floor(range.from / size) * size;
  const horizon = Math.min(MAX_HORIZON, Math.ceil((range.to - from) / size) + HORIZON_AHEAD);
  const params = new URLSearchParams({ ...key, from: String(from), horizon: String(horizon) });
  const path = `/views/${encodeURIComponent(view.name)}/forecast?${params}`;
  if (forecastCache?.path === path && Date.now() - forecastCache.at < FORECAST_REUSE_MS) return forecastCache.answer;
  const answer = await getJson<{ buckets: readonly ForecastBucket[] }>(path);
  forecastCache = { path, at: Date.now(), answer };
  return answer;
}

/**
 * A view's baseline over the chart's range: the anomalies of the given dimensions, and for one key its forecast
 * band. A failed request leaves its part out and says why; the buckets still show.
 */
async function baselineOverlay(range: { from: number; to: number }): Promise<BaselineOverlay | undefined> {
  const view = selectedView();
  const baseline = baselineOf(view);
  if (baseline === undefined) return undefined;
  const key = fullKey(view);
  const overlay: BaselineOverlay = { view: view.name, baseline, key, forecast: undefined, anomalies: [], problems: [] };
  const params = new URLSearchParams({ ...givenDimensions(), from: String(range.from), to: String(range.to) });
  const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
  const requests: Promise<unknown>[] = [
    getJson<{ anomalies?: ListedAnomaly[] }>(`/views/${encodeURIComponent(view.name)}/anomalies?${params}`)
      .then((answer) => (overlay.anomalies = answer.anomalies ?? []))
      .catch((error: unknown) => overlay.problems.push(`anomalies: ${message(error)}`)),
  ];
  if (key !== undefined) {
    requests.push(
      forecastOf(view, key, range)
        .then((answer) => (overlay.forecast = answer))
        .catch((error: unknown) => overlay.problems.push(`forecast: ${message(error)}`)),
    );
  }
  await Promise.all(requests);
  return overlay;
}

/** The latest anomalies of the range under the chart: time, key, value, score. */
function drawAnomalies(overlay: BaselineOverlay | undefined): void {
  $('anomalies-panel').hidden = overlay === undefined;
  if (overlay === undefined) return;
  const latest = [...overlay.anomalies].sort((a, b) => b.timeMs - a.timeMs).slice(0, LATEST_ANOMALIES);
  $('anomalies').innerHTML =
    '<tr><th>time</th><th>key</th><th>value</th><th>score</th></tr>' +
    (latest.length === 0
      ? '<tr><td colspan="4" class="muted">none in this range</td></tr>'
      : latest
          .map(
            (a) =>
              `<tr class="anomaly" title="${escape(anomalyText(a))}"><td>${escape(a.time)}</td>` +
              `<td>${escape(keyText(a.key))}</td><td>${formatValue(a.value)}</td><td>${formatValue(a.score)}</td></tr>`,
          )
          .join(''));
}

/** Every measure of the view per bucket of one key, newest first, and where its events were counted. */
function drawTable(view: ListedView, answer: ViewAnswer, count: Column): void {
  const series = answer.series;
  // Chosen by the key, not by its place: a ranking that changes keeps the table on the same key.
  const chosen = select('series').value;
  const texts = series.map((s) => keyText(s.key));
  const markup = texts.map((text) => `<option value="${escape(text)}">${escape(text)}</option>`).join('');
  if (select('series').innerHTML !== markup) select('series').innerHTML = markup;
  if (texts.includes(chosen)) select('series').value = chosen;
  const buckets = series[Math.max(0, texts.indexOf(select('series').value))]?.buckets ?? [];
  const columns = columnsOf(view);
  const parts =
    architecture === 'lambda'
      ? [
          { side: 'batch' as const, label: `${count.name} from batch`, className: 'batch-count' },
          { side: 'realtime' as const, label: `${count.name} from speed`, className: 'realtime-count' },
        ]
      : [{ side: 'realtime' as const, label: `${count.name} from speed`, className: 'realtime-count' }];
  const rows = buckets
    .slice(-TABLE_ROWS)
    .reverse()
    .map(
      (b) =>
        `<tr><td>${escape(b.start)}</td>` +
        columns
          .map((column) => {
            const value = valueOf(b, column);
            const text = value === null ? '' : escape(formatValue(value));
            return column.quantile === undefined
              ? `<td data-measure="${escape(column.name)}">${text}</td>`
              : `<td data-measure="${escape(column.name)}" data-quantile="${column.quantile}" title="${escape(boundsOf(b, column))}">${text}</td>`;
          })
          .join('') +
        parts
          .map((part) => `<td class="${part.className}">${formatValue(valueOf(b[part.side], count) ?? 0)}</td>`)
          .join('') +
        '</tr>',
    )
    .join('');
  $('buckets').innerHTML =
    '<tr><th>bucket</th>' +
    columns.map((column) => `<th>${escape(column.label)}</th>`).join('') +
    parts.map((part) => `<th>${escape(part.label)}</th>`).join('') +
    '</tr>' +
    rows;
}

function draw(answer: ViewAnswer, overlay: BaselineOverlay | undefined): void {
  const view = selectedView();
  const column = columnById(view, select('measure').value);
  const count = columnById(view, countMeasure(view));
  const marks = baselineMarks(view, answer, overlay);
  // The band and anomalies are one key's: drawn only when the chart is that key.
  const keyMarks = overlay?.key === undefined ? undefined : marks;
  const zeroWhenEmpty = ZERO_WHEN_EMPTY.includes(kindOf(view, column.name));
  chart.setOption(
    chartOption({
      answer,
      column,
      count,
      architecture,
      zeroWhenEmpty,
      chartWidthPx: chart.getWidth(),
      baseline: keyMarks,
    }),
    {
      replaceMerge: ['series', 'yAxis'],
    },
  );
  $('chart').dataset.series = String(answer.series.length);
  $('baseline-note').textContent = marks?.note ?? '';
  drawAnomalies(overlay?.view === view.name ? overlay : undefined);
  drawTable(view, answer, count);
  $('accuracy').textContent = accuracyText(answer.accuracy);
  const provenance = answer.provenance;
  $('batch-version').textContent = provenance?.batchVersion ?? 'none yet';
  $('cutoff').textContent = provenance ? formatUtc(provenance.cutoffMs) : '–';
  $('computed-at').textContent = provenance ? formatUtc(Date.parse(provenance.computedAt)) : '–';
  $('generation').textContent = String(answer.realtimeGeneration ?? '–');
  $('empty').hidden = answer.series.some((s) => s.buckets.length > 0);
  $('refreshed').textContent = formatUtcTime(Date.now());
}

function drawHealth(health: LocalHealth): void {
  $('health').innerHTML = healthTiles(health)
    .map(
      (tile) =>
        `<div class="tile${tile.warn ? ' warn' : ''}" data-health="${escape(tile.id)}"><span>${escape(tile.label)}</span>` +
        `<b>${escape(tile.value)}</b><small>${escape(tile.detail)}</small></div>`,
    )
    .join('');
}

async function refresh(): Promise<void> {
  rememberInAddress();
  // The timer, every control and a batch run all refresh: an answer to an older request must not be drawn last.
  const sequence = (refreshes += 1);
  try {
    const range = chartRange();
    const [answer, overlay, health] = await Promise.all([
      getJson<ViewAnswer>(queryPath(range)),
      baselineOverlay(range),
      getJson<LocalHealth>('/_local/health').catch(() => undefined),
    ]);
    if (sequence !== refreshes) return;
    draw(answer, overlay);
    if (health !== undefined) drawHealth(health);
    $('error').textContent = '';
  } catch (error) {
    if (sequence === refreshes) $('error').textContent = error instanceof Error ? error.message : String(error);
  }
}

/** What a batch run did, in a line: the cutoff it used, what flipped, and why new events may still be in speed. */
function batchRunText(summary: BatchRunSummary): string {
  const flipped = summary.views.filter((v) => v.outcome === 'flipped').length;
  const current = summary.views.filter((v) => v.outcome === 'up-to-date').length;
  const rows = summary.views.reduce((sum, v) => sum + v.rows, 0);
  return (
    `Batch run at cutoff ${formatUtc(summary.cutoff)}: ${flipped} views flipped (${rows} rows), ${current} already ` +
    'up to date. Events that arrived after the cutoff stay in the speed part until a run whose cutoff passes them: ' +
    'the cutoff trails arrival by an epoch, the archive’s buffer interval and the safety margin.'
  );
}

/** The page in the pipeline's architecture: Kappa mode has no batch layer, so it shows generations and replays. */
function applyArchitecture(): void {
  const kappa = architecture === 'kappa';
  document.body.dataset.architecture = architecture;
  document.title = `${kappa ? 'Kappa' : 'Lambda'} architecture · local dashboard`;
  $('title').textContent = document.title;
  $('subtitle').textContent = kappa
    ? 'Kappa mode: there is no batch layer. Answers are the realtime views the speed layer keeps, in the served ' +
      'generation; npm run replay rebuilds a view from the archive into a new generation and flips to it.'
    : "Answers are the batch view plus the speed layer's epochs from the cutoff on. The lower chart shows where " +
      "each bucket's events were counted; a batch run moves them from the speed part into the batch part.";
  $('run-batch').hidden = kappa;
  for (const element of Array.from(document.querySelectorAll<HTMLElement>('[data-lambda]'))) element.hidden = kappa;
  for (const element of Array.from(document.querySelectorAll<HTMLElement>('[data-kappa]'))) element.hidden = !kappa;
}

async function start(): Promise<void> {
  chart = echarts.init($('chart'), undefined, { renderer: 'svg' });
  // For a reader's console and the browser tests: the chart as ECharts holds it.
  (window as unknown as { dashboard: { chart: echarts.ECharts } }).dashboard = { chart };
  // Redrawn, not only resized: a bar is as wide as its bucket at the chart's width.
  window.addEventListener('resize', () => {
    chart.resize();
    void refresh();
  });
  const [listing, status] = await Promise.all([
    getJson<{ views: ListedView[] } | ListedView[]>('/views'),
    getJson<{ architecture?: Architecture; pipelineConfig?: string }>('/_local/status').catch(() => undefined),
  ]);
  views = Array.isArray(listing) ? listing : listing.views;
  architecture = status?.architecture === 'kappa' ? 'kappa' : 'lambda';
  addDeclaredBaselines(status?.pipelineConfig);
  applyArchitecture();
  select('view').innerHTML = views.map((view) => `<option>${escape(view.name)}</option>`).join('');
  const preset = new URLSearchParams(location.search);
  // A preset the select does not offer is ignored, rather than leaving the select empty.
  const offer = (id: string, value: string | null) => {
    if (value !== null && Array.from(select(id).options).some((option) => option.value === value)) {
      select(id).value = value;
    }
  };
  offer('view', preset.get('view'));
  renderControls();
  for (const picker of dimensionSelects()) {
    const value = preset.get(picker.dataset.dimension ?? '') ?? '';
    if (value !== '') picker.innerHTML += `<option value="${escape(value)}">${escape(value)}</option>`;
    picker.value = value;
  }
  for (const id of ['granularity', 'range', 'measure']) offer(id, preset.get(id));
  offer('order-by', preset.get('orderBy'));
  if (preset.get('limit')) $<HTMLInputElement>('limit').value = preset.get('limit') ?? '';
  select('view').addEventListener('change', () => {
    renderControls();
    void refreshDirectory();
    void refresh();
  });
  for (const id of ['granularity', 'range', 'measure', 'order-by', 'limit', 'series']) {
    $(id).addEventListener('change', () => void refresh());
  }
  $('run-batch').addEventListener('click', () => void runBatch());
  await Promise.all([refreshDirectory(), refresh()]);
  setInterval(() => void refresh(), REFRESH_MS);
  setInterval(() => void refreshDirectory(), KEYS_REFRESH_MS);
}

async function runBatch(): Promise<void> {
  const button = $<HTMLButtonElement>('run-batch');
  button.disabled = true;
  $('batch-result').textContent = 'Running the batch job now…';
  try {
    const { result } = await getJson<{ result: BatchRunSummary }>('/_local/batch-runs', { method: 'POST' });
    $('batch-result').textContent = batchRunText(result);
    await refresh();
  } catch (error) {
    $('batch-result').textContent = '';
    $('error').textContent = `batch run failed: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    button.disabled = false;
  }
}

/** For a server whose GET /views does not list baselines: the local status carries the declarations. */
function addDeclaredBaselines(pipelineConfig: string | undefined): void {
  if (pipelineConfig === undefined || views.some((view) => 'baseline' in view)) return;
  try {
    const declared = (JSON.parse(pipelineConfig) as { views?: { name: string; baseline?: ListedView['baseline'] }[] })
      .views;
    for (const view of views) {
      const baseline = declared?.find((declaration) => declaration.name === view.name)?.baseline;
      if (baseline) view.baseline = baseline;
    }
  } catch {
    // No declarations to read: the views show without bands.
  }
}

start().catch((error: unknown) => ($('error').textContent = error instanceof Error ? error.message : String(error)));
