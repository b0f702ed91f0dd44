import type { BaselineMarks } from '../../../local/dashboard/baseline-marks';
import {
  chartOption,
  linePoints,
  SERIES_NAMES,
  tooltipHtml,
  type ChartModel,
} from '../../../local/dashboard/chart-option';
import type { AnsweredBucket, Column, ViewAnswer } from '../../../local/dashboard/view-catalogue';

const MINUTE = 60_000;
const FROM = Date.UTC(2026, 11, 3, 11, 0);
const TO = FROM + 10 * MINUTE;
const count: Column = { id: 'count', name: 'count', label: 'count' };
const avg: Column = { id: 'avg', name: 'avg', label: 'avg' };

/** A bucket `minute` minutes into the range, with its count split into the batch view's part and the speed layer's. */
function bucket(minute: number, batch: number, realtime: number, average = 20.805555555555557): AnsweredBucket {
  const startMs = FROM + minute * MINUTE;
  return {
    start: new Date(startMs).toISOString(),
    startMs,
    count: batch + realtime,
    avg: average,
    batch: { count: batch },
    realtime: { count: realtime },
  };
}

function answer(cutoffMs: number | null): ViewAnswer {
  return {
    view: 'device_metric_minute',
    granularity: 'minute',
    from: new Date(FROM).toISOString(),
    to: new Date(TO).toISOString(),
    provenance:
      cutoffMs === null
        ? null
        : { batchVersion: 'b1', cutoff: new Date(cutoffMs).toISOString(), cutoffMs, computedAt: '' },
    realtimeGeneration: 1,
    series: [
      { key: { deviceId: 'a' }, buckets: [bucket(1, 4, 0), bucket(2, 2, 0), bucket(6, 0, 3)] },
      { key: { deviceId: 'b' }, buckets: [bucket(2, 1, 0), bucket(6, 0, 1)] },
    ],
  };
}

const model = (overrides: Partial<ChartModel> = {}): ChartModel => ({
  answer: answer(FROM + 5 * MINUTE),
  column: count,
  count,
  architecture: 'lambda',
  zeroWhenEmpty: true,
  chartWidthPx: 1_000,
  ...overrides,
});

interface SeriesLike {
  name?: string;
  type?: string;
  data?: unknown[];
  markLine?: { data: { xAxis: number }[] };
  yAxisIndex?: number;
}
const seriesOf = (m: ChartModel) => chartOption(m).series as SeriesLike[];
const named = (m: ChartModel, name: string) => seriesOf(m).find((s) => s.name === name);
const values = (series: SeriesLike | undefined) =>
  (series?.data ?? []).map((item) => (item as { value: unknown[] }).value ?? item);

describe('the dashboard chart', () => {
  it('draws one line per key, in the order of the answer, over a UTC time axis spanning the range', () => {
    const option = chartOption(model());
    expect(option.useUTC).toBe(true);
    expect((option.xAxis as { min: number; max: number }[]).map((axis) => [axis.min, axis.max])).toEqual([
      [FROM, TO],
      [FROM, TO],
    ]);
    const lines = seriesOf(model()).filter((s) => s.type === 'line');
    expect(lines.map((s) => s.name)).toEqual(['deviceId=a', 'deviceId=b']);
  });

  it("stacks each bucket's count, summed over the keys, into the batch view's part and the speed layer's", () => {
    const batch = named(model(), SERIES_NAMES.batch);
    const realtime = named(model(), SERIES_NAMES.realtime);
    const middle = (minute: number) => FROM + minute * MINUTE + MINUTE / 2;
    expect(values(batch)).toEqual([
      [middle(1), 4],
      [middle(2), 3],
      [middle(6), 0],
    ]);
    expect(values(realtime)).toEqual([
      [middle(1), 0],
      [middle(2), 0],
      [middle(6), 4],
    ]);
  });

  it('draws each bar as wide as its bucket, less a pixel, so that neighbours neither overlap nor run past the axis', () => {
    const bar = named(model(), SERIES_NAMES.batch) as { barWidth?: number };
    // 1,000 px less the margins (64 + 24) over ten one-minute buckets.
    expect(bar.barWidth).toBeCloseTo(912 / 10 - 1);
  });

  it('starts the axis of a count at 0, and reads an average against its own range', () => {
    const axes = (m: ChartModel) => chartOption(m).yAxis as { scale?: boolean }[];
    expect(axes(model())[0].scale).toBe(false);
    expect(axes(model({ column: avg, zeroWhenEmpty: false }))[0].scale).toBe(true);
  });

  it('marks the batch cutoff in both grids when it is inside the range, and not otherwise', () => {
    const cutoff = FROM + 5 * MINUTE;
    const marked = seriesOf(model()).filter((s) => s.markLine !== undefined);
    expect(marked.map((s) => s.markLine?.data[0].xAxis)).toEqual([cutoff, cutoff]);
    expect(seriesOf(model({ answer: answer(FROM - MINUTE) })).some((s) => s.markLine)).toBe(false);
    expect(seriesOf(model({ answer: answer(null) })).some((s) => s.markLine)).toBe(false);
  });

  it('shows Kappa mode without a batch part or cutoff: every event is counted by the speed layer', () => {
    const kappa = model({ architecture: 'kappa' });
    expect(named(kappa, SERIES_NAMES.batch)).toBeUndefined();
    expect(named(kappa, SERIES_NAMES.realtime)).toBeDefined();
    expect(seriesOf(kappa).some((s) => s.markLine)).toBe(false);
    expect((chartOption(kappa).yAxis as { name: string }[])[1].name).toBe('count: counted by the speed layer');
  });

  it('drops a count to 0 across empty buckets, and breaks an average there instead', () => {
    const buckets = answer(null).series[0].buckets;
    const middle = (minute: number) => FROM + minute * MINUTE + MINUTE / 2;
    expect(linePoints(buckets, count, MINUTE, true).map((p) => p.value)).toEqual([
      [middle(1), 4],
      [middle(2), 2],
      [middle(3), 0],
      [middle(5), 0],
      [middle(6), 3],
    ]);
    expect(linePoints(buckets, avg, MINUTE, false).map((p) => p.value)).toEqual([
      [middle(1), 20.805555555555557],
      [middle(2), 20.805555555555557],
      [middle(3), null],
      [middle(6), 20.805555555555557],
    ]);
  });

  describe('with a baseline', () => {
    const spikeAt = FROM + 6 * MINUTE + 10_000;
    const marks: BaselineMarks = {
      field: 'value',
      average: avg,
      note: '',
      band: [
        {
          start: new Date(FROM + 6 * MINUTE).toISOString(),
          startMs: FROM + 6 * MINUTE,
          slot: '11:00 UTC',
          status: 'ready',
          expected: 20,
          lower: 17.2,
          upper: 22.8,
          events: 40,
        },
      ],
      anomalies: [
        {
          id: 'x',
          key: { deviceId: 'a' },
          time: new Date(spikeAt).toISOString(),
          timeMs: spikeAt,
          field: 'value',
          value: 100,
          score: 114.28571428,
          direction: 'high',
          threshold: 4,
          baseline: { slot: '11:00 UTC', expected: 20, lower: 17.2, upper: 22.8, events: 40 },
        },
      ],
    };

    it("draws the band, its expected value and the anomalies on the chart's axis when the chart is their field's average", () => {
      const onAverage = model({ column: avg, zeroWhenEmpty: false, baseline: marks });
      expect(named(onAverage, SERIES_NAMES.band)?.data).toEqual([
        [FROM + 6 * MINUTE, FROM + 7 * MINUTE, 17.2, 22.8, 20],
      ]);
      expect(named(onAverage, SERIES_NAMES.band)?.yAxisIndex).toBe(0);
      expect(values(named(onAverage, SERIES_NAMES.anomalies))).toEqual([[spikeAt, 100]]);
      expect(chartOption(onAverage).yAxis).toHaveLength(2);
    });

    it('gives them an axis of their own, with the average drawn, when the chart is another measure', () => {
      const onCount = model({ baseline: marks });
      expect(chartOption(onCount).yAxis).toHaveLength(3);
      expect(named(onCount, SERIES_NAMES.band)?.yAxisIndex).toBe(2);
      expect(named(onCount, SERIES_NAMES.anomalies)?.yAxisIndex).toBe(2);
      expect(named(onCount, 'avg')?.yAxisIndex).toBe(2);
    });

    it('says in the tooltip what the bucket holds: each key rounded, its parts, its band and its anomaly', () => {
      const html = tooltipHtml(model({ column: avg, baseline: marks }), FROM + 6 * MINUTE + MINUTE / 2, MINUTE, FROM);
      expect(html).toContain('<b>2026-12-03 11:06:00 UTC</b> (minute)');
      expect(html).toContain('deviceId=a: avg 20.81');
      expect(html).toContain('count: 0 from the batch view, 4 from the speed layer');
      expect(html).toContain('expected 20, band 17.2 – 22.8 from 40 readings');
      expect(html).toContain('value 100, score 114.3 (high, threshold 4)');
    });
  });
});
