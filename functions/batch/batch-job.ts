import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { WriteItemsResult } from '../adapters/batch-view-store';
import type { KeyDirectoryStore } from '../adapters/key-directory-store';
import type { HandlerLogger } from '../adapters/telemetry';
import type { AttributeValue } from '../core/aggregate-attributes';
import { batchCutoff } from '../core/arrival-epoch';
import { windowItem } from '../core/batch-item';
import {
  batchRowToAggregate,
  batchViewSql,
  BATCH_RESULT_COLUMNS,
  skippedRowsSql,
  SKIPPED_RESULT_COLUMNS,
  type SqlCell,
} from '../core/batch-sql';
import {
  batchViewStateFromItem,
  beginWindowRequest,
  finishWindowRequest,
  nextWindow,
  type ArrivalWindow,
  type BatchViewState,
  type ManifestFlipRequest,
} from '../core/manifest';
import type { PipelineConfig } from '../core/pipeline-config';
import { batchRowSightings } from '../core/key-directory';
import { firstRetainedBucket, type ViewDefinition } from '../core/view-declaration';
import type { BatchEngine, BatchQuerySession, SessionPreparation } from './batch-engine';
import { describeError } from '../core/error-description';

/** The batch job's metrics (service 'batch'); the monitoring construct alarms on these names. */
export const BATCH_METRICS = {
  succeeded: 'BatchRunSucceeded',
  failed: 'BatchRunFailed',
  /** Rows written by the run's windows, over every view: flat from run to run when new data is (DESIGN.md §6). */
  rows: 'BatchViewRows',
  /** Bytes of the master dataset the run's queries read (Athena's DataScannedInBytes; DuckDB's downloads). */
  bytesScanned: 'BatchBytesScanned',
  /** Arrival windows flipped by the run, over every view. */
  windows: 'BatchWindowsFlipped',
  /** The arrival time the run's windows covered, end minus start, over the views that moved. */
  windowSeconds: 'BatchWindowSeconds',
  cutoffAge: 'BatchCutoffAgeSeconds',
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

/** The key directory as the batch layer, rebuilds and replays write it (adapters/key-directory-store.ts). */
export type KeyDirectoryWriter = Pick<KeyDirectoryStore, 'recordSightings'>;

/** Where rows are written and the manifest moved: functions/adapters/batch-view-store.ts. */
export interface BatchViewWriter {
  /** Writes every item it can; the ones the store refuses for what they hold come back as `refused`. */
  writeItems(items: readonly Record<string, AttributeValue>[]): Promise<WriteItemsResult>;
  /** A conditional write of the manifest (core/manifest.ts): false when its condition did not hold. */
  updateManifest(request: ManifestFlipRequest): Promise<boolean>;
  state(view: string): Promise<BatchViewState>;
}

export interface BatchJobDependencies {
  readonly config: PipelineConfig;
  /** The engine, or how to load it (DuckDB is imported only when it is the configured engine). */
  readonly engine: BatchEngine | (() => Promise<BatchEngine>);
  readonly store: BatchViewWriter;
  /**
   * The key directory (DESIGN.md §10): each window records its keys' first and last arrivals before it flips, so
   * that a key only the batch layer saw (its realtime items expired) is listed too. @default none: keys are not
   * listed (tests that do not look)
   */
  readonly keyDirectory?: KeyDirectoryWriter;
  readonly logger: HandlerLogger;
  readonly metrics: BatchMetrics;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * No window starts after the run has lasted this long; the next run goes on where it stopped. Leaves a window's
   * worth of the Lambda's 15 minutes. @default 10 minutes
   */
  readonly timeBudgetMs?: number;
  /**
   * Called between two steps of a window (after the manifest records it, after each write chunk, before the flip):
   * tests stop a run there to prove that the next one resumes it. @default none
   */
  readonly onStep?: (step: WindowStep) => void | Promise<void>;
}

/** Where a window's run is: `begun` (pending recorded), `written` (rows chunk `chunk` written), `flipping`. */
export interface WindowStep {
  readonly view: string;
  readonly window: ArrivalWindow;
  readonly step: 'begun' | 'written' | 'flipping';
  readonly chunk?: number;
}

/** Items a window writes per writeItems call; between two calls a run may stop (onStep). */
export const WINDOW_WRITE_CHUNK = 500;

/** A batch row that could not be stored: its view flipped without it (DESIGN.md §4: no single row stops a view). */
export interface SetAsideRow {
  /** The dimension key as it would be stored (URI-encoded values joined by `|`). */
  readonly key: string;
  /** The bucket's start, epoch ms; null if the row had none. */
  readonly bucket: number | null;
  /** The store's error, or why the row could not become an item. */
  readonly reason: string;
}

/** One arrival window of one view, as the run computed it. */
export interface WindowRunSummary extends ArrivalWindow {
  /** Rows written: one per key and bucket the window touched. */
  readonly rows: number;
  readonly setAside: number;
  readonly bytesScanned: number;
  /** The query's wall-clock time. */
  readonly seconds: number;
  /** Writing the rows and flipping the manifest. */
  readonly writeSeconds: number;
  /** 'flipped' by this run, or 'flipped-by-another' run that computed the same window at the same time. */
  readonly outcome: 'flipped' | 'flipped-by-another';
}

export interface ViewRunSummary {
  readonly view: string;
  /** The served cutoff after the run (null: nothing served yet). */
  readonly cutoff: number | null;
  readonly windows: readonly WindowRunSummary[];
  /** Rows written over the run's windows. */
  readonly rows: number;
  /** Rows set aside because they cannot be stored; the others were written and the windows still flipped. */
  readonly setAside: number;
  /** The first SET_ASIDE_LISTED of them (the logs hold every one). */
  readonly setAsideRows: readonly SetAsideRow[];
  readonly bytesScanned: number;
  readonly seconds: number;
  readonly writeSeconds: number;
  /**
   * 'flipped': the served cutoff moved; 'up-to-date': nothing new to compute; 'waiting-for-rebuild': a rebuild is
   * laying the view's first base; 'behind': the run's time ran out first; 'failed': the step and error say why.
   */
  readonly outcome: 'flipped' | 'up-to-date' | 'waiting-for-rebuild' | 'behind' | 'failed';
  /** For a failed view: the step that failed (state, query, write or flip) and the error. */
  readonly error?: string;
}

export interface BatchRunSummary {
  /** The cutoff the run brought the views to (or towards). */
  readonly cutoff: number;
  readonly startedAt: number;
  /** What the engine did before the queries (DuckDB's download), summed over the run's windows. */
  readonly preparation?: SessionPreparation;
  /**
   * Rows of the master dataset in the run's windows that no view counted because they break today's event rules,
   * by reason: the lines the engine left out before any SQL (preparation.skippedLines), and the rows the batch SQL
   * skipped (skippedRowsSql). Lines archived before the rules changed are the only ones expected here.
   */
  readonly skippedRows: Readonly<Record<string, number>>;
  /** Set when the SQL's part of skippedRows could not be counted (the views still ran): the step and the error. */
  readonly skippedRowsError?: string;
  /** Bytes every query of the run read: the views' and the skipped-rows counts' (BatchBytesScanned). */
  readonly bytesScanned: number;
  readonly views: readonly ViewRunSummary[];
}

/** A run in which at least one view failed; the summary says which, and why. */
export class BatchRunError extends Error {
  constructor(readonly summary: BatchRunSummary) {
    const failed = summary.views.filter((view) => view.outcome === 'failed');
    super(`batch run failed for ${failed.map((view) => `${view.view} (${view.error})`).join(', ')}`);
    this.name = 'BatchRunError';
  }
}

export type BatchJobHandler = () => Promise<BatchRunSummary>;

/** The scheduled batch job as a Lambda handler; the schedule's event carries nothing the job needs. */
export function createBatchJobHandler(dependencies: BatchJobDependencies): BatchJobHandler {
  return () => runBatchJob(dependencies);
}

/** Per view, what the run did so far. */
interface ViewProgress {
  state: BatchViewState;
  windows: WindowRunSummary[];
  setAsideRows: SetAsideRow[];
  setAside: number;
  error?: string;
  done: boolean;
  /** Windows this run has computed, by `from-to`. */
  attempted: Set<string>;
}

/**
 * One batch run (DESIGN.md §6): each view's next arrival windows, from its served cutoff up to the cutoff C of now.
 * Per window: record it as pending in the manifest, compute the rows of the records that arrived in it, write them
 * (a retry rewrites the same items with the same content), and flip the served cutoff to the window's end with a
 * conditional write. A pending window found at the start (a run that failed or stopped) is resumed on the same
 * bounds; a view that fell behind catches up window by window until the run's time budget is spent. Views that are
 * at the same cutoff share one engine session per window, so DuckDB downloads the window's objects once.
 *
 * A view that fails keeps what it served and does not stop the others; the run then throws a BatchRunError, so that
 * the schedule, Lambda's error metric and the alarms see it. No single row fails a view (DESIGN.md §4): archived rows
 * that break today's event rules are left out by every view's SQL alike and counted by reason (skippedRows); a row
 * the store still refuses is set aside, logged with its key and bucket, and the window flips without it.
 *
 * Concurrent runs are safe: only one can record a window as pending; the other computes the same window (the same
 * items, the same content), and whichever flips second finds it flipped.
 */
export async function runBatchJob(dependencies: BatchJobDependencies): Promise<BatchRunSummary> {
  const { config, store, logger, metrics } = dependencies;
  const now = dependencies.now ?? Date.now;
  const startedAt = now();
  const budgetEnds = startedAt + (dependencies.timeBudgetMs ?? 600_000);
  const cutoff = batchCutoff({
    nowMs: startedAt,
    epochLengthMs: config.epochLengthMs,
    bufferIntervalMs: config.bufferIntervalMs,
    safetyMarginMs: config.safetyMarginMs,
  });
  logger.info('batch run started', { cutoff: new Date(cutoff).toISOString() });

  const progress = new Map<string, ViewProgress>();
  for (const view of config.views) {
    try {
      progress.set(view.name, {
        state: await store.state(view.name),
        windows: [],
        setAsideRows: [],
        setAside: 0,
        done: false,
        attempted: new Set(),
      });
    } catch (error) {
      const emptyState = batchViewStateFromItem(view.name, undefined);
      progress.set(view.name, {
        state: emptyState,
        windows: [],
        setAsideRows: [],
        setAside: 0,
        error: `state: ${describeError(error)}`,
        done: true,
        attempted: new Set(),
      });
    }
  }
  const skipped = new Map<string, number>();
  let skippedError: string | undefined;
  /** What the skipped-rows queries read: part of the run's cost, in no view's figures. */
  let skippedBytes = 0;
  let preparation: SessionPreparation | undefined;
  let engine: BatchEngine | undefined;

  for (;;) {
    // The views' next windows; views at the same window share a session.
    const due = new Map<string, { window: ArrivalWindow; views: ViewDefinition[] }>();
    for (const view of config.views) {
      const entry = progress.get(view.name) as ViewProgress;
      if (entry.done) continue;
      const window = nextWindow(entry.state, cutoff, config.maxWindowMs);
      if (window === null) {
        entry.done = true;
        continue;
      }
      const id = `${window.from}-${window.to}`;
      if (entry.attempted.has(id)) {
        // The manifest did not move past a window this run already computed: stop rather than loop.
        entry.error = `flip: window ${id} is still not served after this run computed it`;
        entry.done = true;
        continue;
      }
      const group = due.get(id) ?? { window, views: [] };
      group.views.push(view);
      due.set(id, group);
    }
    if (due.size === 0) break;
    if (now() >= budgetEnds) {
      logger.warn('batch run out of time: the next run goes on from here', { windowsLeft: due.size });
      break;
    }
    // The earliest window first: views that fell furthest behind catch up first.
    const [{ window, views }] = [...due.values()].sort((a, b) => a.window.from - b.window.from);
    const horizon = views.some((view) => view.dedupeByEventId) ? config.dedupHorizonMs : 0;
    let session: BatchQuerySession;
    try {
      engine ??= typeof dependencies.engine === 'function' ? await dependencies.engine() : dependencies.engine;
      session = await engine.open({
        arrivalFromMs: Math.max(0, window.from - horizon),
        arrivalToMs: window.to,
        countedFromMs: window.from,
      });
    } catch (error) {
      const reason = `engine: ${describeError(error)}`;
      logger.error('batch window could not open its engine: the views keep what they serve', {
        ...windowLog(window),
        error: reason,
      });
      for (const view of views) Object.assign(progress.get(view.name) as ViewProgress, { error: reason, done: true });
      skippedError ??= reason;
      continue;
    }
    try {
      preparation = addPreparation(preparation, session.preparation);
      if (session.preparation !== undefined)
        logger.info('batch engine ready', { ...windowLog(window), ...session.preparation });
      for (const [reason, lines] of Object.entries(session.preparation?.skippedLines ?? {})) {
        skipped.set(reason, (skipped.get(reason) ?? 0) + lines);
      }
      try {
        const result = await session.run(
          skippedRowsSql({
            source: session.source,
            arrivalFromMs: window.from,
            arrivalToMs: window.to,
            dialect: session.dialect,
            eventTimeSkewMs: config.eventTimeSkewMs,
            schema: config.schema,
          }),
        );
        skippedBytes += result.bytesScanned;
        for (const row of result.rows) {
          const reason = String(row[SKIPPED_RESULT_COLUMNS.reason]);
          skipped.set(reason, (skipped.get(reason) ?? 0) + Number(row[SKIPPED_RESULT_COLUMNS.rows]));
        }
      } catch (error) {
        skippedError ??= `query: ${describeError(error)}`;
        logger.warn('batch run could not count its skipped rows: the views still run', {
          ...windowLog(window),
          error: skippedError,
        });
      }
      for (const view of views) {
        const entry = progress.get(view.name) as ViewProgress;
        entry.attempted.add(`${window.from}-${window.to}`);
        await runWindow(view, window, entry, session, startedAt, dependencies);
      }
    } finally {
      await session.close().catch((error: unknown) => {
        logger.warn('batch engine did not close cleanly', { error: describeError(error) });
      });
    }
  }

  const views = config.views.map((view) => viewSummary(view, progress.get(view.name) as ViewProgress, cutoff));
  const failed = views.filter((view) => view.outcome === 'failed');
  const allWindows = views.flatMap((view) => view.windows);
  metrics.addMetric(BATCH_METRICS.succeeded, MetricUnit.Count, failed.length === 0 ? 1 : 0);
  metrics.addMetric(BATCH_METRICS.failed, MetricUnit.Count, failed.length === 0 ? 0 : 1);
  metrics.addMetric(BATCH_METRICS.rows, MetricUnit.Count, sum(views.map((view) => view.rows)));
  const bytesScanned = skippedBytes + sum(views.map((view) => view.bytesScanned));
  metrics.addMetric(BATCH_METRICS.bytesScanned, MetricUnit.Bytes, bytesScanned);
  metrics.addMetric(BATCH_METRICS.windows, MetricUnit.Count, allWindows.length);
  metrics.addMetric(
    BATCH_METRICS.windowSeconds,
    MetricUnit.Seconds,
    Math.max(0, ...views.map((view) => sum(view.windows.map((window) => (window.to - window.from) / 1000)))),
  );
  const skippedRows = Object.fromEntries(skipped);
  metrics.addMetric(BATCH_METRICS.rowsSkipped, MetricUnit.Count, sum(Object.values(skippedRows)));
  metrics.addMetric(BATCH_METRICS.rowsSetAside, MetricUnit.Count, sum(views.map((view) => view.setAside)));
  if (skipped.size > 0) {
    logger.warn('archived rows that break the event rules were skipped: no view counts them', { skippedRows });
  }
  const served = views.map((view) => view.cutoff).filter((value): value is number => value !== null);
  if (served.length > 0) {
    metrics.addMetric(BATCH_METRICS.cutoffAge, MetricUnit.Seconds, Math.max(0, (now() - Math.min(...served)) / 1000));
  }
  metrics.publishStoredMetrics();

  const summary: BatchRunSummary = {
    cutoff,
    startedAt,
    preparation,
    bytesScanned,
    skippedRows,
    ...(skippedError === undefined ? {} : { skippedRowsError: skippedError }),
    views,
  };
  if (failed.length > 0) throw new BatchRunError(summary);
  logger.info('batch run finished', { cutoff, windows: allWindows.length, rows: sum(views.map((view) => view.rows)) });
  return summary;
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

const windowLog = (window: ArrivalWindow) => ({
  from: new Date(window.from).toISOString(),
  to: new Date(window.to).toISOString(),
});

function addPreparation(total: SessionPreparation | undefined, more: SessionPreparation | undefined) {
  if (more === undefined) return total;
  if (total === undefined) return more;
  const lines = new Map(Object.entries(total.skippedLines ?? {}));
  for (const [reason, count] of Object.entries(more.skippedLines ?? {}))
    lines.set(reason, (lines.get(reason) ?? 0) + count);
  return {
    objects: total.objects + more.objects,
    bytes: total.bytes + more.bytes,
    seconds: total.seconds + more.seconds,
    skippedLines: Object.fromEntries(lines),
  };
}

function viewSummary(view: ViewDefinition, entry: ViewProgress, target: number): ViewRunSummary {
  const windows = entry.windows;
  const outcome: ViewRunSummary['outcome'] =
    entry.error !== undefined
      ? 'failed'
      : entry.state.cutoff === null && entry.state.rebuild !== null
        ? 'waiting-for-rebuild'
        : (entry.state.cutoff ?? 0) < target
          ? 'behind'
          : windows.length > 0
            ? 'flipped'
            : 'up-to-date';
  return {
    view: view.name,
    cutoff: entry.state.cutoff,
    windows,
    rows: sum(windows.map((window) => window.rows)),
    setAside: entry.setAside,
    setAsideRows: entry.setAsideRows.slice(0, SET_ASIDE_LISTED),
    bytesScanned: sum(windows.map((window) => window.bytesScanned)),
    seconds: sum(windows.map((window) => window.seconds)),
    writeSeconds: sum(windows.map((window) => window.writeSeconds)),
    outcome,
    ...(entry.error === undefined ? {} : { error: entry.error }),
  };
}

/**
 * One window of one view: record it as pending (unless it is the pending one being resumed), compute, write,
 * flip. Leaves the view's state as the manifest has it afterwards; a failure marks the view failed for this run.
 */
async function runWindow(
  view: ViewDefinition,
  window: ArrivalWindow,
  entry: ViewProgress,
  session: BatchQuerySession,
  runStartedAt: number,
  { config, store, keyDirectory, logger, onStep, now = Date.now }: BatchJobDependencies,
): Promise<void> {
  const context = { view: view.name, ...windowLog(window) };
  let step = 'state';
  try {
    if (entry.state.pending === null) {
      step = 'begin';
      const begun = await store.updateManifest(beginWindowRequest(view.name, { ...window, startedAt: runStartedAt }));
      if (!begun) {
        // Another run recorded a window first: if it is this one, compute it too (the same items, the same
        // content); otherwise take the manifest's word for what comes next.
        entry.state = await store.state(view.name);
        const pending = entry.state.pending;
        if (pending === null || pending.from !== window.from || pending.to !== window.to) return;
      }
    } else {
      logger.info('resuming a pending batch window', context);
    }
    await onStep?.({ view: view.name, window, step: 'begun' });
    step = 'query';
    const result = await session.run(
      batchViewSql(view, {
        source: session.source,
        arrivalFromMs: window.from,
        arrivalToMs: window.to,
        dialect: session.dialect,
        eventTimeSkewMs: config.eventTimeSkewMs,
        dedupHorizonMs: config.dedupHorizonMs,
        firstBucketMs: firstRetainedBucket(view, now()),
      }),
    );
    const writeStarted = performance.now();
    if (keyDirectory !== undefined) {
      // Before the flip makes the rows visible: every key a served answer holds is listed.
      step = 'directory';
      await keyDirectory.recordSightings(view.name, batchRowSightings(view, result.rows));
    }
    step = 'write';
    const { items, keys, unbuildable } = batchItems(view, window, result.rows);
    const setAside: SetAsideRow[] = [...unbuildable];
    for (let start = 0, chunk = 0; start < items.length; start += WINDOW_WRITE_CHUNK, chunk += 1) {
      const { refused } = await store.writeItems(items.slice(start, start + WINDOW_WRITE_CHUNK));
      setAside.push(...refused.map(({ index, reason }) => ({ ...keys[start + index], reason })));
      await onStep?.({ view: view.name, window, step: 'written', chunk });
    }
    for (let start = 0; start < setAside.length; start += SET_ASIDE_LISTED) {
      logger.error('batch rows set aside: they cannot be stored, and the window flips without them', {
        ...context,
        setAside: setAside.length,
        rows: setAside.slice(start, start + SET_ASIDE_LISTED),
      });
    }
    await onStep?.({ view: view.name, window, step: 'flipping' });
    step = 'flip';
    const flipped = await store.updateManifest(finishWindowRequest(view.name, window, new Date(now()).toISOString()));
    entry.state = await store.state(view.name);
    const takenOver =
      (entry.state.cutoff === null && entry.state.rebuild !== null) || (entry.state.base?.cutoff ?? 0) > window.from;
    if (!flipped && takenOver) {
      // A rebuild took the view's first window over (manifest.ts, beginRebuildRequest): its base serves it.
      logger.warn('a rebuild took this first window over: its rows are left unread', context);
      return;
    }
    if (!flipped && (entry.state.cutoff === null || entry.state.cutoff < window.to)) {
      throw new Error(`the manifest no longer has window ${window.from}-${window.to} pending`);
    }
    const summary: WindowRunSummary = {
      ...window,
      rows: items.length - (setAside.length - unbuildable.length),
      setAside: setAside.length,
      bytesScanned: result.bytesScanned,
      seconds: result.seconds,
      writeSeconds: (performance.now() - writeStarted) / 1000,
      outcome: flipped ? 'flipped' : 'flipped-by-another',
    };
    entry.windows.push(summary);
    entry.setAside += setAside.length;
    entry.setAsideRows.push(...setAside.slice(0, SET_ASIDE_LISTED));
    logger.info('batch window flipped', { ...context, ...summary });
  } catch (error) {
    const reason = `${step}: ${describeError(error)}`;
    logger.error('batch window failed: the view serves what it did, and the next run resumes the window', {
      ...context,
      error: reason,
    });
    entry.error = reason;
    entry.done = true;
  }
}

/**
 * The engine's rows as items, with each item's key and bucket for reporting. A row that cannot become an item (a
 * measure no DynamoDB number holds, such as a non-finite sum) is set aside here, as the store sets aside the items
 * it refuses: defence in depth behind the batch SQL's row rules.
 */
function batchItems(
  view: ViewDefinition,
  window: ArrivalWindow,
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
      items.push(windowItem(view, window, aggregate));
      keys.push(where);
    } catch (error) {
      unbuildable.push({ ...where, reason: `item: ${describeError(error)}` });
    }
  }
  return { items, keys, unbuildable };
}
