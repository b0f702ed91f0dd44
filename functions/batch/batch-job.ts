import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { BatchViewStore } from '../adapters/batch-view-store';
import type { CountMetrics, HandlerLogger } from '../adapters/telemetry';
import { batchCutoff } from '../core/arrival-epoch';
import { batchItem, batchVersionExpiresAt } from '../core/batch-item';
import { batchRowToAggregate, batchViewSql } from '../core/batch-sql';
import { batchVersionId } from '../core/manifest';
import type { PipelineConfig } from '../core/pipeline-config';
import type { BatchEngine } from './batch-engine';

export const BATCH_METRICS = {
  succeeded: 'BatchRunSucceeded',
  failed: 'BatchRunFailed',
  rows: 'BatchViewRows',
  cutoffAge: 'BatchCutoffAgeSeconds',
} as const;

export interface BatchJobDependencies {
  readonly config: PipelineConfig;
  readonly engine: BatchEngine;
  readonly store: BatchViewStore;
  readonly logger: HandlerLogger;
  readonly metrics: CountMetrics;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface ViewRunSummary {
  readonly view: string;
  readonly version: string;
  readonly cutoff: number;
  readonly rows: number;
  readonly bytesScanned: number;
  readonly seconds: number;
  /** 'flipped': now served; 'superseded': a newer version was already served; 'failed': the old one still is. */
  readonly outcome: 'flipped' | 'superseded' | 'failed';
  readonly error?: string;
}

export interface BatchRunSummary {
  readonly cutoff: number;
  readonly views: readonly ViewRunSummary[];
}

/**
 * One batch run (DESIGN.md §6): the cutoff C, then per view the generated SQL, the rows written as a new version,
 * and the conditional manifest flip. A view that fails keeps its served version and does not stop the others;
 * the run then throws, so that the schedule and the alarms see it.
 */
export async function runBatchJob(dependencies: BatchJobDependencies): Promise<BatchRunSummary> {
  const { config, engine, store, logger, metrics } = dependencies;
  const now = dependencies.now ?? Date.now;
  const startedAt = now();
  const cutoff = batchCutoff({
    nowMs: startedAt,
    epochLengthMs: config.epochLengthMs,
    bufferIntervalMs: config.bufferIntervalMs,
    safetyMarginMs: config.safetyMarginMs,
  });
  const version = batchVersionId(cutoff, startedAt);
  const expiresAt = batchVersionExpiresAt(startedAt, config.realtimeRetentionMs, config.batchIntervalMs);
  const views: ViewRunSummary[] = [];
  const session = await engine.open();
  try {
    for (const view of config.views) {
      const base = { view: view.name, version, cutoff };
      try {
        const result = await session.run(batchViewSql(view, { source: session.source, cutoffMs: cutoff }));
        const rows = result.rows.map((row) => batchRowToAggregate(view, row));
        await store.writeItems(rows.map((row) => batchItem(view, version, row, expiresAt)));
        const outcome = await store.flip({
          view: view.name,
          version,
          cutoff,
          rowCount: rows.length,
          computedAt: new Date(startedAt).toISOString(),
        });
        metrics.addMetric(BATCH_METRICS.rows, MetricUnit.Count, rows.length);
        views.push({ ...base, rows: rows.length, bytesScanned: result.bytesScanned, seconds: result.seconds, outcome });
        logger.info('batch view written', { ...base, rows: rows.length, outcome });
      } catch (error) {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        views.push({ ...base, rows: 0, bytesScanned: 0, seconds: 0, outcome: 'failed', error: message });
        logger.error('batch view failed: its served version is unchanged', { ...base, error: message });
      }
    }
  } finally {
    await session.close();
  }
  const failed = views.filter((summary) => summary.outcome === 'failed');
  metrics.addMetric(BATCH_METRICS.succeeded, MetricUnit.Count, failed.length === 0 ? 1 : 0);
  metrics.addMetric(BATCH_METRICS.failed, MetricUnit.Count, failed.length === 0 ? 0 : 1);
  metrics.addMetric(BATCH_METRICS.cutoffAge, MetricUnit.Count, Math.round((startedAt - cutoff) / 1000));
  metrics.publishStoredMetrics();
  if (failed.length > 0) {
    throw new Error(`batch run failed for ${failed.map((summary) => `${summary.view} (${summary.error})`).join(', ')}`);
  }
  return { cutoff, views };
}
