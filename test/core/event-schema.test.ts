import {
  dimensionOf,
  eventIdOf,
  eventTimeOf,
  numberOf,
  parseEvent,
  parseEventJson,
  partitionKeyOf,
} from '../../functions/core/event-schema';
import { defineEventSchema } from '../../functions/core/event-schema-definition';

/** Arrival a minute after the event: well inside the one-day skew bound. */
const arrival = { arrivalMs: 1795483860000, eventTimeSkewMs: 86_400_000 };
const parse = (input: unknown) => parseEvent(input, arrival);

const valid = {
  eventId: 'e-1',
  deviceId: 'dev-1',
  site: 'site-a',
  metric: 'temperature',
  value: 21.5,
  ts: 1795483800000,
};

describe('event schema', () => {
  it('accepts a valid event and keeps unknown extra fields', () => {
    const result = parse({ ...valid, firmware: '1.2.3', location: { lat: 1 } });
    expect(result).toEqual({ ok: true, event: { ...valid, firmware: '1.2.3', location: { lat: 1 } } });
  });

  it('normalises an ISO-8601 event time with a zone to epoch milliseconds', () => {
    expect(parse({ ...valid, ts: '2026-11-24T01:30:00.123Z' })).toMatchObject({
      ok: true,
      event: { ts: 1795483800123 },
    });
    expect(parse({ ...valid, ts: '2026-11-24T02:30:00+01:00' })).toMatchObject({
      ok: true,
      event: { ts: 1795483800000 },
    });
  });

  it.each([
    [{ value: 'hot' }, 'value: expected a finite number'],
    [{ value: Number.POSITIVE_INFINITY }, 'value: expected a finite number'],
    [{ value: Number.NaN }, 'value: expected a finite number'],
    [{ value: undefined }, 'value: required'],
    [{ deviceId: '' }, 'deviceId: expected a non-empty string'],
    [{ deviceId: 42 }, 'deviceId: expected a string'],
    [{ site: undefined }, 'site: required'],
    [{ metric: 'm'.repeat(257) }, 'metric: expected at most 256 UTF-16 code units (it has 257)'],
    [{ deviceId: '😀'.repeat(129) }, 'deviceId: expected at most 256 UTF-16 code units (it has 258)'],
    [
      { site: '東'.repeat(57) },
      'site: 513 bytes URI-encoded, above the limit of 512 that keeps DynamoDB keys within 2,048 bytes',
    ],
    [{ deviceId: 'dev\ud800' }, 'deviceId: expected well-formed Unicode (it has a lone surrogate)'],
    [{ site: ' pad ' }, 'site: expected no white space at the start or end'],
    [{ eventId: 'e\t' }, 'eventId: expected no white space at the start or end'],
    [
      { value: 1e200 },
      "value: expected 0 or a magnitude from 1e-100 to 1e+100 (DynamoDB's number range, with room for sums)",
    ],
    [
      { value: -1e-200 },
      "value: expected 0 or a magnitude from 1e-100 to 1e+100 (DynamoDB's number range, with room for sums)",
    ],
    [{ ts: 253402300800000 }, 'ts: expected a time at or before 9999-12-31T23:59:59.999Z'],
    [{ ts: 8640000000000001 }, 'ts: expected a time at or before 9999-12-31T23:59:59.999Z'],
    [{ ts: 1795483860000 + 86_400_001 }, 'ts: more than 1 day after arrival'],
    [{ extra: '\udc00' }, 'extra: expected well-formed Unicode (it has a lone surrogate)'],
    [
      { nested: { list: [1, { deep: 'x\ud800y' }] } },
      'nested.list[1].deep: expected well-formed Unicode (it has a lone surrogate)',
    ],
    [{ ts: 1.5 }, 'ts: expected whole epoch milliseconds'],
    [{ ts: -1 }, 'ts: expected a time at or after 1970-01-01T00:00:00Z'],
    [{ ts: '1969-12-31T23:59:59Z' }, 'ts: expected a time at or after 1970-01-01T00:00:00Z'],
    [
      { ts: '2026-11-24T01:30:00' },
      'ts: expected epoch milliseconds (a non-negative integer) or an ISO-8601 date-time with a zone',
    ],
    [
      { ts: 'yesterday' },
      'ts: expected epoch milliseconds (a non-negative integer) or an ISO-8601 date-time with a zone',
    ],
    [{ ts: undefined }, 'ts: required'],
  ])('rejects %j with an error naming the field and the rule', (change, message) => {
    expect(parse({ ...valid, ...change })).toEqual({ ok: false, errors: [message] });
  });

  it('reports every problem of an event at once', () => {
    const result = parse({ eventId: 'e', value: 'x' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors).toEqual([
      'deviceId: required',
      'site: required',
      'metric: required',
      'value: expected a finite number',
      'ts: required',
    ]);
  });

  it.each([[null], [[valid]], ['text'], [7]])('rejects %j: an event is a JSON object', (input) => {
    expect(parse(input)).toEqual({ ok: false, errors: ['event: expected a JSON object'] });
  });

  it('accepts the edges of every limit: 256 code units, 512 encoded bytes (42 emoji), 1e±100, 9999-12-31, one day ahead', () => {
    expect(parse({ ...valid, metric: 'm'.repeat(256) }).ok).toBe(true);
    expect(parse({ ...valid, site: '東'.repeat(56) + 'abcdefgh' }).ok).toBe(true);
    expect(parse({ ...valid, deviceId: '😀'.repeat(42) }).ok).toBe(true);
    expect(parse({ ...valid, value: 1e100 }).ok).toBe(true);
    expect(parse({ ...valid, value: -1e-100 }).ok).toBe(true);
    expect(parse({ ...valid, value: 0 }).ok).toBe(true);
    expect(parse({ ...valid, ts: 1795483860000 + 86_400_000 }).ok).toBe(true);
    expect(parseEvent({ ...valid, ts: 253402300799999 }, { arrivalMs: 253402300799999, eventTimeSkewMs: 0 }).ok).toBe(
      true,
    );
    expect(parse({ ...valid, site: 'inner space', extra: { emoji: '😀' } }).ok).toBe(true);
  });

  it('rejects an event nested deeper than 32 levels without overflowing the stack, however deep', () => {
    let deep: unknown = 'bottom';
    for (let level = 0; level < 100_000; level += 1) deep = [deep];
    expect(parse({ ...valid, deep })).toEqual({
      ok: false,
      errors: [
        'deep[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nested deeper than 32 levels',
      ],
    });
    let shallow: unknown = 'bottom';
    for (let level = 0; level < 31; level += 1) shallow = { level: shallow };
    expect(parse({ ...valid, shallow }).ok).toBe(true);
  });

  it('rejects a field name with a lone surrogate', () => {
    expect(parse({ ...valid, ['k\ud800']: 1 })).toEqual({
      ok: false,
      errors: ['event: a field name is not well-formed Unicode (it has a lone surrogate)'],
    });
  });

  it('rejects malformed JSON with the parser message', () => {
    const result = parseEventJson('{"eventId": ', arrival);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors[0]).toMatch(/^event: malformed JSON \(/);
  });
});

describe('event schema, declared', () => {
  const schema = defineEventSchema({
    id: 'requestId',
    time: 'at',
    dimensions: ['path', 'status', 'country'],
    numbers: ['latencyMs', 'bytes'],
  });
  const parseWeb = (input: unknown) => parseEvent(input, { ...arrival, schema });
  const request = {
    requestId: 'r-1',
    path: '/checkout',
    status: '200',
    country: 'NZ',
    latencyMs: 182.5,
    bytes: 5120,
    at: 1795483800000,
  };

  it('accepts a valid event of the declared schema, and its accessors read the declared fields', () => {
    const result = parseWeb({ ...request, userAgent: 'curl' });
    expect(result).toEqual({ ok: true, event: { ...request, userAgent: 'curl' } });
    const event = result.ok ? result.event : {};
    expect(eventIdOf(schema, event)).toBe('r-1');
    expect(eventTimeOf(schema, event)).toBe(1795483800000);
    expect(partitionKeyOf(schema, event)).toBe('/checkout');
    expect(dimensionOf(event, 'country')).toBe('NZ');
    expect(numberOf(event, 'bytes')).toBe(5120);
  });

  it('does not ask for the IoT fields', () => {
    expect(parseWeb(request).ok).toBe(true);
    expect(parse(request)).toMatchObject({ ok: false, errors: expect.arrayContaining(['deviceId: required']) });
  });

  it('names a missing or non-numeric numeric field', () => {
    const { bytes: _bytes, ...withoutBytes } = request;
    expect(parseWeb(withoutBytes)).toEqual({ ok: false, errors: ['bytes: required'] });
    expect(parseWeb({ ...request, latencyMs: 'slow' })).toEqual({
      ok: false,
      errors: ['latencyMs: expected a finite number'],
    });
    expect(parseWeb({ ...request, latencyMs: 1e200 })).toEqual({
      ok: false,
      errors: [
        "latencyMs: expected 0 or a magnitude from 1e-100 to 1e+100 (DynamoDB's number range, with room for sums)",
      ],
    });
  });

  it('normalises the declared time field to epoch milliseconds, and judges it by its own name', () => {
    expect(parseWeb({ ...request, at: '2026-11-24T02:30:00.123+01:00' })).toEqual({
      ok: true,
      event: { ...request, at: 1795483800123 },
    });
    expect(parseWeb({ ...request, at: 'yesterday' })).toEqual({
      ok: false,
      errors: ['at: expected epoch milliseconds (a non-negative integer) or an ISO-8601 date-time with a zone'],
    });
    expect(parseWeb({ ...request, at: 1795483860000 + 86_400_001 })).toEqual({
      ok: false,
      errors: ['at: more than 1 day after arrival'],
    });
    // An IoT `ts` in a web request is just an extra field.
    expect(parseWeb({ ...request, ts: 'whenever' }).ok).toBe(true);
  });

  it('requires a string for every dimension and the id, even one that looks like a number', () => {
    expect(parseWeb({ ...request, status: 200 })).toEqual({ ok: false, errors: ['status: expected a string'] });
    expect(parseWeb({ ...request, requestId: 7 })).toEqual({ ok: false, errors: ['requestId: expected a string'] });
    expect(parseWeb({ ...request, country: '' })).toEqual({
      ok: false,
      errors: ['country: expected a non-empty string'],
    });
  });

  it('reports every problem of an event at once, in the declared field names', () => {
    const result = parseWeb({ path: '/', latencyMs: 'x' });
    expect(!result.ok && result.errors).toEqual([
      'requestId: required',
      'status: required',
      'country: required',
      'latencyMs: expected a finite number',
      'bytes: required',
      'at: required',
    ]);
  });
});
