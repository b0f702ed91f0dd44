import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serializePipelineConfig } from '../functions/core/pipeline-config';
import { dashboardBundle } from './dashboard-bundle';
import { respond, respondError, type LocalRoute } from './http-gateway';
import { readLocalHealth } from './local-health';
import type { LocalRuntime } from './local-runtime';

const page = () => readFileSync(join(__dirname, 'dashboard', 'index.html'));

/** The most one forced run may move the batch clock on: a year is more than any test or demo waits for. */
export const MAX_ADVANCE_CLOCK_MS = 365 * 86_400_000;

/**
 * The local server's own routes, beside the API: the dashboard page and its script (ECharts bundled in), a forced
 * batch run (as the schedule would run it; `advanceClockMs` moves the batch clock on, standing for time passing), a
 * status document, the health document the dashboard's panel shows (`GET /_local/health`), and the events the
 * stand-in for EventBridge received (`GET /local/bus-events`: what a rule on the default bus would see).
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
      if (request.method !== 'GET' || url.pathname !== '/dashboard.js') return false;
      try {
        const script = await dashboardBundle();
        response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
        response.end(script);
      } catch (error) {
        respondError(
          response,
          500,
          `dashboard: its script did not build: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      return true;
    },
    async (request, response, url) => {
      if (url.pathname !== '/_local/batch-runs') return false;
      if (request.method !== 'POST') {
        respondError(
          response,
          405,
          `method: ${request.method ?? ''} is not allowed; POST /_local/batch-runs runs the batch job now`,
        );
        return true;
      }
      // Asked before anything runs: in Kappa mode the request is at odds with the pipeline, not malformed, and not
      // a fault of ours.
      if (runtime.environment.config.architecture !== 'lambda') {
        respondError(
          response,
          409,
          'architecture: Kappa mode has no batch layer, so there is no batch job to run; rebuild a view with a ' +
            'replay (npm run replay) instead',
        );
        return true;
      }
      // Whole milliseconds within a bound: Number() would take '', '0x10' and 1e300, and a clock moved past the
      // dates JavaScript can write makes the batch job fail instead of the request.
      const advanceText = url.searchParams.get('advanceClockMs') ?? '0';
      const advance = /^\d{1,15}$/.test(advanceText) ? Number(advanceText) : Number.NaN;
      if (!(advance <= MAX_ADVANCE_CLOCK_MS)) {
        respondError(
          response,
          400,
          `advanceClockMs: expected whole milliseconds from 0 to ${MAX_ADVANCE_CLOCK_MS} (a year), got ${JSON.stringify(advanceText.slice(0, 64))}`,
        );
        return true;
      }
      try {
        respond(response, 200, { result: await runtime.runBatchNow(advance) });
      } catch (error) {
        // A failed run is a fault of the pipeline, not of the request: it stays a 5xx.
        respondError(response, 500, `batch run failed: ${error instanceof Error ? error.message : String(error)}`);
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
          eventBridge: runtime.eventBus.endpoint,
        },
        architecture: runtime.environment.config.architecture,
        // `npm run replay` runs against these endpoints with the same views and timing.
        pipelineConfig: serializePipelineConfig(runtime.environment.config),
        speedLayerInvocations: runtime.speedInvocations,
        batchRuns: runtime.batchRuns,
        discardedBatches: runtime.discarded.length,
        // `npm run replay` waits until the archive has reached its hand-off (null until Firehose has read every shard).
        archivedThroughMs: runtime.environment.archivedThroughMs() ?? null,
      });
      return true;
    },
    async (request, response, url) => {
      if (url.pathname !== '/_local/health') return false;
      if (request.method !== 'GET') {
        respondError(
          response,
          405,
          `method: ${request.method ?? ''} is not allowed; GET /_local/health reports the pipeline's health`,
        );
        return true;
      }
      try {
        respond(response, 200, await readLocalHealth(runtime));
      } catch (error) {
        // The manifests could not be read (an emulator down): a fault of ours, not of the request.
        respondError(response, 500, `health: ${error instanceof Error ? error.message : String(error)}`);
      }
      return true;
    },
    (request, response, url) => {
      if (url.pathname !== '/local/bus-events') return false;
      if (request.method !== 'GET') {
        respondError(
          response,
          405,
          `method: ${request.method ?? ''} is not allowed; GET /local/bus-events lists the events the local bus received`,
        );
        return true;
      }
      // Oldest first, newest last, as the bus received them (anomaly events: detail-type 'Anomaly detected').
      respond(response, 200, { events: runtime.eventBus.events() });
      return true;
    },
  ];
}
