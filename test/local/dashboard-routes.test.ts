import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import { dashboardRoutes } from '../../local/dashboard-routes';
import { buildLocalHandlers } from '../../local/local-handlers';
import { LocalRuntime } from '../../local/local-runtime';
import { testRuntimeConfig } from '../support/test-runtime';

/** The local server's own routes in Kappa mode, where there is no batch layer to run. */

let dataDir: string;
let runtime: LocalRuntime<BatchRunSummary>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'dashboard-routes-'));
  runtime = await LocalRuntime.start({
    config: { ...testRuntimeConfig, architecture: 'kappa' },
    dataDir,
    batchingWindowMs: 100,
    buildHandlers: (environment) => buildLocalHandlers(environment, { logLevel: 'SILENT' }),
    localRoutes: (started) => dashboardRoutes(started),
  });
});

afterAll(async () => {
  await runtime.stop();
  rmSync(dataDir, { recursive: true, force: true });
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
});
