import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { FlipResult, WriteItemsResult } from '../adapters/batch-view-store';
import type { HandlerLogger } from '../adapters/telemetry';
import type { AttributeValue } from '../core/aggregate-attributes';
import { batchCutoff } from '../core/arrival-epoch';
import { batchItem, batchVersionExpiresAt } from '../core/batch-item';
import {
  batchRowToAggregate,
  batchViewSql,
  BATCH_RESULT_COLUMNS,
  skippedRowsSql,
  SKIPPED_RESULT_COLUMNS,
  type SqlCell,
} from '../core/batch-sql';
import { batchVersionId, type BatchManifest } from '../core/manifest';
import type { PipelineConfig } from '../core/pipeline-config';
import type { ViewDefinition } from '../core/view-declaration';
import type { BatchEngine, BatchQuerySession, SessionPreparation } from './batch-engine';
import { describeError } from '../core/error-description';

/** The batch job's metrics (service 'batch'); the monitoring construct alarms on these names. */
export const BATCH_METRICS = {
  succeeded: 'BatchRunSucceeded',
  failed: 'BatchRunFailed',
  rows: 'BatchViewRows',
  cutoffAge: 'BatchCutoffAgeSeconds',
  superseded: 'BatchViewsSuperseded',
  /** Archived rows no view counts because they break today's event rules (BatchRunSummary.skippedRows). */
  rowsSkipped: 'BatchRowsSkipped',
  /** Batch rows the store refused, set aside so that their view still flips (ViewRunSummary.setAside). */
  rowsSetAside: 'BatchRowsSetAside',
} as const;

/** How many set-aside rows a view's summary lists, and each log line carries; every one is logged. */
export const SET_ASIDE_LISTED = 100;

type MetricUnitName = (typeof MetricUnit)[keyof typeof MetricUnit];

/** The part of Powertools Metrics the job uses; the cutoff age is in seconds, the rest are counts. */
export interface BatchMetrics {
  addMetric(name: string, unit: MetricUnitName, value: number): unknown;
  publishStoredMetrics(): void;
}

/** Where versions are written and flipped: functions/adapters/batch-view-store.ts. */
export interface BatchViewWriter {
  /** Writes every item it can; the ones the store refuses for what they hold come back as `refused`. */
  writeItems(items: readonly Record<string, AttributeValue>[]): Promise<WriteItemsResult>;
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

/** A batch row that could not be stored: its view flipped without it (DESIGN.md §4: no single row stops a view). */
export interface SetAsideRow {
  /** The dimension key as it would be stored (URI-encoded values joined by `|`). */
  readonly key: string;
  /** The bucket's start, epoch ms; null if the row had none. */
  readonly bucket: number | null;
  /** The store's error, or why the row could not become an item. */
  readonly reason: string;
}

export interface ViewRunSummary {
  readonly view: string;
  readonly version: string;
  readonly cutoff: number;
  /** Rows written: the version's row count. */
  readonly rows: number;
  /** Rows set aside because they cannot be stored; the others were written and the view still flipped. */
  readonly setAside: number;
  /** The first SET_ASIDE_LISTED of them (the logs hold every one). */
  readonly setAsideRows: readonly SetAsideRow[];
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
  /**
   * Rows of the master dataset that no view counted because they break today's event rules, by reason: the lines
   * the engine left out before any SQL (preparation.skippedLines), and the rows that arrived before the cutoff that
   * the batch SQL skipped (skippedRowsSql). Lines archived before the rules changed are the only ones expected here.
   */
  readonly skippedRows: Readonly<Record<string, number>>;
  /** Set when the SQL's part of skippedRows could not be counted (the views still ran): the step and the error. */
  readonly skippedRowsError?: string;
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
 * No single row fails a view (DESIGN.md §4): archived rows that break today's event rules are left out by every
 * view's SQL alike and counted by reason (skippedRows); a batch row the store still refuses is set aside, logged
 * with its key and bucket, and the view flips with the others (setAside). Both are metrics to alarm on.
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
  let skipped: SkippedRows = { rows: {} };
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
    skipped = { rows: {}, error: reason };
  }
  if (session !== undefined) {
    if (session.preparation !== undefined) logger.info('batch engine ready', { ...session.preparation });
    try {
      skipped = await countSkippedRows(session, run, dependencies);
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
  metrics.addMetric(
    BATCH_METRICS.rowsSkipped,
    MetricUnit.Count,
    Object.values(skipped.rows).reduce((sum, rows) => sum + rows, 0),
  );
  metrics.addMetric(
    BATCH_METRICS.rowsSetAside,
    MetricUnit.Count,
    views.reduce((sum, view) => sum + view.setAside, 0),
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
    skippedRows: skipped.rows,
    ...(skipped.error === undefined ? {} : { skippedRowsError: skipped.error }),
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

interface SkippedRows {
  readonly rows: Readonly<Record<string, number>>;
  readonly error?: string;
}

/**
 * The rows no view will count, by reason: what the engine left out before the SQL, plus what the skipped-rows query
 * finds (the same predicate every view's SQL applies). A failed count is logged and reported, and the views run.
 */
async function countSkippedRows(
  session: BatchQuerySession,
  run: ViewRun,
  { config, logger }: BatchJobDependencies,
): Promise<SkippedRows> {
  const rows = new Map(Object.entries(session.preparation?.skippedLines ?? {}));
  let error: string | undefined;
  try {
    const result = await session.run(
      skippedRowsSql({
        source: session.source,
        cutoffMs: run.cutoff,
        dialect: session.dialect,
        eventTimeSkewMs: config.eventTimeSkewMs,
      }),
    );
    for (const row of result.rows) {
      const reason = String(row[SKIPPED_RESULT_COLUMNS.reason]);
      rows.set(reason, (rows.get(reason) ?? 0) + Number(row[SKIPPED_RESULT_COLUMNS.rows]));
    }
  } catch (caught) {
    error = `query: ${describeError(caught)}`;
    logger.warn('batch run could not count its skipped rows: the views still run', { version: run.version, error });
  }
  const counted = Object.fromEntries(rows);
  if (rows.size > 0) {
    logger.warn('archived rows that break the event rules were skipped: no view counts them', {
      version: run.version,
      cutoff: run.cutoff,
      skippedRows: counted,
    });
  }
  return { rows: counted, ...(error === undefined ? {} : { error }) };
}

async function runView(
  view: ViewDefinition,
  session: BatchQuerySession,
  run: ViewRun,
  { config, store, logger, metrics }: BatchJobDependencies,
): Promise<ViewRunSummary> {
  const context = { view: view.name, version: run.version, cutoff: run.cutoff };
  let step = 'query';
  try {
    const result = await session.run(
      batchViewSql(view, {
        source: session.source,
        cutoffMs: run.cutoff,
        dialect: session.dialect,
        eventTimeSkewMs: config.eventTimeSkewMs,
      }),
    );
    step = 'write';
    const writeStarted = performance.now();
    const { items, keys, unbuildable } = batchItems(view, run, result.rows);
    const { refused } = await store.writeItems(items);
    const setAside = [...unbuildable, ...refused.map(({ index, reason }) => ({ ...keys[index], reason }))];
    const written = items.length - refused.length;
    for (let start = 0; start < setAside.length; start += SET_ASIDE_LISTED) {
      logger.error('batch rows set aside: they cannot be stored, and the view flips without them', {
        ...context,
        setAside: setAside.length,
        rows: setAside.slice(start, start + SET_ASIDE_LISTED),
      });
    }
    step = 'flip';
    const flip = await store.flip({
      view: view.name,
      version: run.version,
      cutoff: run.cutoff,
      rowCount: written,
      computedAt: run.computedAt,
    });
    const summary: ViewRunSummary = {
      ...context,
      rows: written,
      setAside: setAside.length,
      setAsideRows: setAside.slice(0, SET_ASIDE_LISTED),
      bytesScanned: result.bytesScanned,
      seconds: result.seconds,
      writeSeconds: (performance.now() - writeStarted) / 1000,
      outcome: flip.outcome,
    };
    metrics.addMetric(BATCH_METRICS.rows, MetricUnit.Count, written);
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

/**
 * The engine's rows as items, with each item's key and bucket for reporting. A row that cannot become an item (a
 * measure no DynamoDB number holds, such as a non-finite sum) is set aside here, as the store sets aside the items
 * it refuses: defence in depth behind the batch SQL's row rules.
 */
function batchItems(
  view: ViewDefinition,
  run: ViewRun,
  rows: readonly Readonly<Record<string, SqlCell>>[],
): {
  items: Record<string, AttributeValue>[];
  keys: Omit<SetAsideRow, 'reason'>[];
  unbuildable: SetAsideRow[];
} {
  const items: Record<string, AttributeValue>[] = [];
  const keys: Omit<SetAsideRow, 'reason'>[] = [];
  const unbuildable: SetAsideRow[] = [];
  for (const row of rows) {
    // Until the row is an aggregate, it is reported by its raw cells.
    const bucket = row[BATCH_RESULT_COLUMNS.bucket];
    let where: Omit<SetAsideRow, 'reason'> = {
      key: view.dimensions.map((_, index) => String(row[BATCH_RESULT_COLUMNS.dimension(index)])).join('|'),
      bucket: bucket === null || bucket === undefined || !Number.isFinite(Number(bucket)) ? null : Number(bucket),
    };
    try {
      const aggregate = batchRowToAggregate(view, row);
      where = { key: aggregate.dimensionKey, bucket: aggregate.bucket };
      items.push(batchItem(view, run.version, aggregate, run.expiresAt));
      keys.push(where);
    } catch (error) {
      unbuildable.push({ ...where, reason: `item: ${describeError(error)}` });
    }
  }
  return { items, keys, unbuildable };
}

function failedView(view: ViewDefinition, run: ViewRun, error: string): ViewRunSummary {
  return {
    view: view.name,
    version: run.version,
    cutoff: run.cutoff,
    rows: 0,
    setAside: 0,
    setAsideRows: [],
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
