import { randomUUID } from 'node:crypto';
import { DEFAULT_EVENT_SCHEMA, type EventSchema } from '../functions/core/event-schema';
import { IotTraffic } from './iot-traffic';

export interface EventTrafficOptions {
  /** How many distinct values the schema's first dimension (the partition key, e.g. devices) takes. */
  readonly keys: number;
  /** Share of events whose event time lies minutes to hours in the past. */
  readonly lateShare: number;
  /** Share of events that break the schema, to exercise rejections. */
  readonly invalidShare: number;
  readonly random?: () => number;
  readonly now?: () => number;
}

/** A generator of events: IotTraffic for the default schema, SchemaTraffic for any other. */
export interface Traffic {
  next(): Record<string, unknown>;
  batch(size: number): Record<string, unknown>[];
}

/**
 * Small, realistic-looking value pools by field name, so a simulated clickstream reads like one. A field not listed
 * gets `<field>-<n>`. Repeats weight a value: most requests succeed.
 */
const DIMENSION_POOLS: Readonly<Record<string, readonly string[]>> = {
  path: ['/', '/login', '/search', '/cart', '/checkout', '/api/items', '/api/orders', '/static/app.js'],
  route: ['/', '/login', '/search', '/cart', '/checkout', '/api/items', '/api/orders'],
  url: ['/', '/login', '/search', '/cart', '/checkout'],
  status: ['200', '200', '200', '200', '200', '201', '204', '301', '304', '400', '404', '500', '503'],
  statusCode: ['200', '200', '200', '200', '201', '304', '404', '500'],
  method: ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'],
  country: ['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'IN', 'CA'],
  region: ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-northeast-1'],
  city: ['Berlin', 'Paris', 'London', 'Tokyo', 'New York', 'São Paulo'],
  browser: ['Chrome', 'Firefox', 'Safari', 'Edge'],
  os: ['Windows', 'macOS', 'Linux', 'Android', 'iOS'],
  device: ['desktop', 'mobile', 'tablet'],
  currency: ['USD', 'EUR', 'GBP', 'JPY'],
  metric: ['temperature', 'humidity', 'pressure'],
  level: ['debug', 'info', 'info', 'info', 'warn', 'error'],
  event: ['view', 'click', 'add_to_cart', 'purchase'],
  type: ['view', 'click', 'purchase'],
  host: ['web-1', 'web-2', 'web-3', 'web-4'],
  service: ['frontend', 'checkout', 'search', 'payments'],
};

/** Plausible ranges by field name: [low, high, decimals]; a name not listed takes [0, 100, 2]. */
const NUMBER_RANGES: Readonly<Record<string, readonly [number, number, number]>> = {
  latencyMs: [5, 900, 0],
  durationMs: [5, 2000, 0],
  bytes: [200, 60_000, 0],
  size: [200, 60_000, 0],
  temperature: [15, 27, 2],
  humidity: [25, 65, 2],
  pressure: [998, 1028, 2],
  value: [0, 100, 2],
  amount: [1, 500, 2],
  price: [1, 200, 2],
  quantity: [1, 5, 0],
  count: [1, 10, 0],
  cpu: [0, 100, 2],
  memory: [100, 4000, 0],
};

/**
 * Events for the declared schema: the id field a fresh UUID, the time field now (or, for the late share, up to two
 * hours back), each dimension from its pool (the first over `keys` values, as devices are), each number within its
 * plausible range. Decimals are quarters, so sums stay exact when checked by hand. For the default schema it is the
 * IoT generator, whose readings keep each metric around its own baseline.
 */
export function trafficFor(schema: EventSchema, options: EventTrafficOptions): Traffic {
  if (sameSchema(schema, DEFAULT_EVENT_SCHEMA)) {
    return new IotTraffic({ ...options, devices: options.keys });
  }
  return new SchemaTraffic(schema, options);
}

export class SchemaTraffic implements Traffic {
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(
    private readonly schema: EventSchema,
    private readonly options: EventTrafficOptions,
  ) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  next(): Record<string, unknown> {
    const late = this.random() < this.options.lateShare;
    const time = late ? this.now() - Math.floor((1 + this.random() * 119) * 60_000) : this.now();
    const event: Record<string, unknown> = { [this.schema.id]: randomUUID() };
    this.schema.dimensions.forEach((field, index) => {
      event[field] = index === 0 ? this.firstDimensionValue(field) : this.pick(poolOf(field));
    });
    for (const field of this.schema.numbers) event[field] = this.number(field);
    event[this.schema.time] = new Date(time).toISOString();
    if (this.random() < this.options.invalidShare) this.breakEvent(event);
    return event;
  }

  batch(size: number): Record<string, unknown>[] {
    return Array.from({ length: size }, () => this.next());
  }

  /** The partition key spreads over `keys` values: the pool's, then numbered ones past its end. */
  private firstDimensionValue(field: string): string {
    const index = Math.floor(this.random() * this.options.keys);
    const pool = DIMENSION_POOLS[field];
    if (pool !== undefined) {
      const distinct = [...new Set(pool)];
      if (this.options.keys <= distinct.length) return distinct[index];
    }
    return `${field}-${String(index).padStart(3, '0')}`;
  }

  private pick(pool: readonly string[]): string {
    return pool[Math.floor(this.random() * pool.length)];
  }

  /** Skewed towards the low end (most requests are fast, a few are slow). */
  private number(field: string): number {
    const [low, high, decimals] = NUMBER_RANGES[field] ?? [0, 100, 2];
    const value = low + (high - low) * this.random() ** 2;
    return decimals === 0 ? Math.round(value) : Math.round(value * 4) / 4;
  }

  /** One of the ways a producer gets an event wrong, each caught by a different rule of the schema. */
  private breakEvent(event: Record<string, unknown>): void {
    const mutations: ((e: Record<string, unknown>) => void)[] = [
      (e) => delete e[this.schema.dimensions[0]],
      (e) => (e[this.schema.time] = 'yesterday'),
      (e) => (e[this.schema.dimensions[this.schema.dimensions.length - 1]] = ''),
      ...this.schema.numbers.map((field) => (e: Record<string, unknown>) => (e[field] = 'fast')),
    ];
    mutations[Math.floor(this.random() * mutations.length)](event);
  }
}

function poolOf(field: string): readonly string[] {
  return DIMENSION_POOLS[field] ?? Array.from({ length: 4 }, (_, index) => `${field}-${index}`);
}

function sameSchema(a: EventSchema, b: EventSchema): boolean {
  return (
    JSON.stringify([a.id, a.time, a.dimensions, a.numbers]) === JSON.stringify([b.id, b.time, b.dimensions, b.numbers])
  );
}

/**
 * One valid event of the schema at `nowMs`, for the examples `npm start` prints: the IoT reading of the README for
 * the default schema, and the first value of each pool for another.
 */
export function exampleEvent(schema: EventSchema, nowMs = Date.now()): Record<string, unknown> {
  const ts = new Date(nowMs).toISOString();
  if (sameSchema(schema, DEFAULT_EVENT_SCHEMA)) {
    return { eventId: 'e-1', deviceId: 'device-001', site: 'site-1', metric: 'temperature', value: 21.5, ts };
  }
  const event = new SchemaTraffic(schema, {
    keys: 1,
    lateShare: 0,
    invalidShare: 0,
    random: () => 0.5,
    now: () => nowMs,
  }).next();
  return { ...event, [schema.id]: 'e-1' };
}
