import type { IotEvent } from '../../functions/core/event-schema';

const HOUR_MS = 3_600_000;
const METRICS = ['temperature', 'humidity', 'pressure'] as const;

export interface EventOptions {
  readonly count: number;
  readonly seed: number;
  /** @default 5 */
  readonly devices?: number;
  /** Event time is now minus up to this much (late events when it spans hours). @default 5 minutes */
  readonly maxAgeMs?: number;
  /** @default Date.now() */
  readonly nowMs?: number;
  /** Distinguishes the eventIds of several generated sets. @default 'e' */
  readonly prefix?: string;
}

/**
 * Reproducible events. Values are multiples of 1/4 well below 2^20, so every sum is exact in doubles and in
 * DynamoDB's decimals alike, in any order: the comparisons are equalities.
 */
export function generateEvents(options: EventOptions): IotEvent[] {
  const random = seededRandom(options.seed);
  const devices = options.devices ?? 5;
  const maxAgeMs = options.maxAgeMs ?? 5 * 60_000;
  const nowMs = options.nowMs ?? Date.now();
  return Array.from({ length: options.count }, (_, index) => {
    const device = Math.floor(random() * devices);
    return {
      eventId: `${options.prefix ?? 'e'}-${options.seed}-${index}`,
      deviceId: `device-${device}`,
      site: `site-${device % 3}`,
      metric: METRICS[Math.floor(random() * METRICS.length)],
      value: Math.floor(random() * 4_000 - 2_000) / 4,
      ts: Math.floor(nowMs - random() * maxAgeMs),
    };
  });
}

/** Events far in the past: event time 1 to `hours` hours before now, so they land many epochs before arrival. */
export function lateEvents(count: number, seed: number, hours: number): IotEvent[] {
  return generateEvents({ count, seed, maxAgeMs: hours * HOUR_MS, prefix: 'late' }).map((event) => ({
    ...event,
    ts: Math.min(event.ts, Date.now() - HOUR_MS),
  }));
}

/** The payloads as producers send them, and the way back from a payload to its event. */
export function payloadsOf(events: readonly IotEvent[]): {
  payloads: string[];
  eventsByPayload: Map<string, IotEvent>;
} {
  const payloads = events.map((event) => JSON.stringify(event));
  return { payloads, eventsByPayload: new Map(payloads.map((payload, index) => [payload, events[index]])) };
}

/** mulberry32: small, fast and good enough to spread test data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
