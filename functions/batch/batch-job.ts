import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { FlipResult } from '../adapters/batch-view-store';
import type { HandlerLogger } from '../adapters/telemetry';
import type { AttributeValue } from '../core/aggregate-attributes';
import { batchCutoff } from '../core/arrival-epoch';
import { batchItem, batchVersionExpiresAt } from '../core/batch-item';
import { batchRowToAggregate, batchViewSql } from '../core/batch-sql';
import { batchVersionId, type BatchManifest } from '../core/manifest';
import type { PipelineConfig } from '../core/pipeline-config';
import type { ViewDefinition } from '../core/view-declaration';
import type { BatchEngine, BatchQuerySession, SessionPreparation } from './batch-engine';

/** The batch job's metrics (service 'batch'); the monitoring construct alarms on these names. */
export const BATCH_METRICS = {
  succeeded: 'BatchRunSucceeded',
  failed: 'BatchRunFailed',
  rows: 'BatchViewRows',
  cutoffAge: 'BatchCutoffAgeSeconds',
  superseded: 'BatchViewsSuperseded',
} as const;

type MetricUnitName = (typeof MetricUnit)[keyof typeof MetricUnit];

/** The part of Powertools Metrics the job uses; the cutoff age is in seconds, the rest are counts. */
export interface BatchMetrics {
  addMetric(name: string, unit: MetricUnitName, value: number): unknown;
  publishStoredMetrics(): void;
}

/** Where versions are written and flipped: functions/adapters/batch-view-store.ts. */
export interface BatchViewWriter {
  writeItems(items: readonly Record<string, AttributeValue>[]): Promise<void>;
  flip(manifest: BatchManifest): Promise<FlipResult>;
  servedManifest(view: string): Promise<BatchManifest | null>;
}

export interface BatchJobDependencies {
  readonly config: PipelineConfig;
  /** The engine, or how to load it (DuckDB is imported only when it is the configured engine). */
  readonly engine: BatchEngine | (() => Promise<BatchEngine>);
  readonly store: BatchViewWriter;
  readonly logger: HandlerLogger;
  readonly metrics: BatchMetrics;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface ViewRunSummary {
  readonly view: string;
  readonly version: string;
  readonly cutoff: number;
  readonly rows: number;
  readonly bytesScanned: number;
  /** The query's wall-clock time. */
  readonly seconds: number;
  /** Writing the items and flipping the manifest. */
  readonly writeSeconds: number;
  /** 'flipped': now served; 'superseded': a newer version was already served; 'failed': the old one still is. */
  readonly outcome: 'flipped' | 'superseded' | 'failed';
  /** For a failed view: the step that failed (engine, query, write or flip) and the error. */
  readonly error?: string;
}

export interface BatchRunSummary {
  readonly cutoff: number;
  readonly version: string;
  readonly startedAt: number;
  /** What the engine did once before the queries (DuckDB's download). */
  readonly preparation?: SessionPreparation;
  readonly views: readonly ViewRunSummary[];
}

/** A run in which at least one view failed; the summary says which, and why. */
export class BatchRunError extends Error {
  constructor(readonly summary: BatchRunSummary) {
    const failed = summary.views.filter((view) => view.outcome === 'failed');
    super(`batch run ${summary.version} failed for ${failed.map((view) => `${view.view} (${view.error})`).join(', ')}`);
    this.name = 'BatchRunError';
  }
}

export type BatchJobHandler = () => Promise<BatchRunSummary>;

/** The scheduled batch job as a Lambda handler; the schedule's event carries nothing the job needs. */
export function createBatchJobHandler(dependencies: BatchJobDependencies): BatchJobHandler {
  return () => runBatchJob(dependencies);
}

/**
 * One batch run (DESIGN.md §6): the cutoff C, then per view the generated SQL, the rows written as a new version,
 * and the conditional manifest flip. A view that fails keeps its served version and does not stop the others; the
 * run then throws a BatchRunError, so that the schedule, Lambda's error metric and the alarms see it.
 *
 * Overlapping runs are safe: each writes only its own version's items, and the flip's condition lets only a newer
 * version replace the served one, so the slower of two runs either flips first and is replaced, or is refused.
 */
export async function runBatchJob(dependencies: BatchJobDependencies): Promise<BatchRunSummary> {
  const { config, store, logger, metrics } = dependencies;
  const now = dependencies.now ?? Date.now;
  const startedAt = now();
  const cutoff = batchCutoff({
    nowMs: startedAt,
    epochLengthMs: config.epochLengthMs,
    bufferIntervalMs: config.bufferIntervalMs,
    safetyMarginMs: config.safetyMarginMs,
  });
  const run: ViewRun = {
    version: batchVersionId(cutoff, startedAt),
    cutoff,
    expiresAt: batchVersionExpiresAt(startedAt, config.realtimeRetentionMs, config.batchIntervalMs),
    computedAt: new Date(startedAt).toISOString(),
  };
  logger.info('batch run started', { version: run.version, cutoff: new Date(cutoff).toISOString() });

  const views: ViewRunSummary[] = [];
  let session: BatchQuerySession | undefined;
  try {
    const engine = typeof dependencies.engine === 'function' ? await dependencies.engine() : dependencies.engine;
    session = await engine.open();
  } catch (error) {
    const reason = `engine: ${describeError(error)}`;
    logger.error('batch run could not open its engine: every served version is unchanged', {
      version: run.version,
      error: reason,
    });
    views.push(...config.views.map((view) => failedView(view, run, reason)));
  }
  if (session !== undefined) {
    if (session.preparation !== undefined) logger.info('batch engine ready', { ...session.preparation });
    try {
      for (const view of config.views) views.push(await runView(view, session, run, dependencies));
    } finally {
      await session.close().catch((error: unknown) => {
        logger.warn('batch engine did not close cleanly', { error: describeError(error) });
      });
    }
  }

  const failed = views.filter((view) => view.outcome === 'failed');
  metrics.addMetric(BATCH_METRICS.succeeded, MetricUnit.Count, failed.length === 0 ? 1 : 0);
  metrics.addMetric(BATCH_METRICS.failed, MetricUnit.Count, failed.length === 0 ? 0 : 1);
  metrics.addMetric(
    BATCH_METRICS.superseded,
    MetricUnit.Count,
    views.filter((view) => view.outcome === 'superseded').length,
  );
  const servedCutoff = await oldestServedCutoff(views, store, logger);
  if (servedCutoff !== undefined) {
    metrics.addMetric(BATCH_METRICS.cutoffAge, MetricUnit.Seconds, Math.max(0, (now() - servedCutoff) / 1000));
  }
  metrics.publishStoredMetrics();

  const summary: BatchRunSummary = {
    cutoff,
    version: run.version,
    startedAt,
    preparation: session?.preparation,
    views,
  };
  if (failed.length > 0) throw new BatchRunError(summary);
  logger.info('batch run finished', { version: run.version, views: views.length });
  return summary;
}

interface ViewRun {
  readonly version: string;
  readonly cutoff: number;
  readonly expiresAt: number;
  readonly computedAt: string;
}

async function runView(
  view: ViewDefinition,
  session: BatchQuerySession,
  run: ViewRun,
  { store, logger, metrics }: BatchJobDependencies,
): Promise<ViewRunSummary> {
  const context = { view: view.name, version: run.version, cutoff: run.cutoff };
  let step = 'query';
  try {
    const result = await session.run(batchViewSql(view, { source: session.source, cutoffMs: run.cutoff }));
    step = 'write';
    const writeStarted = performance.now();
    const items = result.rows.map((row) => batchItem(view, run.version, batchRowToAggregate(view, row), run.expiresAt));
    await store.writeItems(items);
    step = 'flip';
    const flip = await store.flip({
      view: view.name,
      version: run.version,
      cutoff: run.cutoff,
      rowCount: items.length,
      computedAt: run.computedAt,
    });
    const summary: ViewRunSummary = {
      ...context,
      rows: items.length,
      bytesScanned: result.bytesScanned,
      seconds: result.seconds,
      writeSeconds: (performance.now() - writeStarted) / 1000,
      outcome: flip.outcome,
    };
    metrics.addMetric(BATCH_METRICS.rows, MetricUnit.Count, items.length);
    if (flip.outcome === 'superseded') {
      // Not an error: a run that started later already served a newer version; this one expires unread.
      logger.warn('batch view superseded by a newer version', { ...summary, servedVersion: flip.servedVersion });
    } else {
      logger.info('batch view flipped', { ...summary });
    }
    return summary;
  } catch (error) {
    const reason = `${step}: ${describeError(error)}`;
    logger.error('batch view failed: its served version is unchanged', { ...context, error: reason });
    return failedView(view, run, reason);
  }
}

function failedView(view: ViewDefinition, run: ViewRun, error: string): ViewRunSummary {
  return {
    view: view.name,
    version: run.version,
    cutoff: run.cutoff,
    rows: 0,
    bytesScanned: 0,
    seconds: 0,
    writeSeconds: 0,
    outcome: 'failed',
    error,
  };
}

/**
 * The cutoff of the stalest served version: what BatchCutoffAgeSeconds measures, so the age keeps growing while
 * a view keeps failing (the alarm DESIGN.md §3 asks for), instead of restarting with every attempted run. A view
 * that has never been served has no age.
 */
async function oldestServedCutoff(
  views: readonly ViewRunSummary[],
  store: BatchViewWriter,
  logger: HandlerLogger,
): Promise<number | undefined> {
  const cutoffs: number[] = [];
  for (const view of views) {
    if (view.outcome !== 'failed') {
      cutoffs.push(view.cutoff);
      continue;
    }
    try {
      const served = await store.servedManifest(view.view);
      if (served !== null) cutoffs.push(served.cutoff);
    } catch (error) {
      logger.warn('could not read the served version of a failed view', {
        view: view.view,
        error: describeError(error),
      });
    }
  }
  return cutoffs.length === 0 ? undefined : Math.min(...cutoffs);
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
