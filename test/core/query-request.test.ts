import { defineViews } from '../../functions/core/view-declaration';
import { MAX_EVENT_TIME_MS } from '../../functions/core/event-limits';
import { DEFAULT_QUERY_LIMITS, parseViewQuery, QUERY_TIME_RANGE } from '../../functions/core/query-request';

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
