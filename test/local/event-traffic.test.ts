import { DEFAULT_EVENT_SCHEMA, parseEvent } from '../../functions/core/event-schema';
import { defineEventSchema } from '../../functions/core/event-schema-definition';
import { exampleEvent, trafficFor } from '../../local/event-traffic';
import { IotTraffic } from '../../local/iot-traffic';

/** A seeded generator (mulberry32), so the shares below are checked on a fixed sample. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const now = Date.UTC(2026, 10, 24, 12);
const webRequests = defineEventSchema({
  id: 'requestId',
  time: 'at',
  dimensions: ['path', 'status', 'country'],
  numbers: ['latencyMs', 'bytes'],
});
const judge = (event: Record<string, unknown>, schema = webRequests) =>
  parseEvent(event, { arrivalMs: now, eventTimeSkewMs: 86_400_000, schema });

describe('traffic for a declared schema', () => {
  const events = trafficFor(webRequests, {
    keys: 5,
    lateShare: 0.2,
    invalidShare: 0.1,
    random: seeded(11),
    now: () => now,
  }).batch(4000);
  const parsed = events.map((event) => judge(event));
  const valid = parsed.flatMap((result) => (result.ok ? [result.event] : []));

  it('writes every field the schema declares, and events the schema accepts apart from the invalid share', () => {
    expect(valid.length / events.length).toBeGreaterThan(0.88);
    expect(valid.length / events.length).toBeLessThan(0.92);
    for (const event of valid) {
      expect(Object.keys(event).sort()).toEqual(['at', 'bytes', 'country', 'latencyMs', 'path', 'requestId', 'status']);
    }
    expect(new Set(events.map((event) => event.requestId)).size).toBe(events.length);
  });

  it('breaks the invalid share in ways the schema names by field', () => {
    for (const result of parsed) {
      if (!result.ok) expect(result.errors[0]).toMatch(/^(path|at|country|latencyMs|bytes): /);
    }
  });

  it('draws dimensions from small realistic pools, the first over the requested number of keys, status as a string', () => {
    expect(new Set(valid.map((event) => event.path)).size).toBe(5);
    expect([...new Set(valid.map((event) => event.path))].every((path) => String(path).startsWith('/'))).toBe(true);
    const statuses = new Set(valid.map((event) => event.status));
    expect([...statuses].every((status) => typeof status === 'string' && /^[1-5]\d\d$/.test(status))).toBe(true);
    expect(statuses.size).toBeGreaterThan(3);
    expect(new Set(valid.map((event) => event.country)).size).toBeGreaterThan(3);
  });

  it('keeps numbers within plausible ranges: whole milliseconds and bytes', () => {
    const latencies = valid.map((event) => Number(event.latencyMs));
    expect(latencies.every((ms) => Number.isInteger(ms) && ms >= 5 && ms <= 900)).toBe(true);
    expect(valid.every((event) => Number.isInteger(event.bytes) && Number(event.bytes) >= 200)).toBe(true);
  });

  it('sends the late share up to two hours back, the rest now', () => {
    const times = valid.map((event) => Number(event.at));
    const late = times.filter((at) => at < now);
    expect(late.length / times.length).toBeGreaterThan(0.17);
    expect(late.length / times.length).toBeLessThan(0.23);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(now - 2 * 3_600_000);
    expect(times.filter((at) => at > now)).toEqual([]);
  });

  it('names numbered values for a field it has no pool for', () => {
    const schema = defineEventSchema({ dimensions: ['tenant', 'colour'], numbers: ['score', 'weight'] });
    const [event] = trafficFor(schema, {
      keys: 3,
      lateShare: 0,
      invalidShare: 0,
      random: seeded(3),
      now: () => now,
    }).batch(1);
    expect(event.tenant).toMatch(/^tenant-00[0-2]$/);
    expect(event.colour).toMatch(/^colour-[0-3]$/);
    expect(judge(event, schema).ok).toBe(true);
  });
});

describe('traffic for the default schema', () => {
  it('is the IoT generator: the same readings from the same random sequence', () => {
    const options = { lateShare: 0.2, invalidShare: 0.1, now: () => now };
    const iot = new IotTraffic({ ...options, devices: 7, random: seeded(5) }).batch(200);
    const traffic = trafficFor(DEFAULT_EVENT_SCHEMA, { ...options, keys: 7, random: seeded(5) }).batch(200);
    const withoutIds = (events: Record<string, unknown>[]) => events.map(({ eventId: _id, ...rest }) => rest);
    expect(withoutIds(traffic)).toEqual(withoutIds(iot));
  });
});

describe('the example event npm start prints', () => {
  it.each([
    ['the default schema', DEFAULT_EVENT_SCHEMA],
    ['the web-requests schema', webRequests],
  ])('is valid for %s', (_name, schema) => {
    const result = parseEvent(exampleEvent(schema, now), { arrivalMs: now, eventTimeSkewMs: 86_400_000, schema });
    expect(result.ok).toBe(true);
  });
});
