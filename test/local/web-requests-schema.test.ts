import { join } from 'node:path';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import { bucketStart, type Granularity } from '../../functions/core/granularity';
import { quantileRank, type QuantileEstimate } from '../../functions/core/histogram';
import { DEFAULT_QUANTILES } from '../../functions/core/measures';
import type { PipelineConfig } from '../../functions/core/pipeline-config';
import { localPipelineConfig } from '../../local/local-config';
import type { LocalRuntime } from '../../local/local-runtime';
import { eventually } from '../support/eventually';
import { startTestRuntime } from '../support/test-runtime';

/**
 * The second example schema (examples/web-requests.json) through the runtime `npm start -- --config
 * examples/web-requests.json` runs: posted, queried by every dimension, grouped and ranked, before and after a
 * batch flip, every answer equal to brute force over the posted requests.
 */
const EXAMPLE = join(__dirname, '..', '..', 'examples', 'web-requests.json');
const config: PipelineConfig = {
  ...localPipelineConfig({ batchScheduleMinutes: 60 }, undefined, EXAMPLE),
  // Five-second epochs, as test/support/test-runtime.ts uses: tests wait for real epoch boundaries.
  epochLengthMs: 5_000,
  bufferIntervalMs: 1_000,
  safetyMarginMs: 0,
};
const EPOCH_WAIT_MS = config.epochLengthMs + config.bufferIntervalMs + 200;
const VIEW = 'path_status_minute';

interface Request {
  requestId: string;
  path: string;
  status: string;
  country: string;
  latencyMs: number;
  bytes: number;
  at: number;
}

interface Measures {
  requests: number;
  maxLatency: number;
  avgLatency: number;
  bytes: number;
}

/** The sketch measures the example declares beside them: latency's quantiles, its spread, the paths per country. */
interface Sketches {
  latency?: Record<string, QuantileEstimate>;
  sdLatency?: number | null;
  paths?: number;
}

interface Series {
  key: Record<string, string>;
  keys?: number;
  rank?: number;
  value?: number;
  buckets: (Measures & Sketches & { startMs: number; batch: Measures | null; realtime: Measures | null })[];
}

interface Answer {
  provenance: { cutoffMs: number } | null;
  series: Series[];
  message?: string;
}

const PATHS = ['/', '/search', '/checkout'];
const STATUSES = ['200', '404', '500'];
const COUNTRIES = ['US', 'DE', 'JP'];
const now = Date.now();
/** From four hours back to a minute ahead: late requests land in earlier hours. */
const from = now - 4 * 3_600_000;
const to = now + 60_000;

/** 90 requests over every path and status; every key's latencies differ, so no two keys tie for the slowest. */
const requests: Request[] = Array.from({ length: 90 }, (_, i) => ({
  requestId: `r-${i}`,
  path: PATHS[i % 3],
  status: STATUSES[Math.floor(i / 3) % 3],
  country: COUNTRIES[Math.floor(i / 9) % 3],
  latencyMs: 10 + ((i * 37) % 97) + i * 3,
  bytes: 500 + i * 11,
  // A third late by up to three hours, the rest within the last minute: ts relative to now.
  at: i % 3 === 0 ? now - (i % 7) * 1_500_000 - 1_000 : now - (i % 5) * 10_000,
}));

let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime(config, 'web-requests-'));
});

afterAll(async () => {
  await stop?.();
});

async function get<T>(path: string): Promise<{ status: number; body: T & { message?: string } }> {
  const response = await fetch(`${runtime.apiUrl}${path}`);
  return { status: response.status, body: (await response.json()) as T & { message?: string } };
}

/** Brute force: the requests matching `where`, by the values of `by` and bucket, with the view's measures. */
function expected(
  granularity: Granularity,
  by: readonly (keyof Request)[],
  where: (request: Request) => boolean = () => true,
): Map<string, Measures> {
  const sums = new Map<string, { requests: number; maxLatency: number; latency: number; bytes: number }>();
  for (const request of requests.filter(where)) {
    const key = `${by.map((field) => request[field]).join('|')}@${bucketStart(request.at, granularity)}`;
    const sum = sums.get(key) ?? { requests: 0, maxLatency: -Infinity, latency: 0, bytes: 0 };
    sum.requests += 1;
    sum.maxLatency = Math.max(sum.maxLatency, request.latencyMs);
    sum.latency += request.latencyMs;
    sum.bytes += request.bytes;
    sums.set(key, sum);
  }
  return new Map(
    [...sums].map(([key, sum]) => [
      key,
      { requests: sum.requests, maxLatency: sum.maxLatency, avgLatency: sum.latency / sum.requests, bytes: sum.bytes },
    ]),
  );
}

/** An answer's buckets in brute force's shape, keyed by the series key's values in the order of `by`. */
function served(series: readonly Series[], by: readonly string[]): Map<string, Measures> {
  const result = new Map<string, Measures>();
  for (const { key, buckets } of series) {
    for (const bucket of buckets) {
      result.set(`${by.map((field) => key[field]).join('|')}@${bucket.startMs}`, {
        requests: bucket.requests,
        maxLatency: bucket.maxLatency,
        avgLatency: bucket.avgLatency,
        bytes: bucket.bytes,
      });
    }
  }
  return result;
}

const sorted = (buckets: Map<string, Measures>) => JSON.stringify([...buckets].sort());

/**
 * The sketches of each bucket of the series against brute force over the requests it covers: each default quantile
 * of latency bounds the true one (the value of its rank), sdLatency is the sample standard deviation, and a country's
 * distinct paths (a handful: counted exactly by the sparse sketch) are the paths requested.
 */
function expectSketches(
  series: readonly Series[],
  granularity: Granularity,
  by: readonly (keyof Request)[],
  where: (request: Request) => boolean = () => true,
): void {
  for (const { key, buckets } of series) {
    for (const bucket of buckets) {
      const covered = requests.filter(
        (request) =>
          where(request) &&
          by.every((field) => String(request[field]) === key[field]) &&
          bucketStart(request.at, granularity) === bucket.startMs,
      );
      const latencies = covered.map((request) => request.latencyMs).sort((a, b) => a - b);
      if (bucket.latency !== undefined) {
        expect(Object.keys(bucket.latency)).toEqual(DEFAULT_QUANTILES.map(String));
        for (const q of DEFAULT_QUANTILES) {
          const { lower, upper } = bucket.latency[String(q)];
          const truth = latencies[quantileRank(q, latencies.length) - 1];
          expect([lower === null || lower < truth, upper === null || truth <= upper]).toEqual([true, true]);
        }
      }
      if (bucket.sdLatency !== undefined) {
        const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
        const variance = latencies.reduce((total, x) => total + (x - mean) ** 2, 0) / (latencies.length - 1);
        if (latencies.length < 2) expect(bucket.sdLatency).toBeNull();
        else expect(bucket.sdLatency).toBeCloseTo(Math.sqrt(variance), 6);
      }
      if (bucket.paths !== undefined) {
        expect(bucket.paths).toBe(new Set(covered.map((request) => request.path)).size);
      }
    }
  }
}

/** The `limit` keys with the highest maxLatency over the range, ties broken by key (none tie here). */
function slowest(limit: number): { key: Record<string, string>; value: number }[] {
  const byKey = new Map<string, number>();
  for (const request of requests) {
    const key = JSON.stringify({ path: request.path, status: request.status });
    byKey.set(key, Math.max(byKey.get(key) ?? -Infinity, request.latencyMs));
  }
  return [...byKey]
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .slice(0, limit)
    .map(([key, value]) => ({ key: JSON.parse(key) as Record<string, string>, value }));
}

const range = `from=${from}&to=${to}`;
const everyKey = `path=${PATHS.map(encodeURIComponent).join(',')}&status=${STATUSES.join(',')}`;

/** Every dimension given, group-by and top-N, each checked against brute force; returns the answers. */
async function expectAnswersEqualBruteForce(): Promise<Answer[]> {
  const full = await get<Answer>(`/views/${VIEW}?${everyKey}&${range}&granularity=minute`);
  expect(full.status).toBe(200);
  expect(sorted(served(full.body.series, ['path', 'status']))).toBe(sorted(expected('minute', ['path', 'status'])));
  expectSketches(full.body.series, 'minute', ['path', 'status']);

  // status left out: one series for /checkout, merged over its three statuses, rolled up to hours.
  const grouped = await get<Answer>(`/views/${VIEW}?path=%2Fcheckout&${range}&granularity=hour`);
  expect(grouped.status).toBe(200);
  expect(grouped.body.series.map((series) => series.key)).toEqual([{ path: '/checkout' }]);
  expect(sorted(served(grouped.body.series, ['path']))).toBe(
    sorted(expected('hour', ['path'], (request) => request.path === '/checkout')),
  );
  // Rolled up and merged over statuses: the histogram's counts add, the sums of squares too.
  expectSketches(grouped.body.series, 'hour', ['path']);

  const top = await get<Answer>(`/views/${VIEW}?orderBy=maxLatency&limit=3&${range}`);
  expect(top.status).toBe(200);
  expect(top.body.series.map(({ key, value }) => ({ key, value }))).toEqual(slowest(3));
  expect(top.body.series.map((series) => series.rank)).toEqual([1, 2, 3]);
  const ranked = new Set(top.body.series.map((series) => `${series.key.path}|${series.key.status}`));
  expect(sorted(served(top.body.series, ['path', 'status']))).toBe(
    sorted(expected('minute', ['path', 'status'], (request) => ranked.has(`${request.path}|${request.status}`))),
  );

  // The country view, every country merged (no dimension given): one series over all requests.
  const all = await get<Answer>(`/views/country_hour?${range}`);
  expect(all.status).toBe(200);
  expect(all.body.series).toHaveLength(1);
  expect(all.body.series[0].buckets.reduce((total, bucket) => total + bucket.requests, 0)).toBe(requests.length);
  // Every country merged: a path requested from several countries counts once.
  expect(all.body.series[0].buckets.some((bucket) => bucket.paths === PATHS.length)).toBe(true);
  expectSketches(all.body.series, 'hour', []);
  return [full.body, grouped.body, top.body, all.body];
}

describe('the web-requests example schema through npm start', () => {
  it('lists its views with their named measures, what each computes, and how accurate its sketches are', async () => {
    const { body } = await get<{
      views: {
        name: string;
        measures: string[];
        measureDefinitions: unknown;
        measureDetails: Record<string, Record<string, unknown>>;
      }[];
    }>('/views');
    expect(body.views.map((view) => view.name)).toEqual(['path_status_minute', 'country_hour']);
    expect(body.views[0].measures).toEqual(['requests', 'maxLatency', 'avgLatency', 'bytes', 'latency', 'sdLatency']);
    expect(body.views[0].measureDefinitions).toEqual({
      requests: 'count',
      maxLatency: 'max(latencyMs)',
      avgLatency: 'avg(latencyMs)',
      bytes: 'sum(bytes)',
      latency: 'histogram(latencyMs)',
      sdLatency: 'stddev(latencyMs)',
    });
    expect(body.views[0].measureDetails.latency).toEqual({
      kind: 'histogram',
      field: 'latencyMs',
      relativeError: expect.closeTo(0.02, 4) as number,
      range: [1, expect.any(Number) as number],
      bins: expect.any(Number) as number,
    });
    // Exponential boundaries from 1 up to the first one at or past 60,000.
    expect((body.views[0].measureDetails.latency.range as number[])[1]).toBeGreaterThanOrEqual(60_000);
    expect(body.views[1].measureDetails.paths).toEqual({
      kind: 'distinct',
      field: 'path',
      precision: 12,
      standardError: 0.01625,
    });
  });

  it('accepts requests posted with times relative to now, and rejects a bad one naming the missing field', async () => {
    const { status: _missing, ...withoutStatus } = requests[0];
    const iotShaped = { eventId: 'e-1', deviceId: 'd', site: 's', metric: 'm', value: 1, ts: now };
    const response = await fetch(`${runtime.apiUrl}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([...requests, withoutStatus, { ...requests[1], latencyMs: 'slow' }, iotShaped]),
    });
    expect(response.status).toBe(207);
    const { results } = (await response.json()) as { results: { status: string; errors?: string[] }[] };
    expect(results.slice(0, requests.length).every((result) => result.status === 'accepted')).toBe(true);
    expect(results[requests.length]).toEqual({
      index: requests.length,
      status: 'rejected',
      errors: ['status: required'],
    });
    expect(results[requests.length + 1].errors).toEqual(['latencyMs: expected a finite number']);
    expect(results[requests.length + 2].errors).toEqual(
      expect.arrayContaining(['requestId: required', 'path: required', 'at: required']),
    );
  });

  it('answers every dimension given, a group-by and a top-N from the speed layer, equal to brute force', async () => {
    await eventually('every request in the speed layer', async () => {
      const { body } = await get<Answer>(`/views/${VIEW}?${everyKey}&${range}`);
      const count = body.series?.flatMap((series) => series.buckets).reduce((n, bucket) => n + bucket.requests, 0);
      return count === requests.length ? true : undefined;
    });
    await expectAnswersEqualBruteForce();
  });

  it('lists the keys it has seen, filtered by a dimension and paginated with next', async () => {
    const filtered = await get<{ keys: { key: Record<string, string>; firstSeenMs: number }[]; next: string | null }>(
      `/views/${VIEW}/keys?path=%2Fsearch`,
    );
    expect(filtered.status).toBe(200);
    expect(filtered.body.keys.map((entry) => entry.key.status).sort()).toEqual(STATUSES);
    expect(filtered.body.keys.every((entry) => entry.key.path === '/search')).toBe(true);
    const pages: Record<string, string>[][] = [];
    let next: string | null = null;
    do {
      const page: { status: number; body: { keys: { key: Record<string, string> }[]; next: string | null } } =
        await get(`/views/${VIEW}/keys?limit=4${next === null ? '' : `&next=${encodeURIComponent(next)}`}`);
      expect(page.status).toBe(200);
      pages.push(page.body.keys.map((entry) => entry.key));
      next = page.body.next;
    } while (next !== null && pages.length < 10);
    expect(pages.flat()).toHaveLength(PATHS.length * STATUSES.length);
    expect(pages[0]).toHaveLength(4);
  });

  it('answers the same from the batch view after a flip, DuckDB reading the declared fields', async () => {
    await new Promise((resolve) => setTimeout(resolve, EPOCH_WAIT_MS));
    const summary = await runtime.runBatchNow();
    expect(summary.views.map((view) => view.outcome)).toEqual(['flipped', 'flipped']);
    const answers = await expectAnswersEqualBruteForce();
    for (const answer of answers) {
      expect(answer.provenance?.cutoffMs).toBe(summary.views[0].cutoff);
      for (const bucket of answer.series.flatMap((series) => series.buckets)) {
        expect(bucket.realtime).toBeNull();
        expect(bucket.batch?.requests).toBe(bucket.requests);
      }
    }
  });
});
