import { defineViews } from '../../functions/core/view-declaration';
import { MAX_EVENT_TIME_MS } from '../../functions/core/event-limits';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import {
  DEFAULT_QUERY_LIMITS,
  parseViewQuery,
  QUERY_TIME_RANGE,
  retentionProblem,
} from '../../functions/core/query-request';

const [view] = defineViews([
  { name: 'device_metric_minute', dimensions: ['deviceId', 'metric'], granularity: 'minute' },
]);
const now = Date.UTC(2026, 10, 24, 12, 30, 15);

describe('view query parameters', () => {
  it('expands comma-separated values into every dimension key, and aligns from down to the granularity', () => {
    const result = parseViewQuery(
      view,
      { deviceId: ['a,b'], metric: ['t'], from: ['2026-11-24T10:17:30Z'], to: [String(now)], granularity: ['hour'] },
      now,
    );
    expect(result).toEqual({
      ok: true,
      query: expect.objectContaining({
        granularity: 'hour',
        from: Date.UTC(2026, 10, 24, 10),
        to: now,
        dimensionKeys: ['a|t', 'b|t'],
        firstBucket: Date.UTC(2026, 10, 24, 10),
        lastBucket: Date.UTC(2026, 10, 24, 12, 30),
      }),
    });
  });

  it('defaults to the last day at the view granularity', () => {
    const result = parseViewQuery(view, { deviceId: ['a'], metric: ['t'] }, now);
    expect(result.ok && [result.query.from, result.query.to, result.query.granularity]).toEqual([
      Date.UTC(2026, 10, 23, 12, 30),
      now,
      'minute',
    ]);
  });

  it('allows 30 days at minute granularity for one key, and refuses more with the limit and the amount', () => {
    const thirtyDays = parseViewQuery(
      view,
      { deviceId: ['a'], metric: ['t'], from: [String(now - 30 * 86_400_000)], to: [String(now)] },
      now,
    );
    expect(thirtyDays.ok).toBe(true);
    const tooLong = parseViewQuery(
      view,
      { deviceId: ['a'], metric: ['t'], from: [String(now - 40 * 86_400_000)], to: [String(now)] },
      now,
    );
    expect(tooLong).toEqual({
      ok: false,
      status: 400,
      errors: [
        `from/to: the range covers 57601 minute buckets, above the limit of ${DEFAULT_QUERY_LIMITS.maxBucketsPerKey} per key`,
      ],
    });
  });

  it('refuses keys × buckets above the request limit', () => {
    const keys = Array.from({ length: 10 }, (_, i) => `d${i}`).join(',');
    const result = parseViewQuery(
      view,
      { deviceId: [keys], metric: ['t'], from: [String(now - 20 * 86_400_000)], to: [String(now)] },
      now,
    );
    expect(!result.ok && result.errors).toEqual([
      'from/to: 10 keys × 28801 buckets is above the limit of 200000 per request',
    ]);
  });

  it('reports every problem of a request at once, each naming its parameter', () => {
    const result = parseViewQuery(
      view,
      { deviceId: ['a', 'b'], colour: ['red'], granularity: ['second'], to: ['soon'] },
      now,
    );
    expect(!result.ok && result.errors).toEqual([
      'colour: unknown dimension of view device_metric_minute (its dimensions are deviceId, metric; other parameters are from, to, granularity)',
      'metric: required, one or more comma-separated values (every dimension of device_metric_minute must be given)',
      'granularity: expected one of minute, hour, day for view device_metric_minute, got "second"',
      'to: expected epoch milliseconds or an ISO-8601 date-time with a zone, got "soon"',
    ]);
  });

  it('refuses a range that ends before it starts, and a repeated time parameter', () => {
    expect(parseViewQuery(view, { deviceId: ['a'], metric: ['t'], from: ['2000'], to: ['1000'] }, now)).toEqual({
      ok: false,
      status: 400,
      errors: ['from: must be before to (from 1970-01-01T00:00:02.000Z, to 1970-01-01T00:00:01.000Z)'],
    });
    expect(parseViewQuery(view, { deviceId: ['a'], metric: ['t'], from: ['1', '2'] }, now)).toMatchObject({
      ok: false,
      errors: ['from: give it once'],
    });
  });

  it('takes parameter names such as constructor and __proto__ as unknown parameters, not as members of Object.prototype', () => {
    // As API Gateway's JSON reaches Lambda: every name an own property, `__proto__` included.
    const parameters = JSON.parse(
      '{"deviceId":["a"],"metric":["t"],"constructor":["1"],"__proto__":["2"],"toString":["3"],"hasOwnProperty":["4"],"valueOf":["5"]}',
    ) as Record<string, string[]>;
    const result = parseViewQuery(view, parameters, now);
    expect(!result.ok && result.errors.map((error) => error.split(':')[0])).toEqual([
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'valueOf',
    ]);
  });

  it('refuses from and to outside 1970-01-01T00:00:00Z..9999-12-31T23:59:59.999Z, naming the parameter and the range', () => {
    const result = parseViewQuery(
      view,
      { deviceId: ['a'], metric: ['t'], from: ['-1'], to: ['8640000000000001'] },
      now,
    );
    expect(!result.ok && result.errors).toEqual([
      `to: expected a time from ${QUERY_TIME_RANGE}, got "8640000000000001"`,
      `from: expected a time from ${QUERY_TIME_RANGE}, got "-1"`,
    ]);
    expect(QUERY_TIME_RANGE).toBe(
      '1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z (epoch ms 0 to 253402300799999)',
    );
    for (const to of [String(MAX_EVENT_TIME_MS + 1), '9999-12-31T23:59:59-01:00', '9'.repeat(400)]) {
      expect(parseViewQuery(view, { deviceId: ['a'], metric: ['t'], to: [to] }, now)).toMatchObject({
        ok: false,
        errors: [
          expect.stringMatching(/^to: expected a time from 1970-01-01T00:00:00\.000Z to 9999-12-31T23:59:59\.999Z/),
        ],
      });
    }
  });

  it('accepts the ends of the time range, and starts the default day no earlier than 1970', () => {
    const last = parseViewQuery(
      view,
      { deviceId: ['a'], metric: ['t'], from: [String(MAX_EVENT_TIME_MS - 60_000)], to: [String(MAX_EVENT_TIME_MS)] },
      now,
    );
    expect(last.ok && new Date(last.query.to).toISOString()).toBe('9999-12-31T23:59:59.999Z');
    const first = parseViewQuery(view, { deviceId: ['a'], metric: ['t'], to: ['60000'] }, now);
    expect(first.ok && [first.query.from, first.query.to]).toEqual([0, 60_000]);
    expect(parseViewQuery(view, { deviceId: ['a'], metric: ['t'], to: ['0'] }, now)).toMatchObject({
      ok: false,
      errors: ['from: must be before to (from 1970-01-01T00:00:00.000Z, to 1970-01-01T00:00:00.000Z)'],
    });
  });

  it('takes dimension values exactly as given, and refuses one that ingest would refuse, naming the parameter', () => {
    const padded = parseViewQuery(view, { deviceId: [' pad '], metric: ['t'] }, now);
    expect(!padded.ok && padded.errors).toEqual(['deviceId: expected no white space at the start or end, got " pad "']);
    const result = parseViewQuery(view, { deviceId: ['a,,b'], metric: ['x'.repeat(300), '\ud800'] }, now);
    expect(!result.ok && result.errors).toEqual([
      'deviceId: expected a non-empty string, got ""',
      `metric: expected at most 256 UTF-16 code units (it has 300), got "${'x'.repeat(64)}…"`,
      'metric: expected well-formed Unicode (it has a lone surrogate), got "\\ud800"',
    ]);
    const exact = parseViewQuery(view, { deviceId: ['a b'], metric: ['t'] }, now);
    expect(exact.ok && exact.query.dimensionKeys).toEqual(['a%20b|t']);
  });
});

describe("queries past a view's retention", () => {
  const views = defineViews(DEFAULT_VIEW_DECLARATIONS);
  const [minuteView, hourView, dayView] = views;
  const DAY_MS = 86_400_000;
  const days = (n: number) => n * DAY_MS;
  /** The query's from, as parseViewQuery gives it: aligned down to the requested granularity. */
  const alignedFrom = (query: Record<string, string[]>) => {
    const result = parseViewQuery(minuteView, { deviceId: ['a'], metric: ['t'], ...query }, now);
    if (!result.ok) throw new Error(result.errors.join('; '));
    return result.query.from;
  };

  it('answers a query inside retention, up to the first bucket kept', () => {
    // now - 30 days is 2026-10-25T12:30:15Z: the 12:31 minute bucket is the first kept.
    expect(retentionProblem(minuteView, views, now - days(1), now)).toBeUndefined();
    expect(retentionProblem(minuteView, views, Date.UTC(2026, 9, 25, 12, 31), now)).toBeUndefined();
    expect(retentionProblem(hourView, views, Date.UTC(2025, 9, 20, 13), now)).toBeUndefined();
  });

  it('refuses a query whose from is in a bucket that started before now - retention, naming the views that cover it', () => {
    expect(retentionProblem(minuteView, views, Date.UTC(2026, 9, 25, 12, 30), now)).toBe(
      'from: device_metric_minute keeps 30 days of minute buckets, from 2026-10-25T12:31:00.000Z; ' +
        '2026-10-25T12:30:00.000Z is past its retention. Views that cover it: ' +
        'site_metric_hour (hour buckets by site, metric, 400 days); metric_day (day buckets by metric, kept for ever).',
    );
    // 400 days back: only the day view still covers it.
    expect(retentionProblem(hourView, views, Date.UTC(2025, 9, 20, 12), now)).toBe(
      'from: site_metric_hour keeps 400 days of hour buckets, from 2025-10-20T13:00:00.000Z; ' +
        '2025-10-20T12:00:00.000Z is past its retention. Views that cover it: ' +
        'metric_day (day buckets by metric, kept for ever).',
    );
  });

  it('names a coarser view only when the bucket holding from is still kept there', () => {
    // The hour view's first kept bucket is 2025-10-20T13:00Z; 12:59 lies in its 12:00 bucket, which has gone.
    const from = Date.UTC(2025, 9, 20, 12, 59);
    const withHourly = defineViews([
      { name: 'minute_view', dimensions: ['deviceId'], granularity: 'minute', retentionDays: 30 },
      { name: 'hour_view', dimensions: ['deviceId'], granularity: 'hour', retentionDays: 400 },
    ]);
    expect(retentionProblem(withHourly[0], withHourly, from, now)).toBe(
      'from: minute_view keeps 30 days of minute buckets, from 2026-10-25T12:31:00.000Z; ' +
        '2025-10-20T12:59:00.000Z is past its retention. No view covers that range.',
    );
    expect(retentionProblem(withHourly[0], withHourly, Date.UTC(2025, 9, 20, 13), now)).toContain(
      'Views that cover it: hour_view (hour buckets by deviceId, 400 days).',
    );
  });

  it('refuses a coarser-granularity query whose aligned from reaches past retention', () => {
    // 29.9 days back is inside retention at minute granularity, but aligned to the day it starts 30.52 days back.
    const fromText = String(now - days(29.9));
    expect(retentionProblem(minuteView, views, alignedFrom({ from: [fromText] }), now)).toBeUndefined();
    expect(retentionProblem(minuteView, views, alignedFrom({ from: [fromText], granularity: ['day'] }), now)).toMatch(
      /^from: device_metric_minute keeps 30 days .* 2026-10-25T00:00:00\.000Z is past its retention/,
    );
  });

  it('never refuses a view kept for ever, however far back', () => {
    expect(dayView.retentionDays).toBeNull();
    expect(retentionProblem(dayView, views, 0, now)).toBeUndefined();
    expect(retentionProblem(dayView, views, 0, MAX_EVENT_TIME_MS)).toBeUndefined();
  });
});
