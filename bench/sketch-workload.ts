import type { PipelineEvent } from '../functions/core/event-schema';
import { definePipelineConfig, type PipelineConfig } from '../functions/core/pipeline-config';
import type { StreamRecord } from '../functions/core/stream-record';
import type { MeasureDeclaration, ViewDeclaration } from '../functions/core/view-declaration';
import { seededRandom } from '../test/speed/generated-events';

/**
 * What the sketch benchmarks (sketches, sketch-query-latency) measure: web requests, whose latency is what
 * percentiles are asked of and whose users are what distinct counts, under the same views with and without each
 * sketch measure.
 */

/** The web-requests example's schema, with a `user` dimension to count distinct users of. */
export const REQUEST_SCHEMA = {
  id: 'requestId',
  time: 'at',
  dimensions: ['path', 'status', 'country', 'user'],
  numbers: ['latencyMs', 'bytes'],
} as const;

const PLAIN_MEASURES: Readonly<Record<string, MeasureDeclaration>> = {
  requests: 'count',
  latencySum: { sum: 'latencyMs' },
  minLatency: { min: 'latencyMs' },
  maxLatency: { max: 'latencyMs' },
  avgLatency: { avg: 'latencyMs' },
};

/** Latencies from 1 ms to a minute, to 1%: 552 boundaries, 553 bins. */
export const LATENCY_HISTOGRAM: MeasureDeclaration = {
  histogram: 'latencyMs',
  range: [1, 60_000],
  relativeAccuracy: 0.01,
};

/** The measure sets compared, each on top of the plain one (count, sum, min, max and avg of the latency). */
export const MEASURE_VARIANTS: readonly {
  readonly name: string;
  readonly added: Record<string, MeasureDeclaration>;
}[] = [
  { name: 'plain', added: {} },
  { name: '+ stddev', added: { sdLatency: { stddev: 'latencyMs' } } },
  { name: '+ distinct (precision 12)', added: { users: { distinct: 'user' } } },
  { name: '+ distinct (precision 14)', added: { users: { distinct: 'user', precision: 14 } } },
  { name: '+ histogram (α 0.01, 1 ms to 60 s)', added: { latency: LATENCY_HISTOGRAM } },
  {
    name: 'all on (stddev, distinct 12, histogram)',
    added: { sdLatency: { stddev: 'latencyMs' }, users: { distinct: 'user' }, latency: LATENCY_HISTOGRAM },
  },
];

/**
 * Three views of the shapes of the IoT example's defaults (a fine key per minute, a coarse one per hour, one per
 * day), each with the plain measures and `added`.
 */
export function requestViews(added: Readonly<Record<string, MeasureDeclaration>>): ViewDeclaration[] {
  const measures = { ...PLAIN_MEASURES, ...added };
  return [
    { name: 'path_status_minute', dimensions: ['path', 'status'], granularity: 'minute', measures },
    { name: 'country_hour', dimensions: ['country'], granularity: 'hour', measures },
    { name: 'path_day', dimensions: ['path'], granularity: 'day', measures },
  ];
}

export function requestConfig(added: Readonly<Record<string, MeasureDeclaration>>): PipelineConfig {
  return definePipelineConfig({ schema: REQUEST_SCHEMA, views: requestViews(added) });
}

const PATHS = 50;
const COUNTRIES = 30;
export const USERS = 100_000;
const STATUSES = [
  ['200', 0.9],
  ['304', 0.05],
  ['404', 0.04],
  ['500', 0.01],
] as const;

/**
 * Reproducible web requests: paths and countries by popularity (the k-th most popular about 1/k as often), users
 * skewed toward a core of regulars, latencies log-normal around a per-path median from 20 to 200 ms (σ 0.9), whole
 * milliseconds from 1, so that every sum and sum of squares is exact in doubles in any order and the comparisons
 * with the brute force are equalities.
 */
export class RequestGenerator {
  private readonly random: () => number;
  private index = 0;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  next(at: number): PipelineEvent {
    const random = this.random;
    const path = popular(random(), PATHS);
    const roll = random();
    let cumulative = 0;
    const status = STATUSES.find(([, share]) => (cumulative += share) > roll)?.[0] ?? '200';
    const median = 20 + ((path * 37) % 181);
    // Box–Muller: a standard normal from two uniforms.
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    this.index += 1;
    return {
      requestId: `r-${this.index}`,
      path: `/p/${path}`,
      status,
      country: `c${popular(random(), COUNTRIES)}`,
      user: `u${Math.floor(USERS * random() ** 2)}`,
      latencyMs: Math.max(1, Math.round(median * Math.exp(0.9 * normal))),
      bytes: 200 + Math.floor(random() * 20_000),
      at,
    };
  }
}

/** 1..n, the k-th about 1/k as likely (a Zipf law of exponent 1, by inverting its continuous approximation). */
function popular(uniform: number, n: number): number {
  return Math.min(n, Math.floor(Math.exp(uniform * Math.log(n + 1))));
}

const FIRST_SEQUENCE = 49_680_507_356_827_391_140_529_022_913_163_858_325_634_908_041_368_305_666n;

/**
 * `count` requests arriving at `perSecond` from `startMs`, on `shards` shards by their partition key (the path, the
 * schema's first dimension), so that a view keyed by path has one writer per item and the others several. Event
 * time is arrival minus up to 2 s, and one request in 50 is late by up to 2 hours (a client that was offline).
 */
export function requestStream(options: {
  readonly count: number;
  readonly shards: number;
  readonly startMs: number;
  readonly perSecond: number;
  readonly seed: number;
}): StreamRecord[] {
  const generator = new RequestGenerator(options.seed);
  const delays = seededRandom(options.seed + 1);
  return Array.from({ length: options.count }, (_, index) => {
    const arrivalMs = options.startMs + Math.floor((index * 1000) / options.perSecond);
    const delayMs = delays() < 0.02 ? delays() * 7_200_000 : delays() * 2_000;
    const event = generator.next(Math.floor(arrivalMs - delayMs));
    return {
      event,
      shardId: shardOf(String(event.path), options.shards),
      sequenceNumber: (FIRST_SEQUENCE + BigInt(index) * 1_000n).toString(),
      subSequenceNumber: 0,
      arrivalMs,
    };
  });
}

function shardOf(partitionKey: string, shards: number): string {
  let hash = 0;
  for (const character of partitionKey) hash = (Math.imul(hash, 31) + character.charCodeAt(0)) >>> 0;
  return `shardId-${String(hash % shards).padStart(12, '0')}`;
}
