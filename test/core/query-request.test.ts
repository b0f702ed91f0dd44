import { defineViews } from '../../functions/core/view-declaration';
import { MAX_EVENT_TIME_MS } from '../../functions/core/event-limits';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import {
  DEFAULT_KEYS_PAGE,
  DEFAULT_QUERY_LIMITS,
  DEFAULT_TOP_LIMIT,
  groupKeyOf,
  parseKeyListing,
  parseViewQuery,
  QUERY_TIME_RANGE,
  retentionProblem,
  tooManyKeysProblem,
} from '../../functions/core/query-request';
import { encodeDirectoryToken } from '../../functions/core/key-directory';

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
        selection: { mode: 'keys', dimensionKeys: ['a|t', 'b|t'] },
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
      'colour: unknown dimension of view device_metric_minute (its dimensions are deviceId, metric; other parameters are from, to, granularity, orderBy, order, limit, quantiles)',
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
    expect(exact.ok && exact.query.selection).toEqual({ mode: 'keys', dimensionKeys: ['a%20b|t'] });
  });
});

describe('group-by and top-N parameters', () => {
  const [siteView] = defineViews([
    { name: 'site_device_metric_minute', dimensions: ['site', 'deviceId', 'metric'], granularity: 'minute' },
  ]);

  it('groups by the dimensions given when some are left out: one group per combination of the values given', () => {
    const result = parseViewQuery(siteView, { site: ['s1,s2'], metric: ['t'] }, now);
    expect(result.ok && result.query.selection).toEqual({
      mode: 'group',
      groupBy: ['site', 'metric'],
      groups: ['s1|t', 's2|t'],
      filter: new Map([
        [0, ['s1', 's2']],
        [2, ['t']],
      ]),
    });
  });

  it('groups every key of the view into one series when no dimension is given', () => {
    const result = parseViewQuery(siteView, {}, now);
    expect(result.ok && result.query.selection).toEqual({
      mode: 'group',
      groupBy: [],
      groups: [''],
      filter: new Map(),
    });
  });

  it('bounds the keys a group-by or top-N merges by maxMergedKeys and by keys × buckets within maxBuckets', () => {
    // A day of minutes is 1441 buckets: 200,000 / 1441 = 138 keys.
    const day = parseViewQuery(siteView, { site: ['s1'] }, now);
    expect(day.ok && [day.query.bucketsPerKey, day.query.maxMergedKeys]).toEqual([1441, 138]);
    const hour = parseViewQuery(siteView, { site: ['s1'], from: [String(now - 3_600_000)] }, now);
    expect(hour.ok && hour.query.maxMergedKeys).toBe(DEFAULT_QUERY_LIMITS.maxMergedKeys);
    expect(DEFAULT_QUERY_LIMITS).toMatchObject({ maxMergedKeys: 1000, maxTopLimit: 100, maxKeysPage: 1000 });
  });

  it('says how many keys a group-by may merge, why, and what to do past the bound', () => {
    const result = parseViewQuery(siteView, { site: ['s1,s2'] }, now);
    if (!result.ok) throw new Error(result.errors.join('; '));
    expect(tooManyKeysProblem(result.query)).toBe(
      'dimensions: more than 138 keys of view site_device_metric_minute with site="s1","s2"; a group-by merges at ' +
        'most 138 keys over 1441 minute buckets (at most 1000 keys, and keys × buckets at most 200000). Give more ' +
        'dimensions or values that match fewer keys, query a view with fewer or coarser buckets, or a shorter range ' +
        '(from/to).',
    );
    const top = parseViewQuery(siteView, { orderBy: ['max'] }, now);
    if (!top.ok) throw new Error(top.errors.join('; '));
    expect(tooManyKeysProblem(top.query)).toMatch(
      /^dimensions: more than 138 keys of view site_device_metric_minute; a top-N ranks at most 138 keys/,
    );
  });

  it('ranks with orderBy, by default the first 10 in descending order, among the directory keys that match', () => {
    const result = parseViewQuery(siteView, { site: ['s1'], orderBy: ['avg'] }, now);
    expect(result.ok && result.query.selection).toEqual({
      mode: 'top',
      orderBy: expect.objectContaining({ name: 'avg', kind: 'avg' }),
      order: 'desc',
      limit: DEFAULT_TOP_LIMIT,
      dimensionKeys: null,
      filter: new Map([[0, ['s1']]]),
    });
    expect(DEFAULT_TOP_LIMIT).toBe(10);
  });

  it('ranks exactly the keys given when every dimension is given, in the order and number asked for', () => {
    const result = parseViewQuery(
      siteView,
      { site: ['s1'], deviceId: ['a,b'], metric: ['t'], orderBy: ['count'], order: ['asc'], limit: ['100'] },
      now,
    );
    expect(result.ok && result.query.selection).toMatchObject({
      mode: 'top',
      order: 'asc',
      limit: 100,
      dimensionKeys: ['s1|a|t', 's1|b|t'],
    });
  });

  it('refuses an unknown measure, a bad order or limit, naming the parameter and what it takes', () => {
    const result = parseViewQuery(siteView, { orderBy: ['hottest'], order: ['up'], limit: ['101'] }, now);
    expect(!result.ok && result.errors).toEqual([
      'orderBy: expected a measure of view site_device_metric_minute (count, sum, min, max, avg), got "hottest"',
      'order: expected desc or asc, got "up"',
      'limit: expected a whole number from 1 to 100, got "101"',
    ]);
    for (const limit of ['0', '-1', '1.5', '', 'ten', '1e2', '99999999']) {
      expect(parseViewQuery(siteView, { orderBy: ['sum'], limit: [limit] }, now)).toMatchObject({
        ok: false,
        errors: [`limit: expected a whole number from 1 to 100, got ${JSON.stringify(limit)}`],
      });
    }
    expect(parseViewQuery(siteView, { orderBy: ['sum', 'max'] }, now)).toMatchObject({
      ok: false,
      errors: ['orderBy: give it once'],
    });
  });

  it('refuses order and limit without orderBy', () => {
    expect(parseViewQuery(siteView, { site: ['s1'], order: ['asc'], limit: ['5'] }, now)).toEqual({
      ok: false,
      status: 400,
      errors: [
        'order: only with orderBy=<measure>, which ranks keys (a top-N)',
        'limit: only with orderBy=<measure>, which ranks keys (a top-N)',
      ],
    });
  });

  it('refuses more combinations of the values given than maxKeys, as groups and as keys', () => {
    const values = Array.from({ length: 8 }, (_, i) => `v${i}`).join(',');
    expect(parseViewQuery(siteView, { site: [values], metric: [values] }, now)).toMatchObject({
      ok: false,
      errors: ['dimensions: 64 combinations of the values given, above the limit of 50 per request'],
    });
    expect(parseViewQuery(siteView, { site: [values], deviceId: [values], metric: ['t'] }, now)).toMatchObject({
      ok: false,
      errors: ['dimensions: 64 keys requested, above the limit of 50 per request'],
    });
  });

  it('gives the key of the given dimensions a directory key falls in', () => {
    const filter = new Map([
      [0, ['s 1']],
      [2, ['t']],
    ]);
    expect(groupKeyOf(filter, 's%201|a|t')).toBe('s%201|t');
    expect(groupKeyOf(new Map(), 's1|a|t')).toBe('');
  });
});

describe('key listing parameters', () => {
  it('lists every key, 100 a page, when nothing is given', () => {
    expect(parseKeyListing(view, {})).toEqual({
      ok: true,
      query: { view, filter: new Map(), limit: DEFAULT_KEYS_PAGE, after: undefined },
    });
    expect(DEFAULT_KEYS_PAGE).toBe(100);
  });

  it('filters by any dimension values given, and continues after the key a next token holds', () => {
    const next = encodeDirectoryToken('a|t');
    expect(parseKeyListing(view, { metric: ['t,u'], limit: ['1000'], next: [next] })).toEqual({
      ok: true,
      query: { view, filter: new Map([[1, ['t', 'u']]]), limit: 1000, after: 'a|t' },
    });
  });

  it('refuses an unknown parameter, a bad limit, a value ingest would refuse and a token this API did not give', () => {
    const result = parseKeyListing(view, {
      site: ['s1'],
      from: ['0'],
      deviceId: [' a'],
      limit: ['1001'],
      next: ['k1.not base64!'],
    });
    expect(!result.ok && result.errors).toEqual([
      'site: unknown dimension of view device_metric_minute (its dimensions are deviceId, metric; other parameters are limit, next)',
      'from: unknown dimension of view device_metric_minute (its dimensions are deviceId, metric; other parameters are limit, next)',
      'deviceId: expected no white space at the start or end, got " a"',
      'limit: expected a whole number from 1 to 1000, got "1001"',
      'next: not a token this API gave, got "k1.not base64!" (pass the next of the previous page as it is)',
    ]);
    const twice = [encodeDirectoryToken('a|t'), encodeDirectoryToken('b|t')];
    expect(parseKeyListing(view, { next: twice })).toMatchObject({ ok: false, errors: ['next: give it once'] });
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
