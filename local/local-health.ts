import { BatchViewStore } from '../functions/adapters/batch-view-store';
import { GenerationDirectory } from '../functions/adapters/generation-directory';
import type { BatchRunSummary } from '../functions/batch/batch-job';
import { FIRST_GENERATION, type GenerationState } from '../functions/core/generation-manifest';
import type { BatchRunRecord } from './batch-scheduler';
import type { LocalRuntime } from './local-runtime';
import { RATE_WINDOW_MS, ratePerSecond } from './rate-meter';

/** GET /_local/health: how fast events come in, how far behind the speed layer is, and what the batch layer serves. */
export interface LocalHealth {
  now: string;
  nowMs: number;
  architecture: 'lambda' | 'kappa';
  ingest: {
    /** Rates are over the last minute, or since the server started if that is shorter. */
    windowSeconds: number;
    acceptedPerSecond: number;
    /** Per-event rejections; a whole request refused (bad JSON, too many events, not events) counts as one. */
    rejectedPerSecond: number;
    accepted: number;
    rejected: number;
  };
  speedLayer: {
    /** Records handed to the speed layer, whoever wrote them to the stream. */
    recordsPerSecond: number;
    records: number;
    invocations: number;
    /** As Lambda's IteratorAge: the largest over shards; a caught-up shard counts 0. */
    iteratorAgeMs: number;
    discardedBatches: number;
  };
  /** Null in Kappa mode, which has no batch layer. */
  batch: null | {
    runs: number;
    /** The oldest served cutoff over the views: every answer is exact up to it. Null while any view has none. */
    cutoff: string | null;
    cutoffMs: number | null;
    cutoffAgeMs: number | null;
    lastRun: null | {
      startedAt: string;
      finishedAt: string;
      outcome: 'succeeded' | 'failed';
      error?: string;
      /** The arrival window the run computed, over every view; null when no window ran (all up to date). */
      window: { from: string; to: string } | null;
      rows: number;
      bytesScanned: number;
      seconds: number;
      views: { view: string; outcome: string; rows: number; cutoff: string | null }[];
    };
    nextRunAt: string | null;
  };
  /** One per view of the config, in config order. */
  generations: {
    view: string;
    served: number;
    /** Completed replays: every generation after the first was built by one. */
    replays: number;
    building: null | { generation: number; handoff: string; handoffMs: number };
  }[];
}

/** A counter's reading: how many since the server started, and how many in the last window. */
export interface CountReading {
  readonly total: number;
  readonly inWindow: number;
}

/** What the health document is built from: plain readings of the runtime's meters and the manifests. */
export interface LocalHealthInputs {
  readonly nowMs: number;
  /** When the meters began counting: a younger server's rates are over the time it has been up. */
  readonly startedAtMs: number;
  readonly architecture: 'lambda' | 'kappa';
  readonly ingest: { readonly accepted: CountReading; readonly rejected: CountReading };
  readonly speedLayer: {
    readonly records: CountReading;
    readonly invocations: number;
    readonly iteratorAgeMs: number;
    readonly discardedBatches: number;
  };
  /** Ignored in Kappa mode. */
  readonly batch: {
    readonly runs: number;
    /** Each view's served cutoff (null: nothing served yet), in config order. */
    readonly cutoffs: readonly { readonly view: string; readonly cutoffMs: number | null }[];
    /** The job's result or error is whatever the runtime's job returned: a BatchRunSummary in practice. */
    readonly lastRun: BatchRunRecord<unknown> | null;
    readonly nextRunAtMs: number | null;
  };
  readonly generations: readonly GenerationState[];
}

/** Rates are shown to a tenth: a dashboard figure, not an accounting one. */
const roundToTenth = (value: number) => Math.round(value * 10) / 10;
const iso = (ms: number) => new Date(ms).toISOString();

export function buildLocalHealth(inputs: LocalHealthInputs): LocalHealth {
  const elapsedMs = inputs.nowMs - inputs.startedAtMs;
  const rate = (reading: CountReading) => roundToTenth(ratePerSecond(reading.inWindow, elapsedMs, RATE_WINDOW_MS));
  return {
    now: iso(inputs.nowMs),
    nowMs: inputs.nowMs,
    architecture: inputs.architecture,
    ingest: {
      windowSeconds: RATE_WINDOW_MS / 1_000,
      acceptedPerSecond: rate(inputs.ingest.accepted),
      rejectedPerSecond: rate(inputs.ingest.rejected),
      accepted: inputs.ingest.accepted.total,
      rejected: inputs.ingest.rejected.total,
    },
    speedLayer: {
      recordsPerSecond: rate(inputs.speedLayer.records),
      records: inputs.speedLayer.records.total,
      invocations: inputs.speedLayer.invocations,
      iteratorAgeMs: inputs.speedLayer.iteratorAgeMs,
      discardedBatches: inputs.speedLayer.discardedBatches,
    },
    batch: inputs.architecture === 'kappa' ? null : batchHealth(inputs.nowMs, inputs.batch),
    generations: inputs.generations.map((state) => ({
      view: state.view,
      served: state.served,
      replays: state.served - FIRST_GENERATION,
      building:
        state.building === null
          ? null
          : {
              generation: state.building.generation,
              handoff: iso(state.building.handoffMs),
              handoffMs: state.building.handoffMs,
            },
    })),
  };
}

function batchHealth(nowMs: number, batch: LocalHealthInputs['batch']): NonNullable<LocalHealth['batch']> {
  // An answer merges every view's batch rows, so it is exact only up to the view that is furthest behind.
  const cutoffs = batch.cutoffs.map(({ cutoffMs }) => cutoffMs);
  const cutoffMs =
    cutoffs.length === 0 || cutoffs.some((cutoff) => cutoff === null) ? null : Math.min(...(cutoffs as number[]));
  return {
    runs: batch.runs,
    cutoff: cutoffMs === null ? null : iso(cutoffMs),
    cutoffMs,
    cutoffAgeMs: cutoffMs === null ? null : nowMs - cutoffMs,
    lastRun: batch.lastRun === null ? null : lastRunHealth(batch.lastRun),
    nextRunAt: batch.nextRunAtMs === null ? null : iso(batch.nextRunAtMs),
  };
}

function lastRunHealth(run: BatchRunRecord<unknown>): NonNullable<NonNullable<LocalHealth['batch']>['lastRun']> {
  // A failed run's BatchRunError carries the summary of what the other views did: its figures count too.
  const summary = run.succeeded ? asRunSummary(run.result) : asRunSummary(errorSummary(run.error));
  const windows = summary?.views.flatMap((view) => view.windows) ?? [];
  return {
    startedAt: iso(run.startedAtMs),
    finishedAt: iso(run.finishedAtMs),
    outcome: run.succeeded ? 'succeeded' : 'failed',
    ...(run.succeeded ? {} : { error: run.error instanceof Error ? run.error.message : String(run.error) }),
    window:
      windows.length === 0
        ? null
        : {
            from: iso(Math.min(...windows.map((window) => window.from))),
            to: iso(Math.max(...windows.map((window) => window.to))),
          },
    rows: summary?.views.reduce((sum, view) => sum + view.rows, 0) ?? 0,
    bytesScanned: summary?.bytesScanned ?? 0,
    seconds: (run.finishedAtMs - run.startedAtMs) / 1_000,
    views: (summary?.views ?? []).map((view) => ({
      view: view.view,
      outcome: view.outcome,
      rows: view.rows,
      cutoff: view.cutoff === null ? null : iso(view.cutoff),
    })),
  };
}

/** A BatchRunError's summary, read by shape: the runtime's job type is generic, and so is what it throws. */
function errorSummary(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'summary' in error ? error.summary : undefined;
}

/** The runtime's batch result is generic (tests may run another job): only a run summary has figures to show. */
function asRunSummary(value: unknown): BatchRunSummary | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = value as Partial<Record<keyof BatchRunSummary, unknown>>;
  return typeof candidate.bytesScanned === 'number' && Array.isArray(candidate.views)
    ? (value as BatchRunSummary)
    : undefined;
}

/**
 * The health document of a running local runtime: its meters, and the manifests read now (each view's batch
 * manifest for the served cutoffs, in Lambda mode; each view's generation state) with the runtime's DynamoDB client.
 */
export async function readLocalHealth<BatchResult>(runtime: LocalRuntime<BatchResult>): Promise<LocalHealth> {
  const { config, dynamodb, resources } = runtime.environment;
  const views = config.views.map((view) => view.name);
  const directory = new GenerationDirectory({ client: dynamodb, manifestTable: resources.manifestTable });
  // Only the manifest is read: the batch table is never touched by state().
  const batchStore = new BatchViewStore({
    client: dynamodb,
    batchTable: resources.batchTable,
    manifestTable: resources.manifestTable,
  });
  const [generations, cutoffs] = await Promise.all([
    Promise.all(views.map((view) => directory.read(view))),
    config.architecture === 'lambda'
      ? Promise.all(views.map(async (view) => ({ view, cutoffMs: (await batchStore.state(view)).cutoff })))
      : Promise.resolve([]),
  ]);
  const nowMs = Date.now();
  const meters = runtime.meters;
  return buildLocalHealth({
    nowMs,
    startedAtMs: runtime.startedAtMs,
    architecture: config.architecture,
    ingest: {
      accepted: { total: meters.ingestAccepted.total, inWindow: meters.ingestAccepted.countInWindow(nowMs) },
      rejected: { total: meters.ingestRejected.total, inWindow: meters.ingestRejected.countInWindow(nowMs) },
    },
    speedLayer: {
      records: { total: meters.speedRecords.total, inWindow: meters.speedRecords.countInWindow(nowMs) },
      invocations: runtime.speedInvocations,
      iteratorAgeMs: runtime.speedIteratorAgeMs(nowMs),
      discardedBatches: runtime.discarded.length,
    },
    batch: {
      runs: runtime.batchRuns,
      cutoffs,
      lastRun: runtime.lastBatchRun,
      nextRunAtMs: runtime.nextBatchRunAtMs,
    },
    generations,
  });
}
