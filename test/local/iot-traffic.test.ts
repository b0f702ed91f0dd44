import { parseEvent } from '../../functions/core/event-schema';
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

describe('IoT traffic generator', () => {
  const now = Date.UTC(2026, 10, 24, 12);
  const events = new IotTraffic({
    devices: 10,
    lateShare: 0.2,
    invalidShare: 0.1,
    random: seeded(7),
    now: () => now,
  }).batch(5000);
  const parsed = events.map((event) => parseEvent(event, { arrivalMs: now, eventTimeSkewMs: 86_400_000 }));

  it('produces the requested share of events that the schema rejects, each with a named reason', () => {
    const rejected = parsed.filter((result) => !result.ok);
    expect(rejected.length / events.length).toBeGreaterThan(0.08);
    expect(rejected.length / events.length).toBeLessThan(0.12);
    for (const result of rejected) expect(!result.ok && result.errors[0]).toMatch(/^(value|deviceId|ts|metric): /);
  });

  it('produces the requested share of late events, up to two hours back, and the rest at the current time', () => {
    const times = parsed.flatMap((result) => (result.ok ? [Number(result.event.ts)] : []));
    const late = times.filter((ts) => ts < now);
    expect(late.length / times.length).toBeGreaterThan(0.17);
    expect(late.length / times.length).toBeLessThan(0.23);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(now - 2 * 3_600_000);
    expect(times.filter((ts) => ts > now)).toEqual([]);
  });

  it('spreads events over the requested devices, four sites and three metrics, with unique event ids', () => {
    const valid = parsed.flatMap((result) => (result.ok ? [result.event] : []));
    expect(new Set(valid.map((event) => event.deviceId)).size).toBe(10);
    expect(new Set(valid.map((event) => event.site)).size).toBe(4);
    expect(new Set(valid.map((event) => event.metric))).toEqual(new Set(['temperature', 'humidity', 'pressure']));
    expect(new Set(events.map((event) => event.eventId)).size).toBe(events.length);
  });
});
