import { randomUUID } from 'node:crypto';
import { eventually } from '../support/eventually';
import type { DeployedStack } from './deployed-stack';
import { WEB_REQUESTS_DEPLOY, WEB_REQUESTS_STACK_NAME } from './web-requests-stack';

/** The web-requests stack global-setup.ts found, or null when it is not deployed. */
const stack = JSON.parse(process.env.E2E_WEB_REQUESTS_STACK ?? 'null') as DeployedStack | null;
const skipReason =
  stack === null ? `no stack ${WEB_REQUESTS_STACK_NAME} is deployed (deploy it with \`${WEB_REQUESTS_DEPLOY}\`)` : '';

/**
 * The second example schema on the deployed tier: the stack deployed from examples/web-requests.json accepts
 * requests of its schema, refuses one without a declared field by name, and answers them queried by every
 * dimension, grouped and ranked, equal to brute force. Paths carry this run's tag, so other traffic on the stack
 * does not enter the expected answers. Only the speed layer is checked here: the default stack's suite proves the
 * batch flip, which does not depend on the schema's field names beyond what `npm test` proves locally.
 */
const RUN = randomUUID().slice(0, 8);
const PATHS = ['/', '/search', '/checkout'].map((path) => `/e2e-${RUN}${path}`);
const STATUSES = ['200', '404', '500'];
const now = Date.now();
const requests = Array.from({ length: 36 }, (_, i) => ({
  requestId: `e2e-${RUN}-${i}`,
  path: PATHS[i % 3],
  status: STATUSES[Math.floor(i / 3) % 3],
  country: ['US', 'DE'][i % 2],
  latencyMs: 10 + i * 7,
  bytes: 500 + i * 11,
  at: now - (i % 4) * 15_000,
}));

interface Bucket {
  requests: number;
  maxLatency: number;
  avgLatency: number;
  bytes: number;
}
interface Answer {
  series: { key: Record<string, string>; rank?: number; value?: number; buckets: Bucket[] }[];
}

async function api(path: string, init: RequestInit = {}) {
  const response = await fetch(`${stack!.apiBase}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', 'x-api-key': stack!.apiKey },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Averages are compared to a millionth: a bucket's average times its count is not always its sum in floating point. */
const round = (value: number) => Math.round(value * 1e6) / 1e6;

/** Totals over the range of the requests `where` picks: what every served answer must add up to. */
function totals(where: (request: (typeof requests)[number]) => boolean): Bucket {
  const picked = requests.filter(where);
  const latency = picked.reduce((sum, request) => sum + request.latencyMs, 0);
  return {
    requests: picked.length,
    maxLatency: Math.max(...picked.map((request) => request.latencyMs)),
    avgLatency: round(latency / picked.length),
    bytes: picked.reduce((sum, request) => sum + request.bytes, 0),
  };
}

/** An answer's series, each totalled over its buckets (avg recomputed from the bucket averages' sums). */
function seriesTotals(answer: Answer): { key: Record<string, string>; totals: Bucket }[] {
  return answer.series.map(({ key, buckets }) => {
    const count = buckets.reduce((sum, bucket) => sum + bucket.requests, 0);
    return {
      key,
      totals: {
        requests: count,
        maxLatency: Math.max(...buckets.map((bucket) => bucket.maxLatency)),
        avgLatency: round(buckets.reduce((sum, bucket) => sum + bucket.avgLatency * bucket.requests, 0) / count),
        bytes: buckets.reduce((sum, bucket) => sum + bucket.bytes, 0),
      },
    };
  });
}

const range = `from=${now - 3_600_000}&to=${now + 3_600_000}`;
const paths = PATHS.map(encodeURIComponent).join(',');

(stack === null ? describe.skip : describe)(
  `the web-requests example schema on the deployed tier${skipReason === '' ? '' : ` — skipped: ${skipReason}`}`,
  () => {
    it('accepts requests of the declared schema and rejects one without status, naming the field', async () => {
      const { status: _status, ...withoutStatus } = requests[0];
      const { status, body } = await api('/events', {
        method: 'POST',
        body: JSON.stringify([...requests, withoutStatus]),
      });
      expect(status).toBe(207);
      const results = body.results as { status: string; errors?: string[] }[];
      expect(results.slice(0, requests.length).every((result) => result.status === 'accepted')).toBe(true);
      expect(results[requests.length].errors).toEqual(['status: required']);
    });

    it('answers every dimension given, equal to brute force', async () => {
      await eventually('every request answered', async () => {
        const { status, body } = await api(
          `/views/path_status_minute?path=${paths}&status=${STATUSES.join(',')}&${range}`,
        );
        if (status !== 200) return undefined;
        const served = seriesTotals(body as unknown as Answer).filter(({ totals: t }) => t.requests > 0);
        const expected = PATHS.flatMap((path) =>
          STATUSES.map((code) => ({
            key: { path, status: code },
            totals: totals((request) => request.path === path && request.status === code),
          })),
        );
        return JSON.stringify(served) === JSON.stringify(expected) ? true : undefined;
      });
    });

    it('groups by path, leaving status out, merging its keys exactly', async () => {
      const { status, body } = await api(`/views/path_status_minute?path=${paths}&${range}&granularity=hour`);
      expect(status).toBe(200);
      expect(seriesTotals(body as unknown as Answer)).toEqual(
        PATHS.map((path) => ({ key: { path }, totals: totals((request) => request.path === path) })),
      );
    });

    it('ranks the three slowest keys by maxLatency', async () => {
      const { status, body } = await api(`/views/path_status_minute?path=${paths}&orderBy=maxLatency&limit=3&${range}`);
      expect(status).toBe(200);
      const byKey = new Map<string, number>();
      for (const request of requests) {
        const key = JSON.stringify({ path: request.path, status: request.status });
        byKey.set(key, Math.max(byKey.get(key) ?? 0, request.latencyMs));
      }
      const expected = [...byKey]
        .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
        .slice(0, 3)
        .map(([key, value]) => ({ key: JSON.parse(key) as Record<string, string>, value }));
      expect((body as unknown as Answer).series.map(({ key, value }) => ({ key, value }))).toEqual(expected);
    });

    it('lists the keys of one path in the key directory', async () => {
      const { status, body } = await api(`/views/path_status_minute/keys?path=${encodeURIComponent(PATHS[1])}`);
      expect(status).toBe(200);
      const keys = (body.keys as { key: Record<string, string> }[]).map((entry) => entry.key);
      expect(keys.map((key) => key.status).sort()).toEqual(STATUSES);
    });
  },
);
