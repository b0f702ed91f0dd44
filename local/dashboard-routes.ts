import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serializePipelineConfig } from '../functions/core/pipeline-config';
import { respond, type LocalRoute } from './http-gateway';
import type { LocalRuntime } from './local-runtime';

const page = () => readFileSync(join(__dirname, 'dashboard', 'index.html'));

/**
 * The local server's own routes, beside the API: the dashboard page, a forced batch run (as the schedule would
 * run it; `advanceClockMs` moves the batch clock on, standing for time passing), and a status document.
 */
export function dashboardRoutes<BatchResult>(runtime: LocalRuntime<BatchResult>): LocalRoute[] {
  return [
    (request, response, url) => {
      if (request.method !== 'GET' || (url.pathname !== '/' && url.pathname !== '/dashboard')) return false;
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(page());
      return true;
    },
    async (request, response, url) => {
      if (url.pathname !== '/_local/batch-runs') return false;
      if (request.method !== 'POST') {
        respond(response, 405, { message: 'POST /_local/batch-runs runs the batch job now' });
        return true;
      }
      const advance = Number(url.searchParams.get('advanceClockMs') ?? '0');
      if (!Number.isFinite(advance) || advance < 0) {
        respond(response, 400, { message: 'advanceClockMs: expected a non-negative number of milliseconds' });
        return true;
      }
      try {
        respond(response, 200, { result: await runtime.runBatchNow(advance) });
      } catch (error) {
        respond(response, 500, {
          message: `batch run failed: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
      return true;
    },
    (request, response, url) => {
      if (request.method !== 'GET' || url.pathname !== '/_local/status') return false;
      respond(response, 200, {
        apiUrl: runtime.apiUrl,
        dataDir: runtime.dataDir,
        endpoints: {
          dynamodb: runtime.emulators.dynamodb.endpoint,
          kinesis: runtime.emulators.kinesis.endpoint,
          s3: runtime.emulators.s3.endpoint,
        },
        architecture: runtime.environment.config.architecture,
        // `npm run replay` runs against these endpoints with the same views and timing.
        pipelineConfig: serializePipelineConfig(runtime.environment.config),
        speedLayerInvocations: runtime.speedInvocations,
        batchRuns: runtime.batchRuns,
        discardedBatches: runtime.discarded.length,
      });
      return true;
    },
  ];
}
