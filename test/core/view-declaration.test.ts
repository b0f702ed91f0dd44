import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import {
  DEFAULT_RETENTION_DAYS,
  defineViews,
  firstRetainedBucket,
  retentionMs,
  ViewDeclarationError,
} from '../../functions/core/view-declaration';

const base = { name: 'by_device', dimensions: ['deviceId'], granularity: 'minute' };

function problemsOf(declarations: unknown): readonly string[] {
  try {
    defineViews(declarations);
  } catch (error) {
    expect(error).toBeInstanceOf(ViewDeclarationError);
    return (error as ViewDeclarationError).problems;
  }
  throw new Error('expected the declarations to be rejected');
}

describe('view declarations', () => {
  it('the default IoT views are valid, with every measure stored', () => {
    const views = defineViews(DEFAULT_VIEW_DECLARATIONS);
    expect(views.map((view) => [view.name, view.dimensions, view.granularity])).toEqual([
      ['device_metric_minute', ['deviceId', 'metric'], 'minute'],
      ['site_metric_hour', ['site', 'metric'], 'hour'],
      ['metric_day', ['metric'], 'day'],
    ]);
    expect(views[0].measures).toEqual(['count', 'sum', 'min', 'max']);
    expect(views[0].filter).toEqual([]);
    expect(views[0].dedupeByEventId).toBe(false);
    expect(views.map((view) => view.retentionDays)).toEqual([30, 400, null]);
  });

  it('always stores count, in canonical order, because avg and empty buckets need it', () => {
    const [view] = defineViews([{ ...base, measures: ['max', 'sum'] }]);
    expect(view.measures).toEqual(['count', 'sum', 'max']);
  });

  it.each([
    [
      [{ ...base, dimensions: ['devic'] }],
      'views[0].dimensions[0]: unknown field "devic" (known: deviceId, site, metric)',
    ],
    [[base, { ...base }], 'views[1].name: duplicate view name "by_device"'],
    [
      [{ ...base, dimensions: [] }],
      'views[0].dimensions: a view needs at least one dimension: without one, every write would hit one DynamoDB partition',
    ],
    [[{ ...base, dimensions: ['site', 'site'] }], 'views[0].dimensions: repeats site'],
    [[{ ...base, granularity: 'week' }], 'views[0].granularity: expected one of minute, hour, day'],
    [
      [{ ...base, measures: ['avg'] }],
      'views[0].measures[0]: avg is derived from sum and count at query time: declare sum instead',
    ],
    [
      [{ ...base, measures: ['median'] }],
      'views[0].measures[0]: unknown measure "median" (known: count, sum, min, max)',
    ],
    [[{ ...base, measures: [] }], 'views[0].measures: a view needs at least one measure'],
    [
      [{ ...base, name: 'Bad-Name' }],
      'views[0].name: expected lower-case letters, digits and _ (starting with a letter, at most 63 characters)',
    ],
    [[{ ...base, colour: 'red' }], 'views[0]: unknown key "colour"'],
    [
      [{ ...base, filter: [{ field: 'firmware', op: 'eq', value: 'x' }] }],
      'views[0].filter[0].field: unknown field "firmware" (known: deviceId, site, metric, value)',
    ],
    [
      [{ ...base, filter: [{ field: 'value', op: 'in', value: 3 }] }],
      'views[0].filter[0].value: op in needs an array of values',
    ],
    [
      [{ ...base, filter: [{ field: 'value', op: 'eq', value: 'hot' }] }],
      'views[0].filter[0].value: value is a number field: compare it with numbers',
    ],
    [[{ ...base, retentionDays: 0 }], 'views[0].retentionDays: expected at least 1 day'],
    [[{ ...base, retentionDays: -3 }], 'views[0].retentionDays: expected at least 1 day'],
    [[{ ...base, retentionDays: 1.5 }], 'views[0].retentionDays: expected a whole number of days'],
    [
      [{ ...base, retentionDays: '30' }],
      'views[0].retentionDays: expected a whole number of days, or null to keep the buckets for ever',
    ],
    [
      [{ ...base, retentionDays: 36_501 }],
      'views[0].retentionDays: expected at most 36500 days (100 years), or null to keep the buckets for ever',
    ],
    [[], 'views: declare at least one view'],
    [{}, 'views: expected an array of view declarations'],
  ])('rejects %j: %s', (declarations, problem) => {
    expect(problemsOf(declarations)).toContain(problem);
  });

  it('rejects an order comparison on a string field', () => {
    expect(problemsOf([{ ...base, filter: [{ field: 'site', op: 'gt', value: 'a' }] }])).toEqual([
      'views[0].filter[0].op: op gt compares numbers; site is a string field (use eq, ne, in or notIn)',
    ]);
  });

  it('lists every problem in the error message', () => {
    expect(() => defineViews([{ ...base, dimensions: [], granularity: 'week' }])).toThrow(
      /invalid view declarations:\n {2}- views\[0\]\.dimensions: .*\n {2}- views\[0\]\.granularity: /,
    );
  });
});

describe('view retention', () => {
  const DAY_MS = 86_400_000;

  it.each([
    ['minute', 30],
    ['hour', 400],
    ['day', null],
  ] as const)('defaults %s views to %p days (null: for ever)', (granularity, days) => {
    expect(DEFAULT_RETENTION_DAYS[granularity]).toBe(days);
    const [view] = defineViews([{ ...base, granularity }]);
    expect(view.retentionDays).toBe(days);
    expect(retentionMs(view)).toBe(days === null ? null : days * DAY_MS);
  });

  it('takes an explicit number of days, and an explicit null to keep a minute view for ever', () => {
    const [week, forever, hourly] = defineViews([
      { ...base, retentionDays: 7 },
      { ...base, name: 'kept', retentionDays: null },
      { ...base, name: 'hourly', granularity: 'hour', retentionDays: 36_500 },
    ]);
    expect([week.retentionDays, forever.retentionDays, hourly.retentionDays]).toEqual([7, null, 36_500]);
    expect([retentionMs(week), retentionMs(forever)]).toEqual([7 * DAY_MS, null]);
  });

  it('a day view can be given a retention', () => {
    const [view] = defineViews([{ ...base, granularity: 'day', retentionDays: 3650 }]);
    expect(view.retentionDays).toBe(3650);
  });

  it('keeps a bucket while its start is at or after now - retention', () => {
    const [minute] = defineViews([{ ...base, retentionDays: 1 }]);
    const [hour] = defineViews([{ ...base, granularity: 'hour', retentionDays: 1 }]);
    const now = Date.UTC(2026, 10, 24, 12, 30, 15);
    // now - 1 day = 2026-11-23T12:30:15: the 12:30 minute bucket starts before it, the 12:31 one after.
    expect(firstRetainedBucket(minute, now)).toBe(Date.UTC(2026, 10, 23, 12, 31));
    expect(firstRetainedBucket(hour, now)).toBe(Date.UTC(2026, 10, 23, 13));
    // At an exact boundary the bucket that starts at now - retention is still kept.
    const aligned = Date.UTC(2026, 10, 24, 12, 30);
    expect(firstRetainedBucket(minute, aligned)).toBe(Date.UTC(2026, 10, 23, 12, 30));
    expect(firstRetainedBucket(minute, aligned + 1)).toBe(Date.UTC(2026, 10, 23, 12, 31));
    expect(firstRetainedBucket(hour, Date.UTC(2026, 10, 24, 12))).toBe(Date.UTC(2026, 10, 23, 12));
  });

  it('keeps everything of a view without retention, and never answers a bucket before 1970', () => {
    const [forever] = defineViews([{ ...base, granularity: 'day' }]);
    expect(firstRetainedBucket(forever, Date.UTC(2026, 10, 24))).toBe(0);
    const [minute] = defineViews([base]);
    expect(firstRetainedBucket(minute, 5 * DAY_MS)).toBe(0);
  });
});
