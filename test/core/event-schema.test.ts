import { parseEvent, parseEventJson } from '../../functions/core/event-schema';

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
    const result = parseEvent({ ...valid, firmware: '1.2.3', location: { lat: 1 } });
    expect(result).toEqual({ ok: true, event: { ...valid, firmware: '1.2.3', location: { lat: 1 } } });
  });

  it('normalises an ISO-8601 event time with a zone to epoch milliseconds', () => {
    expect(parseEvent({ ...valid, ts: '2026-11-24T01:30:00.123Z' })).toMatchObject({
      ok: true,
      event: { ts: 1795483800123 },
    });
    expect(parseEvent({ ...valid, ts: '2026-11-24T02:30:00+01:00' })).toMatchObject({
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
    [{ metric: 'm'.repeat(257) }, 'metric: expected at most 256 characters'],
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
    expect(parseEvent({ ...valid, ...change })).toEqual({ ok: false, errors: [message] });
  });

  it('reports every problem of an event at once', () => {
    const result = parseEvent({ eventId: 'e', value: 'x' });
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
    expect(parseEvent(input)).toEqual({ ok: false, errors: ['event: expected a JSON object'] });
  });

  it('rejects malformed JSON with the parser message', () => {
    const result = parseEventJson('{"eventId": ');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors[0]).toMatch(/^event: malformed JSON \(/);
  });
});
