import { randomUUID } from 'node:crypto';

export interface TrafficOptions {
  readonly devices: number;
  /** Share of events whose event time lies minutes to hours in the past. */
  readonly lateShare: number;
  /** Share of events that break the schema, to exercise rejections. */
  readonly invalidShare: number;
  /** Sites the devices are spread over. @default 4 */
  readonly sites?: number;
  readonly random?: () => number;
  readonly now?: () => number;
}

const METRICS = [
  { metric: 'temperature', base: 21, spread: 6 },
  { metric: 'humidity', base: 45, spread: 20 },
  { metric: 'pressure', base: 1013, spread: 15 },
] as const;

/** Ways a producer gets an event wrong, each caught by a different schema rule. */
const INVALID_MUTATIONS: readonly ((event: Record<string, unknown>) => void)[] = [
  (event) => (event.value = 'hot'),
  (event) => delete event.deviceId,
  (event) => (event.ts = 'yesterday'),
  (event) => (event.metric = ''),
];

/**
 * Generates IoT readings: each device reports its metrics around a per-metric baseline, some late (event time up
 * to two hours back), some invalid. Values are rounded to quarters, so sums stay exact when checked by hand.
 */
export class IotTraffic {
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly options: TrafficOptions) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  next(): Record<string, unknown> {
    const device = Math.floor(this.random() * this.options.devices);
    const { metric, base, spread } = METRICS[Math.floor(this.random() * METRICS.length)];
    const late = this.random() < this.options.lateShare;
    const ts = late ? this.now() - Math.floor((1 + this.random() * 119) * 60_000) : this.now();
    const event: Record<string, unknown> = {
      eventId: randomUUID(),
      deviceId: `device-${String(device).padStart(3, '0')}`,
      site: `site-${device % (this.options.sites ?? 4)}`,
      metric,
      value: Math.round((base + (this.random() - 0.5) * 2 * spread) * 4) / 4,
      ts: new Date(ts).toISOString(),
    };
    if (this.random() < this.options.invalidShare) {
      INVALID_MUTATIONS[Math.floor(this.random() * INVALID_MUTATIONS.length)](event);
    }
    return event;
  }

  batch(size: number): Record<string, unknown>[] {
    return Array.from({ length: size }, () => this.next());
  }
}
