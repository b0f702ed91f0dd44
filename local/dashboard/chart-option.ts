import type {
  CustomSeriesRenderItemAPI,
  CustomSeriesRenderItemParams,
  CustomSeriesRenderItemReturn,
  EChartsOption,
  SeriesOption,
} from 'echarts';
import { anomalyText, averagePoints, bandText, type BaselineMarks } from './baseline-marks';
import { escapeHtml } from './html-text';
import { formatUtc, formatUtcTime, formatValue } from './number-format';
import { GRANULARITY_MS, keyText, valueOf, type AnsweredBucket, type Column, type ViewAnswer } from './view-catalogue';

/** The page's colours: the batch view's part, the speed layer's, the baseline's band and anomalies. */
export const COLOURS = {
  batch: '#3b6fb6',
  realtime: '#e3892b',
  ink: '#1d2430',
  muted: '#6b7585',
  band: '#2e9d6a',
  expected: '#1f6b47',
  anomaly: '#d32f2f',
  /** One per key, in rank order; the parts' colours are left out so a key is never mistaken for a part. */
  keys: ['#5470c6', '#91cc75', '#9a60b4', '#ee6666', '#73c0de', '#3ba272', '#fc8452', '#fac858', '#ea7ccc', '#2f4554'],
} as const;

/** The grids' left margin, for the value axes' labels. */
const GRID_LEFT = 64;

export const SERIES_NAMES = {
  batch: 'from the batch view',
  realtime: 'from the speed layer',
  band: 'baseline band (expected ± threshold × stddev)',
  anomalies: 'anomalies',
} as const;

/** What one chart shows. */
export interface ChartModel {
  readonly answer: ViewAnswer;
  /** The measure (or quantile) charted, one line per key. */
  readonly column: Column;
  /** The view's count: the lower chart splits it into the batch view's part and the speed layer's. */
  readonly count: Column;
  readonly architecture: 'lambda' | 'kappa';
  /**
   * Whether a bucket without events counts as 0 for the charted measure (a count, a sum), so that the line drops to
   * 0 across a gap; otherwise (an avg, a max, a quantile) the line breaks there, since the measure has no value.
   */
  readonly zeroWhenEmpty: boolean;
  /** The chart's width: a bar is as wide as its bucket. */
  readonly chartWidthPx: number;
  /** The band, expected value and anomalies of one key, for a view with a baseline. */
  readonly baseline?: BaselineMarks;
}

interface BucketPoint {
  readonly value: [number, number | null];
  /** The bucket's start, for the tooltip: points sit in the middle of their bucket. */
  readonly start: string;
}

/**
 * A key's line: a point in the middle of each bucket with a value and, at the edges of a run of empty buckets, a 0
 * (`zeroWhenEmpty`) or a break (null), so the line never draws values across buckets that have none.
 */
export function linePoints(
  buckets: readonly AnsweredBucket[],
  column: Column,
  size: number,
  zeroWhenEmpty: boolean,
): BucketPoint[] {
  const points: BucketPoint[] = [];
  const gap = (startMs: number): BucketPoint => ({
    value: [startMs + size / 2, zeroWhenEmpty ? 0 : null],
    start: new Date(startMs).toISOString(),
  });
  let previous: number | undefined;
  for (const bucket of buckets) {
    const value = valueOf(bucket, column);
    if (value === null) continue;
    if (previous !== undefined && bucket.startMs - previous > size) {
      points.push(gap(previous + size));
      if (zeroWhenEmpty && bucket.startMs - previous > 2 * size) points.push(gap(bucket.startMs - size));
    }
    points.push({ value: [bucket.startMs + size / 2, value], start: bucket.start });
    previous = bucket.startMs;
  }
  return points;
}

/**
 * The ECharts option of the dashboard's chart, in two grids over one time axis. Above: the chosen measure, a line per
 * key, with the baseline's band, expected value and anomalies when one key has them. Below: where each bucket's
 * events were counted, the batch view's part stacked under the speed layer's, so a batch run is seen moving
 * buckets from one to the other. The batch cutoff is a vertical line through both. Every number reads rounded, and
 * every instant in UTC.
 */
export function chartOption(model: ChartModel): EChartsOption {
  const { answer, column, count, baseline } = model;
  const from = Date.parse(answer.from);
  const to = Date.parse(answer.to);
  const size = GRANULARITY_MS[answer.granularity];
  const middle = (startMs: number) => startMs + size / 2;
  const cutoffMs = model.architecture === 'lambda' ? answer.provenance?.cutoffMs : undefined;
  const cutoffShown = cutoffMs !== undefined && cutoffMs > from && cutoffMs < to;
  const cutoffLine = (label: boolean) => ({
    symbol: 'none',
    silent: true,
    animation: false,
    lineStyle: { color: COLOURS.ink, type: 'solid' as const, width: 1.5 },
    label: label
      ? {
          show: true,
          formatter: `batch cutoff ${formatUtcTime(cutoffMs ?? 0)}`,
          position: 'end' as const,
        }
      : { show: false },
    data: [{ xAxis: cutoffMs ?? 0 }],
  });

  const keyLines: SeriesOption[] = answer.series.map((series, index) => ({
    type: 'line',
    name: keyText(series.key),
    xAxisIndex: 0,
    yAxisIndex: 0,
    color: COLOURS.keys[index % COLOURS.keys.length],
    showSymbol: true,
    symbolSize: 5,
    connectNulls: false,
    data: linePoints(series.buckets, column, size, model.zeroWhenEmpty),
    ...(index === 0 && cutoffShown ? { markLine: cutoffLine(true) } : {}),
  }));

  // The parts of the count, summed over the keys shown: what the batch view holds, and what only the speed layer does.
  const parts = new Map<number, { start: string; batch: number; realtime: number }>();
  for (const series of answer.series) {
    for (const bucket of series.buckets) {
      const part = parts.get(bucket.startMs) ?? { start: bucket.start, batch: 0, realtime: 0 };
      part.batch += valueOf(bucket.batch, count) ?? 0;
      part.realtime += valueOf(bucket.realtime, count) ?? 0;
      parts.set(bucket.startMs, part);
    }
  }
  const sortedParts = [...parts.entries()].sort(([a], [b]) => a - b);
  // The band and anomalies go on the measure's axis when the chart is their field's avg; else on an axis of their own.
  const ownAxis = baseline !== undefined && baseline.average?.id !== column.id;
  const gridRight = ownAxis ? 64 : 24;
  const partBars = (side: 'batch' | 'realtime'): SeriesOption => ({
    type: 'bar',
    name: SERIES_NAMES[side],
    xAxisIndex: 1,
    yAxisIndex: 1,
    stack: 'parts',
    color: COLOURS[side],
    // A bar as wide as its bucket (less a pixel), so that buckets side by side neither overlap nor run past the axis.
    barWidth: Math.max(1, ((model.chartWidthPx - GRID_LEFT - gridRight) * size) / Math.max(size, to - from) - 1),
    data: sortedParts.map(([startMs, part]): BucketPoint => ({
      value: [middle(startMs), part[side]],
      start: part.start,
    })),
    ...(side === 'batch' && cutoffShown ? { markLine: cutoffLine(false) } : {}),
  });
  // Kappa mode has no batch view: every event is counted by the speed layer.
  const partSeries =
    model.architecture === 'lambda' ? [partBars('batch'), partBars('realtime')] : [partBars('realtime')];

  const baselineAxis = ownAxis ? 2 : 0;
  const baselineSeries: SeriesOption[] = [];
  if (baseline !== undefined && baseline.band.length > 0) {
    baselineSeries.push({
      type: 'custom',
      name: SERIES_NAMES.band,
      xAxisIndex: 0,
      yAxisIndex: baselineAxis,
      color: COLOURS.band,
      clip: true,
      silent: true,
      encode: { x: [0, 1], y: [2, 3, 4] },
      data: baseline.band.map((b) => [b.startMs, b.startMs + size, b.lower, b.upper, b.expected]),
      renderItem: bandRect,
    });
  }
  if (baseline !== undefined && ownAxis && baseline.average !== undefined && baseline.band.length > 0) {
    baselineSeries.push({
      type: 'line',
      name: baseline.average.label,
      xAxisIndex: 0,
      yAxisIndex: baselineAxis,
      color: COLOURS.ink,
      showSymbol: false,
      data: averagePoints(answer.series[0]?.buckets ?? [], baseline.average).map((point) => [
        middle(point.startMs),
        point.value,
      ]),
    });
  }
  if (baseline !== undefined && baseline.anomalies.length > 0) {
    baselineSeries.push({
      type: 'scatter',
      name: SERIES_NAMES.anomalies,
      xAxisIndex: 0,
      yAxisIndex: baselineAxis,
      color: COLOURS.anomaly,
      symbolSize: 11,
      itemStyle: { borderColor: '#fff', borderWidth: 1.5 },
      z: 5,
      data: baseline.anomalies.map((a) => ({ value: [a.timeMs, a.value], id: a.id })),
    });
  }

  const valueAxis = (name: string, gridIndex: number, extra: object = {}) => ({
    type: 'value' as const,
    gridIndex,
    name,
    nameTextStyle: { color: COLOURS.muted, align: 'left' as const },
    axisLabel: { formatter: (value: number) => formatValue(value) },
    splitLine: { lineStyle: { color: '#eceef2' } },
    ...extra,
  });
  const timeAxis = (gridIndex: number) => ({
    type: 'time' as const,
    gridIndex,
    min: from,
    max: to,
    // Bars sit in the middle of their buckets, inside the range: widening the axis to fit them (ECharts' default)
    // would shift the lower chart's time scale against the upper one's.
    containShape: false,
    axisLabel: {
      hideOverlap: true,
      color: COLOURS.muted,
      formatter: { year: '{yyyy}', month: '{MMM} {d}', day: '{MMM} {d}', hour: '{HH}:{mm}', minute: '{HH}:{mm}' },
    },
    splitLine: { show: false },
  });

  return {
    useUTC: true,
    animation: false,
    legend: { type: 'scroll', top: 0, left: 0, right: 0, textStyle: { color: COLOURS.ink } },
    grid: [
      { left: GRID_LEFT, right: gridRight, top: 64, height: '50%' },
      { left: GRID_LEFT, right: gridRight, bottom: 28, height: '20%' },
    ],
    xAxis: [timeAxis(0), timeAxis(1)],
    yAxis: [
      // A count or sum starts at 0; an avg, a max or a quantile is read against its own range.
      valueAxis(column.label, 0, { scale: !model.zeroWhenEmpty }),
      valueAxis(
        model.architecture === 'lambda'
          ? `${count.name}: from the batch view + from the speed layer`
          : `${count.name}: counted by the speed layer`,
        1,
        { minInterval: 1, splitNumber: 3 },
      ),
      ...(ownAxis && baseline !== undefined
        ? [valueAxis(`${baseline.field} (baseline)`, 0, { position: 'right', scale: true, splitLine: { show: false } })]
        : []),
    ],
    axisPointer: { link: [{ xAxisIndex: 'all' }] },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'line' },
      formatter: (params: unknown) => tooltipHtml(model, axisValueOf(params), size, from),
    },
    series: [...keyLines, ...baselineSeries, ...partSeries],
  };
}

/** A ready bucket's band as a shaded rectangle, with its expected value dashed across it. */
function bandRect(_params: CustomSeriesRenderItemParams, api: CustomSeriesRenderItemAPI): CustomSeriesRenderItemReturn {
  const [left, top] = api.coord([api.value(0), api.value(3)]);
  const [right, bottom] = api.coord([api.value(1), api.value(2)]);
  const [, expected] = api.coord([api.value(0), api.value(4)]);
  return {
    type: 'group',
    children: [
      {
        type: 'rect',
        shape: { x: left, y: top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) },
        style: { fill: COLOURS.band, opacity: 0.25 },
      },
      {
        type: 'line',
        shape: { x1: left, y1: expected, x2: right, y2: expected },
        style: { stroke: COLOURS.expected, lineWidth: 1.5, lineDash: [6, 4] },
      },
    ],
  };
}

/** The instant the axis pointer is at: ECharts gives it on every item of an axis tooltip. */
function axisValueOf(params: unknown): number {
  const first = (Array.isArray(params) ? params[0] : params) as { axisValue?: unknown } | undefined;
  return Number(first?.axisValue ?? Number.NaN);
}

/**
 * The tooltip of the bucket under the pointer: its start, each key's value, where its events were counted, and the
 * band and anomalies of the bucket. Built from the model, not from ECharts' items, so it says the same whichever
 * series the pointer snapped to.
 */
export function tooltipHtml(model: ChartModel, atMs: number, size: number, from: number): string {
  if (!Number.isFinite(atMs)) return '';
  const startMs = from + Math.floor((atMs - from) / size) * size;
  const lines: string[] = [`<b>${escapeHtml(formatUtc(startMs))}</b> (${model.answer.granularity})`];
  let batch = 0;
  let realtime = 0;
  model.answer.series.forEach((series, index) => {
    const bucket = series.buckets.find((b) => b.startMs === startMs);
    if (bucket === undefined) return;
    batch += valueOf(bucket.batch, model.count) ?? 0;
    realtime += valueOf(bucket.realtime, model.count) ?? 0;
    const swatch = `<span style="color:${COLOURS.keys[index % COLOURS.keys.length]}">●</span>`;
    lines.push(
      `${swatch} ${escapeHtml(keyText(series.key))}: ${model.column.label} ${formatValue(valueOf(bucket, model.column))}`,
    );
  });
  lines.push(
    model.architecture === 'lambda'
      ? `${escapeHtml(model.count.name)}: ${formatValue(batch)} from the batch view, ${formatValue(realtime)} from the speed layer`
      : `${escapeHtml(model.count.name)}: ${formatValue(realtime)}, counted by the speed layer`,
  );
  const band = model.baseline?.band.find((b) => b.startMs === startMs);
  if (band !== undefined) lines.push(escapeHtml(bandText(band)));
  for (const anomaly of model.baseline?.anomalies ?? []) {
    if (anomaly.timeMs >= startMs && anomaly.timeMs < startMs + size) {
      lines.push(`<span style="color:${COLOURS.anomaly}">anomaly</span> ${escapeHtml(anomalyText(anomaly))}`);
    }
  }
  return lines.join('<br>');
}
