import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { PipelineConfig } from '../../functions/core/pipeline-config';
import { dashboardRoutes } from '../../local/dashboard-routes';
import { localPipelineConfig } from '../../local/local-config';
import { buildLocalHandlers } from '../../local/local-handlers';
import { LocalRuntime } from '../../local/local-runtime';

/**
 * Five-second epochs (the configuration is milliseconds underneath; only its input is in minutes), so tests wait
 * for real epoch boundaries instead of moving a clock, which would put a cutoff ahead of real arrivals.
 */
export const testRuntimeConfig: PipelineConfig = {
  ...localPipelineConfig({ batchScheduleMinutes: 60 }),
  epochLengthMs: 5_000,
  bufferIntervalMs: 1_000,
  safetyMarginMs: 0,
};

/** How long until everything sent so far is below the cutoff of a batch run started then. */
export const EPOCH_WAIT_MS = testRuntimeConfig.epochLengthMs + testRuntimeConfig.bufferIntervalMs + 200;

/**
 * The whole local runtime, as `npm start` runs it (on `config`: by default the test configuration above; Kappa mode
 * or another example for some tests), in a fresh data directory named after `prefix`, silent; `stop` also removes
 * the directory.
 */
export async function startTestRuntime(
  config: PipelineConfig = testRuntimeConfig,
  prefix = 'local-runtime-',
): Promise<{
  runtime: LocalRuntime<BatchRunSummary>;
  stop: () => Promise<void>;
}> {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const runtime = await LocalRuntime.start({
    config,
    dataDir,
    batchingWindowMs: 100,
    buildHandlers: (environment) => buildLocalHandlers(environment, { logLevel: 'SILENT' }),
    localRoutes: (started) => dashboardRoutes(started),
  }).catch((error: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  });
  return {
    runtime,
    stop: async () => {
      await runtime.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
