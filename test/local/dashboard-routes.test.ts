import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { LocalRuntime } from '../../local/local-runtime';
import { startTestRuntime, testRuntimeConfig } from '../support/test-runtime';

/** The local server's own routes in Kappa mode, where there is no batch layer to run. */

let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime({ ...testRuntimeConfig, architecture: 'kappa' }, 'dashboard-routes-'));
});

afterAll(async () => {
  await stop?.();
});

describe('local routes in Kappa mode', () => {
  it('answers a forced batch run with a 409 whose JSON body says Kappa mode has no batch layer', async () => {
    const response = await fetch(`${runtime.apiUrl}/_local/batch-runs`, { method: 'POST' });
    expect(response.status).toBe(409);
    expect(response.headers.get('content-type')).toBe('application/json');
    const message =
      'architecture: Kappa mode has no batch layer, so there is no batch job to run; rebuild a view with a replay ' +
      '(npm run replay) instead';
    expect(await response.json()).toEqual({ message, errors: [message] });
    expect(runtime.batchRuns).toBe(0);
  });

  it('answers another method on the batch-run route with a 405 naming the method, in the API error shape', async () => {
    const response = await fetch(`${runtime.apiUrl}/_local/batch-runs`);
    expect(response.status).toBe(405);
    const message = 'method: GET is not allowed; POST /_local/batch-runs runs the batch job now';
    expect(await response.json()).toEqual({ message, errors: [message] });
  });

  it('reports Kappa mode in the status document', async () => {
    const response = await fetch(`${runtime.apiUrl}/_local/status`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ architecture: 'kappa', batchRuns: 0 });
  });

  it('serves the dashboard and its script, ECharts included, from this server: nothing comes from the network', async () => {
    const page = await (await fetch(`${runtime.apiUrl}/`)).text();
    const sources = [...page.matchAll(/(?:src|href)="([^"]*)"/g)].map((match) => match[1]);
    expect(sources).toEqual(['/dashboard.js']);
    const response = await fetch(`${runtime.apiUrl}/dashboard.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const script = await response.text();
    // The page's own code and the charting library, in one file.
    // (Booleans, not toContain: a failure would print the whole bundle.)
    expect(script.includes('Kappa mode: there is no batch layer')).toBe(true);
    expect(script.includes('Apache License')).toBe(true);
    expect(/https?:\/\/[^"'\s]*\.js\b/.test(script)).toBe(false);
  });
});
