import type { S3Client } from '@aws-sdk/client-s3';
import { listKeys } from '../adapters/s3-listing';
import type { HandlerLogger } from '../adapters/telemetry';
import type { BatchViewWriter, KeyDirectoryWriter } from '../batch/batch-job';
import type { BatchEngine } from '../batch/batch-engine';
import { batchCutoff } from '../core/arrival-epoch';
import { baseItem } from '../core/batch-item';
import { batchRowToAggregate, batchViewSql } from '../core/batch-sql';
import { describeError } from '../core/error-description';
import { batchRowSightings } from '../core/key-directory';
import {
  beginRebuildRequest,
  expiredRequest,
  flipRebuildRequest,
  rebuildComputedRequest,
  rebuildId,
  rebuildProgressRequest,
  type BatchViewState,
  type RebuildProgress,
} from '../core/manifest';
import type { PipelineConfig } from '../core/pipeline-config';
import { findView, type ViewDefinition } from '../core/view-declaration';
import { archiveScope } from './archive-scope';
import { writeResult } from './result-writer';

/** Rows per write call of a rebuild; progress is saved in the manifest after each. */
export const REBUILD_CHUNK_ROWS = 1000;

/** How many times a rebuild tries to start when windows keep moving the served cutoff under it. */
const BEGIN_ATTEMPTS = 5;

export type RebuildPhase = 'started' | 'resumed' | 'computed' | 'writing' | 'flipped' | 'expired' | 'paused';

export interface RebuildProgressReport {
  readonly view: string;
  readonly phase: RebuildPhase;
  readonly id: string;
  readonly cutoff: number;
  readonly rowsWritten?: number;
  readonly files?: number;
  readonly filesDone?: number;
}

export interface RebuildStepResult {
  readonly view: string;
  /** True once the rebuild is flipped and what it superseded has its TTL; false: invoke again to go on. */
  readonly done: boolean;
  readonly id: string;
  readonly cutoff: number;
  readonly rowsWritten: number;
  readonly bytesScanned: number;
  readonly supersededRowsExpired?: number;
}

export interface RebuildJobDependencies {
  readonly config: PipelineConfig;
  readonly engine: BatchEngine | (() => Promise<BatchEngine>);
  readonly store: BatchViewWriter;
  /**
   * The key directory (DESIGN.md §10): each chunk of the result records its keys before its rows are written, so
   * every key of the base is listed before the flip. @default none: keys are not listed (tests that do not look)
   */
  readonly keyDirectory?: KeyDirectoryWriter;
  /** Where the engine's result files go, and are read back from. */
  readonly work: { readonly s3: S3Client; readonly bucket: string; readonly prefix?: string };
  /** Gives the superseded rows (old base, windows below the new base) a TTL: adapters/superseded-batch-rows.ts. */
  readonly expireSuperseded: (
    view: string,
    superseded: { readonly below: number; readonly baseId: string | null },
    expiresAtMs: number,
    shouldStop: () => boolean,
  ) => Promise<{ readonly expired: number; readonly done: boolean }>;
  readonly logger: HandlerLogger;
  /** Rows per write call, with progress saved after each. @default REBUILD_CHUNK_ROWS */
  readonly chunkRows?: number;
  /** How long superseded rows stay for requests still holding the old manifest. @default 10 min */
  readonly supersededGraceMs?: number;
  readonly now?: () => number;
}

export interface RebuildRunOptions {
  /** Stop before the next chunk once this time has passed (epoch ms); the next invocation resumes. */
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RebuildProgressReport) => void;
}

export class RebuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RebuildError';
  }
}

/**
 * Rebuilds a view's batch base from the archive (DESIGN.md §6), after a bug fix or a declaration change, or to
 * compact its windows:
 * 1. record the rebuild in the manifest, at the served cutoff B (windows after B go on meanwhile and continue from
 *    the new base); a view with nothing served takes the cutoff of now, and its windows wait for the base;
 * 2. the engine computes the rows of every record that arrived before B, within the view's retention, and exports
 *    them as files (Athena's UNLOAD; DuckDB's COPY), so no invocation holds the result;
 * 3. write the files' rows as base rows, chunk by chunk, saving progress in the manifest after each: an invocation
 *    stops before its time is up and the next (self-continuing in Lambda) goes on from there;
 * 4. flip the base with a conditional write; 5. give the rows it superseded a TTL.
 * Every step is recorded before the next starts, so a rebuild stopped anywhere is finished by running it again.
 */
export function createRebuildJob(dependencies: RebuildJobDependencies) {
  const { config, store, logger } = dependencies;
  const now = dependencies.now ?? Date.now;
  let engine: BatchEngine | undefined;
  const engineOf = async () =>
    (engine ??= typeof dependencies.engine === 'function' ? await dependencies.engine() : dependencies.engine);

  return async function rebuild(viewName: string, options: RebuildRunOptions = {}): Promise<RebuildStepResult> {
    const view = findView(config.views, viewName);
    if (view === undefined) {
      throw new RebuildError(
        `view: unknown view ${JSON.stringify(viewName)} (known: ${config.views.map((v) => v.name).join(', ')})`,
      );
    }
    const report = (progress: RebuildProgressReport) => {
      logger.info('rebuild progress', { ...progress });
      options.onProgress?.(progress);
    };
    const shouldStop = () =>
      options.signal?.aborted === true || (options.deadlineMs !== undefined && now() >= options.deadlineMs);

    let state = await store.state(view.name);
    if (state.rebuild === null && state.expiring !== null) {
      // The last rebuild flipped but stopped before its superseded rows had a TTL: finishing that is the resume.
      const expiry = await expireSuperseded(view, state.expiring, shouldStop);
      const base = state.base;
      report({
        view: view.name,
        phase: expiry.done ? 'expired' : 'paused',
        id: base?.id ?? '',
        cutoff: base?.cutoff ?? 0,
      });
      return {
        view: view.name,
        done: expiry.done,
        id: base?.id ?? '',
        cutoff: base?.cutoff ?? 0,
        rowsWritten: base?.rows ?? 0,
        bytesScanned: 0,
        supersededRowsExpired: expiry.expired,
      };
    }
    const resumed = state.rebuild !== null;
    // A window that flips between the read and the start moves the served cutoff the start is conditioned on: read
    // again and start from the new one (windows are minutes apart; a few attempts are plenty).
    for (let attempt = 1; state.rebuild === null && attempt <= BEGIN_ATTEMPTS; attempt += 1) {
      const startedAt = now();
      const cutoff =
        state.cutoff ??
        batchCutoff({
          nowMs: startedAt,
          epochLengthMs: config.epochLengthMs,
          bufferIntervalMs: config.bufferIntervalMs,
          safetyMarginMs: config.safetyMarginMs,
        });
      await store.updateManifest(
        beginRebuildRequest(view.name, { id: rebuildId(cutoff, startedAt), cutoff, startedAt }, state.cutoff),
      );
      state = await store.state(view.name);
    }
    const started = state.rebuild;
    if (started === null) throw new RebuildError(`${view.name}: the manifest refused the rebuild (its state moved)`);
    let rebuild: RebuildProgress = started;
    const at = { view: view.name, id: rebuild.id, cutoff: rebuild.cutoff };
    report({ ...at, phase: resumed ? 'resumed' : 'started' });

    if (rebuild.result === null) {
      rebuild = await compute(view, rebuild);
      report({ ...at, phase: 'computed', files: rebuild.result?.files ?? 0 });
    }
    const result = rebuild.result as NonNullable<RebuildProgress['result']>;
    const files = await listResult(result.prefix);
    if (files.length !== result.files) {
      throw new RebuildError(
        `${view.name}: rebuild ${rebuild.id} computed ${result.files} files under ${result.prefix}, ${files.length} are there`,
      );
    }
    const written = await writeResult({
      s3: dependencies.work.s3,
      bucket: dependencies.work.bucket,
      files,
      from: { filesDone: rebuild.filesDone, linesDone: rebuild.linesDone, written: rebuild.rowsWritten },
      chunkRows: dependencies.chunkRows ?? REBUILD_CHUNK_ROWS,
      shouldStop,
      write: async (rows) => {
        await dependencies.keyDirectory?.recordSightings(view.name, batchRowSightings(view, rows));
        const items = rows.map((row) => baseItem(view, rebuild.id, batchRowToAggregate(view, row)));
        const { refused } = await store.writeItems(items);
        for (const { index, reason } of refused) {
          logger.error('rebuild row set aside: it cannot be stored, and the base flips without it', {
            ...at,
            pk: items[index].pk,
            sk: items[index].sk,
            reason,
          });
        }
        return items.length - refused.length;
      },
      save: async (progress) => {
        if (
          !(await store.updateManifest(
            rebuildProgressRequest(view.name, rebuild.id, { ...progress, rowsWritten: progress.written }),
          ))
        ) {
          throw new RebuildError(`${view.name}: rebuild ${rebuild.id} is no longer the one in progress`);
        }
        report({
          ...at,
          phase: 'writing',
          rowsWritten: progress.written,
          files: files.length,
          filesDone: progress.filesDone,
        });
      },
    });
    rebuild = {
      ...rebuild,
      filesDone: written.progress.filesDone,
      linesDone: written.progress.linesDone,
      rowsWritten: written.progress.written,
    };
    if (!written.done) {
      // Asked to stop (Ctrl-C, a test): that is an error to the caller; a deadline is a pause.
      options.signal?.throwIfAborted();
      report({
        ...at,
        phase: 'paused',
        rowsWritten: rebuild.rowsWritten,
        files: files.length,
        filesDone: rebuild.filesDone,
      });
      return { ...at, done: false, rowsWritten: rebuild.rowsWritten, bytesScanned: result.bytesScanned };
    }

    const before = await store.state(view.name);
    const flipped = await store.updateManifest(
      flipRebuildRequest(
        view.name,
        rebuild,
        files.length,
        { served: before.cutoff, baseId: before.base?.id ?? null },
        new Date(now()).toISOString(),
      ),
    );
    state = await store.state(view.name);
    if (!flipped && state.base?.id !== rebuild.id) {
      throw new RebuildError(`${view.name}: the flip to base ${rebuild.id} was refused`);
    }
    report({ ...at, phase: 'flipped', rowsWritten: rebuild.rowsWritten });
    const expiry =
      state.expiring === null ? { expired: 0, done: true } : await expireSuperseded(view, state.expiring, shouldStop);
    report({ ...at, phase: expiry.done ? 'expired' : 'paused' });
    return {
      ...at,
      done: expiry.done,
      rowsWritten: rebuild.rowsWritten,
      bytesScanned: result.bytesScanned,
      supersededRowsExpired: expiry.expired,
    };
  };

  async function compute(view: ViewDefinition, rebuild: RebuildProgress): Promise<RebuildProgress> {
    const scope = archiveScope(view, config, rebuild.cutoff, now());
    const session = await (await engineOf()).open(scope.session);
    let exported;
    const prefix = `${dependencies.work.prefix ?? 'rebuilds/'}${view.name}/${rebuild.id}/${now()}/`;
    try {
      exported = await session.exportTo(
        batchViewSql(view, {
          source: session.source,
          dialect: session.dialect,
          eventTimeSkewMs: config.eventTimeSkewMs,
          dedupHorizonMs: config.dedupHorizonMs,
          ...scope.sql,
        }),
        { bucket: dependencies.work.bucket, prefix },
      );
    } finally {
      await session.close().catch((error: unknown) => {
        logger.warn('rebuild engine did not close cleanly', { error: describeError(error) });
      });
    }
    const result = { prefix, files: exported.files.length, bytesScanned: exported.bytesScanned };
    if (!(await store.updateManifest(rebuildComputedRequest(view.name, rebuild.id, result)))) {
      // Another invocation computed it first: write what it recorded (the same rows), and let these files expire.
      const current: BatchViewState = await store.state(view.name);
      if (current.rebuild?.id !== rebuild.id || current.rebuild.result === null) {
        throw new RebuildError(`${view.name}: rebuild ${rebuild.id} is no longer the one in progress`);
      }
      return current.rebuild;
    }
    return { ...rebuild, result };
  }

  function listResult(prefix: string): Promise<string[]> {
    return listKeys(dependencies.work.s3, dependencies.work.bucket, prefix);
  }

  /** The superseded rows' TTLs, until done or the deadline: a paused expiry is gone on with by the next invocation. */
  async function expireSuperseded(
    view: ViewDefinition,
    expiring: NonNullable<BatchViewState['expiring']>,
    shouldStop: () => boolean,
  ) {
    const expiry = await dependencies.expireSuperseded(
      view.name,
      expiring,
      now() + (dependencies.supersededGraceMs ?? 600_000),
      shouldStop,
    );
    if (expiry.done) await store.updateManifest(expiredRequest(view.name, expiring.below));
    return expiry;
  }
}
