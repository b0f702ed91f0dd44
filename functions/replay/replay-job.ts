import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { mapConcurrently } from '../adapters/concurrent-map';
import { expireGeneration } from '../adapters/realtime-generation-expiry';
import { RealtimeViewStore } from '../adapters/realtime-view-store';
import { listKeys } from '../adapters/s3-listing';
import type { HandlerLogger } from '../adapters/telemetry';
import type { BatchEngine } from '../batch/batch-engine';
import type { KeyDirectoryWriter } from '../batch/batch-job';
import { batchRowToAggregate, batchViewSql, BATCH_RESULT_COLUMNS } from '../core/batch-sql';
import { describeError } from '../core/error-description';
import { batchRowSightings } from '../core/key-directory';
import {
  archiveCompleteAt,
  handoffTime,
  type BackfillProgress,
  type BuildingGeneration,
  type GenerationState,
} from '../core/generation-manifest';
import type { PipelineConfig } from '../core/pipeline-config';
import { recordPosition } from '../core/sequence-position';
import { findView, type ViewDefinition } from '../core/view-declaration';
import { archiveScope } from '../rebuild/archive-scope';
import { writeResult } from '../rebuild/result-writer';

/**
 * The backfill writes each item once, under its own watermark attribute (`wm_replay`, beside the shards' own), at
 * one fixed position: a resumed replay finds the watermark on every item it wrote before and skips it, and the
 * live consumer's writes to the same items, under their shards' watermarks, commute with it.
 */
export const REPLAY_WRITER = 'replay';
const REPLAY_POSITION = recordPosition('1', 0);

/** The generation directory as the replay uses it (generation-directory.ts). */
export interface ReplayDirectory {
  readonly cacheMs: number;
  read(view: string): Promise<GenerationState>;
  startReplay(state: GenerationState, building: BuildingGeneration): Promise<boolean>;
  recordBackfillResult(
    view: string,
    generation: number,
    result: Pick<BackfillProgress, 'prefix' | 'files'>,
  ): Promise<boolean>;
  saveBackfillProgress(
    view: string,
    generation: number,
    progress: Pick<BackfillProgress, 'filesDone' | 'linesDone' | 'items'>,
  ): Promise<boolean>;
  markBackfilled(view: string, generation: number, items: number): Promise<boolean>;
  flip(view: string, from: number, to: number): Promise<boolean>;
  markExpired(view: string, generation: number): Promise<boolean>;
}

export type ReplayPhase =
  'started' | 'resumed' | 'waiting-for-archive' | 'computed' | 'backfilling' | 'paused' | 'flipped' | 'expired';

export interface ReplayProgress {
  readonly view: string;
  readonly phase: ReplayPhase;
  readonly generation: number;
  readonly handoffMs: number;
  readonly itemsWritten?: number;
  readonly itemsTotal?: number;
}

export interface ReplaySummary {
  readonly view: string;
  /** False when the invocation stopped at its deadline before the flip: run it again to go on. */
  readonly done: boolean;
  readonly from: number;
  readonly to: number;
  readonly handoffMs: number;
  /** Bytes of the master dataset the engine read to compute the backfill (0 when it was computed before). */
  readonly bytesScanned: number;
  readonly backfilledItems: number;
  /** Items a previous, interrupted attempt had already written (found by their watermark). */
  readonly itemsAlreadyWritten: number;
  readonly oldGenerationItemsExpired: number;
}

export interface ReplayJobDependencies {
  readonly config: PipelineConfig;
  readonly directory: ReplayDirectory;
  readonly dynamodb: DynamoDBClient;
  readonly realtimeTable: string;
  /**
   * The key directory (DESIGN.md §10): each chunk of the backfill records its keys before its items are written,
   * so every key of the generation is listed before it flips. @default none: keys are not listed
   */
  readonly keyDirectory?: KeyDirectoryWriter;
  /** Computes the backfill from the master dataset and exports it (batch/batch-engine.ts). */
  readonly engine: BatchEngine | (() => Promise<BatchEngine>);
  /** Where the engine's result files go, and are read back from. */
  readonly work: { readonly s3: S3Client; readonly bucket: string; readonly prefix?: string };
  /** Gives the unserved generation's items a TTL. @default expireGeneration (realtime-generation-expiry.ts) */
  readonly expireGeneration?: (view: string, generation: number, expiresAtMs: number) => Promise<number>;
  readonly logger: HandlerLogger;
  /** How long the old generation stays after the flip, for requests and consumers still holding it. @default 10 min */
  readonly oldGenerationGraceMs?: number;
  /** DynamoDB writes in flight. @default 16 */
  readonly concurrency?: number;
  /** Items per saved step of the backfill (a progress report and a manifest write each). @default 1000 */
  readonly progressEvery?: number;
  /**
   * The arrival time below which every record is in the master dataset, where that is known (the local runtime's
   * Firehose stand-in): the backfill then also waits until the hand-off is archived, not only for buffer + margin.
   * @default unknown: the buffer interval and the safety margin are trusted, as in AWS
   */
  readonly archivedThroughMs?: () => Promise<number | undefined> | number | undefined;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** How often a replay asks whether the archive has reached its hand-off. */
const ARCHIVE_POLL_MS = 250;

export interface ReplayRunOptions {
  /** Aborting stops the replay between writes; running it again resumes where it stopped. */
  readonly signal?: AbortSignal;
  /** Stop before the next chunk of writes once this time has passed (epoch ms), returning `done: false`. */
  readonly deadlineMs?: number;
  readonly onProgress?: (progress: ReplayProgress) => void;
}

export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayError';
  }
}

/**
 * Rebuilds one view into a new realtime generation from the history within its retention, then serves it
 * (DESIGN.md Kappa mode; the same replay adds a view in Lambda mode without waiting for a batch run):
 * 1. start (or resume) a building generation with a hand-off time in the manifest; from the hand-off on, the live
 *    consumer writes every record into it too;
 * 2. once Firehose has archived everything below the hand-off, the engine computes the items of the distinct
 *    records below it and exports them (the machinery of rebuilds, DESIGN.md §6), and they are written in chunks
 *    with the same idempotent protocol, progress saved after each chunk;
 * 3. flip the manifest to the new generation with a conditional write, and give the old generation a TTL.
 * Every step is safe to repeat, so a replay that was stopped anywhere (or paused at its deadline) is finished by
 * running it again.
 */
export function createReplayJob(dependencies: ReplayJobDependencies) {
  const { config, directory, logger } = dependencies;
  const now = dependencies.now ?? Date.now;
  const sleep = dependencies.sleep ?? abortableSleep;
  const expire =
    dependencies.expireGeneration ??
    ((view: string, generation: number, expiresAtMs: number) =>
      expireGeneration(
        { client: dependencies.dynamodb, tableName: dependencies.realtimeTable },
        view,
        generation,
        expiresAtMs,
      ));

  return async function replay(viewName: string, options: ReplayRunOptions = {}): Promise<ReplaySummary> {
    const view = findView(config.views, viewName);
    if (view === undefined) {
      throw new ReplayError(
        `view: unknown view ${JSON.stringify(viewName)} (known: ${config.views.map((v) => v.name).join(', ')})`,
      );
    }
    const report = (progress: ReplayProgress) => {
      logger.info('replay progress', { ...progress });
      options.onProgress?.(progress);
    };

    let state = await directory.read(view.name);
    if (state.building === null && state.expiring !== null) {
      // The last replay flipped but stopped before its old generation had a TTL: finishing that is the resume.
      const expired = await expireOld(view.name, state.expiring);
      report({ view: view.name, phase: 'expired', generation: state.served, handoffMs: state.servedFromMs ?? 0 });
      return {
        view: view.name,
        from: state.expiring,
        to: state.served,
        handoffMs: state.servedFromMs ?? 0,
        done: true,
        bytesScanned: 0,
        backfilledItems: 0,
        itemsAlreadyWritten: 0,
        oldGenerationItemsExpired: expired,
      };
    }
    let resumed = state.building !== null;
    if (state.building === null) {
      const startedAt = now();
      const building: BuildingGeneration = {
        generation: state.served + 1,
        handoffMs: handoffTime(startedAt, directory.cacheMs),
        startedAt,
        backfilledItems: null,
      };
      if (!(await directory.startReplay(state, building))) resumed = true;
      state = await directory.read(view.name);
    }
    const building = state.building;
    if (building === null) throw new ReplayError(`${view.name}: another replay finished while this one started`);
    const from = state.served;
    const to = building.generation;
    report({ view: view.name, phase: resumed ? 'resumed' : 'started', generation: to, handoffMs: building.handoffMs });

    let backfill = { bytesScanned: 0, items: building.backfilledItems ?? 0, alreadyWritten: 0 };
    const summary = (done: boolean, oldGenerationItemsExpired: number): ReplaySummary => ({
      view: view.name,
      done,
      from,
      to,
      handoffMs: building.handoffMs,
      bytesScanned: backfill.bytesScanned,
      backfilledItems: backfill.items,
      itemsAlreadyWritten: backfill.alreadyWritten,
      oldGenerationItemsExpired,
    });
    /** The summary of an invocation that stops before the flip (its deadline): run again to go on. */
    const paused = () => summary(false, 0);
    if (building.backfilledItems === null) {
      const readyAt = archiveCompleteAt(building, config.bufferIntervalMs, config.safetyMarginMs);
      if (now() < readyAt) {
        report({ view: view.name, phase: 'waiting-for-archive', generation: to, handoffMs: building.handoffMs });
        if (options.deadlineMs !== undefined && readyAt > options.deadlineMs) {
          return paused();
        }
        await sleep(readyAt - now(), options.signal);
      }
      await archivedThrough(building.handoffMs, options.signal);
      options.signal?.throwIfAborted();
      const written = await backfillGeneration(view, building, options, report);
      backfill = written;
      if (!written.done) {
        // Asked to stop (Ctrl-C, a test): that is an error to the caller; a deadline is a pause.
        options.signal?.throwIfAborted();
        report({
          view: view.name,
          phase: 'paused',
          generation: to,
          handoffMs: building.handoffMs,
          itemsWritten: written.items,
        });
        return paused();
      }
      if (!(await directory.markBackfilled(view.name, to, backfill.items))) {
        throw new ReplayError(`${view.name}: generation ${to} is no longer the one being built`);
      }
    }

    options.signal?.throwIfAborted();
    // The backfill holds everything below the hand-off and the consumer everything from it: caught up, so flip.
    if (!(await directory.flip(view.name, from, to))) {
      const current = await directory.read(view.name);
      if (current.served !== to) throw new ReplayError(`${view.name}: the flip to generation ${to} was refused`);
    }
    report({ view: view.name, phase: 'flipped', generation: to, handoffMs: building.handoffMs });

    const expired = await expireOld(view.name, from);
    report({ view: view.name, phase: 'expired', generation: to, handoffMs: building.handoffMs });
    return summary(true, expired);
  };

  /** Gives the unserved generation's items their TTL, then clears it from the manifest. */
  async function archivedThrough(handoffMs: number, signal: AbortSignal | undefined): Promise<void> {
    const archived = dependencies.archivedThroughMs;
    if (archived === undefined) return;
    for (let through = await archived(); through === undefined || through < handoffMs; through = await archived()) {
      signal?.throwIfAborted();
      await sleep(ARCHIVE_POLL_MS, signal);
    }
  }

  async function expireOld(view: string, generation: number): Promise<number> {
    const expiresAtMs = now() + (dependencies.oldGenerationGraceMs ?? 600_000);
    const expired = await expire(view, generation, expiresAtMs);
    await directory.markExpired(view, generation);
    return expired;
  }

  /**
   * The backfill: the engine computes the view's items (per key, bucket and arrival epoch) of the distinct valid
   * records that arrived before the hand-off, within the view's retention, and exports them as files; the items are
   * written chunk by chunk, with progress saved in the manifest after each, under the replay's own watermark, so a
   * chunk written twice is applied once. Nothing of the archive is held in memory.
   */
  async function backfillGeneration(
    view: ViewDefinition,
    building: BuildingGeneration,
    options: ReplayRunOptions,
    report: (progress: ReplayProgress) => void,
  ): Promise<{ done: boolean; bytesScanned: number; items: number; alreadyWritten: number }> {
    const progress = { view: view.name, generation: building.generation, handoffMs: building.handoffMs };
    let bytesScanned = 0;
    let result = building.backfill ?? null;
    if (result === null) {
      const computed = await computeBackfill(view, building);
      bytesScanned = computed.bytesScanned;
      if (!(await directory.recordBackfillResult(view.name, building.generation, computed))) {
        // Another invocation recorded its result first: write that one (the same items).
        result = (await directory.read(view.name)).building?.backfill ?? null;
        if (result === null)
          throw new ReplayError(`${view.name}: generation ${building.generation} is no longer the one being built`);
      } else {
        result = { ...computed, filesDone: 0, linesDone: 0, items: 0 };
      }
      report({ ...progress, phase: 'computed', itemsWritten: 0 });
    }
    const files = await listKeys(dependencies.work.s3, dependencies.work.bucket, result.prefix);
    if (files.length !== result.files) {
      throw new ReplayError(
        `${view.name}: the backfill computed ${result.files} files under ${result.prefix}, ${files.length} are there`,
      );
    }
    const store = new RealtimeViewStore({
      client: dependencies.dynamodb,
      tableName: dependencies.realtimeTable,
      epochLengthMs: config.epochLengthMs,
      // Kappa's views never expire; in Lambda mode the backfilled old epochs must last until a batch run covers them.
      realtimeRetentionMs: config.architecture === 'kappa' ? null : config.realtimeRetentionMs,
      notExpiringBeforeMs: now() + config.realtimeRetentionMs,
    });
    let alreadyWritten = 0;
    const written = await writeResult({
      s3: dependencies.work.s3,
      bucket: dependencies.work.bucket,
      files,
      from: { filesDone: result.filesDone, linesDone: result.linesDone, written: result.items },
      chunkRows: dependencies.progressEvery ?? 1000,
      shouldStop: () =>
        options.signal?.aborted === true || (options.deadlineMs !== undefined && now() >= options.deadlineMs),
      write: async (rows) => {
        await dependencies.keyDirectory?.recordSightings(view.name, batchRowSightings(view, rows));
        await mapConcurrently(rows, dependencies.concurrency ?? 16, async (row) => {
          const aggregate = batchRowToAggregate(view, row);
          const outcome = await store.write({
            key: {
              view: view.name,
              dimensionKey: aggregate.dimensionKey,
              bucket: aggregate.bucket,
              epoch: Number(row[BATCH_RESULT_COLUMNS.epoch]),
            },
            stored: view.stored,
            shardId: REPLAY_WRITER,
            batchFirstPosition: REPLAY_POSITION,
            contributions: [{ position: REPLAY_POSITION, measures: aggregate.measures }],
            generation: building.generation,
          });
          if (outcome.status === 'failed') throw outcome.error;
          if (outcome.status === 'already-applied') alreadyWritten += 1;
        });
        return rows.length;
      },
      save: async (saved) => {
        const ok = await directory.saveBackfillProgress(view.name, building.generation, {
          filesDone: saved.filesDone,
          linesDone: saved.linesDone,
          items: saved.written,
        });
        if (!ok)
          throw new ReplayError(`${view.name}: generation ${building.generation} is no longer the one being built`);
        report({ ...progress, phase: 'backfilling', itemsWritten: saved.written });
      },
    });
    return { done: written.done, bytesScanned, items: written.progress.written, alreadyWritten };
  }

  async function computeBackfill(view: ViewDefinition, building: BuildingGeneration) {
    const scope = archiveScope(view, config, building.handoffMs, now());
    const engine = typeof dependencies.engine === 'function' ? await dependencies.engine() : dependencies.engine;
    const session = await engine.open(scope.session);
    const prefix = `${dependencies.work.prefix ?? 'replays/'}${view.name}/${building.generation}-${building.startedAt}/${now()}/`;
    try {
      const exported = await session.exportTo(
        batchViewSql(view, {
          source: session.source,
          dialect: session.dialect,
          eventTimeSkewMs: config.eventTimeSkewMs,
          dedupHorizonMs: config.dedupHorizonMs,
          epochLengthMs: config.epochLengthMs,
          ...scope.sql,
        }),
        { bucket: dependencies.work.bucket, prefix },
      );
      return { prefix, files: exported.files.length, bytesScanned: exported.bytesScanned };
    } finally {
      await session.close().catch((error: unknown) => {
        logger.warn('replay engine did not close cleanly', { error: describeError(error) });
      });
    }
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
