import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { mapConcurrently } from '../adapters/concurrent-map';
import { readMasterDatasetRecords } from '../adapters/master-dataset-records';
import { expireGeneration } from '../adapters/realtime-generation-expiry';
import { RealtimeViewStore } from '../adapters/realtime-view-store';
import type { HandlerLogger } from '../adapters/telemetry';
import { distinctRecords } from '../core/distinct-records';
import {
  archiveCompleteAt,
  handedOff,
  handoffTime,
  type BuildingGeneration,
  type GenerationState,
} from '../core/generation-manifest';
import { EMPTY_MEASURES, mergeMeasures } from '../core/measures';
import type { PipelineConfig } from '../core/pipeline-config';
import { recordPosition } from '../core/sequence-position';
import { findView, type ViewDefinition } from '../core/view-declaration';
import { touchedItems } from '../speed/touched-items';

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
  markBackfilled(view: string, generation: number, items: number): Promise<boolean>;
  flip(view: string, from: number, to: number): Promise<boolean>;
  markExpired(view: string, generation: number): Promise<boolean>;
}

export type ReplayPhase = 'started' | 'resumed' | 'waiting-for-archive' | 'backfilling' | 'flipped' | 'expired';

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
  readonly from: number;
  readonly to: number;
  readonly handoffMs: number;
  /** Distinct valid records of the master dataset that arrived before the hand-off. */
  readonly backfilledRecords: number;
  readonly backfilledItems: number;
  /** Items a previous, interrupted attempt had already written. */
  readonly itemsAlreadyWritten: number;
  readonly oldGenerationItemsExpired: number;
}

export interface ReplayJobDependencies {
  readonly config: PipelineConfig;
  readonly directory: ReplayDirectory;
  readonly dynamodb: DynamoDBClient;
  readonly realtimeTable: string;
  readonly s3: S3Client;
  /** Where the master dataset lies; objects under `errorPrefix` (rejected records) are never read. */
  readonly masterDataset: { readonly bucket: string; readonly prefix: string; readonly errorPrefix: string };
  /** Gives the unserved generation's items a TTL. @default expireGeneration (realtime-generation-expiry.ts) */
  readonly expireGeneration?: (view: string, generation: number, expiresAtMs: number) => Promise<number>;
  readonly logger: HandlerLogger;
  /** How long the old generation stays after the flip, for requests and consumers still holding it. @default 10 min */
  readonly oldGenerationGraceMs?: number;
  /** DynamoDB writes in flight. @default 16 */
  readonly concurrency?: number;
  /** A progress report every this many backfilled items. @default 1000 */
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
  readonly onProgress?: (progress: ReplayProgress) => void;
}

export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayError';
  }
}

/**
 * Rebuilds one view into a new realtime generation from the complete history, then serves it (DESIGN.md Kappa
 * mode; the same replay adds a view in Lambda mode without waiting for a batch run):
 * 1. start (or resume) a building generation with a hand-off time in the manifest; from the hand-off on, the live
 *    consumer writes every record into it too;
 * 2. once Firehose has archived everything below the hand-off, fold the master dataset's distinct records below it
 *    with the same fold and write them with the same idempotent protocol;
 * 3. flip the manifest to the new generation with a conditional write, and give the old generation a TTL.
 * Every step is safe to repeat, so a replay that was stopped anywhere is finished by running it again.
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
        backfilledRecords: 0,
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

    let backfill = { records: 0, items: building.backfilledItems ?? 0, alreadyWritten: 0 };
    if (building.backfilledItems === null) {
      const readyAt = archiveCompleteAt(building, config.bufferIntervalMs, config.safetyMarginMs);
      if (now() < readyAt) {
        report({ view: view.name, phase: 'waiting-for-archive', generation: to, handoffMs: building.handoffMs });
        await sleep(readyAt - now(), options.signal);
      }
      await archivedThrough(building.handoffMs, options.signal);
      options.signal?.throwIfAborted();
      backfill = await backfillGeneration(view, building, options, report);
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
    return {
      view: view.name,
      from,
      to,
      handoffMs: building.handoffMs,
      backfilledRecords: backfill.records,
      backfilledItems: backfill.items,
      itemsAlreadyWritten: backfill.alreadyWritten,
      oldGenerationItemsExpired: expired,
    };
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

  async function backfillGeneration(
    view: ViewDefinition,
    building: BuildingGeneration,
    options: ReplayRunOptions,
    report: (progress: ReplayProgress) => void,
  ): Promise<{ records: number; items: number; alreadyWritten: number }> {
    const archive = await readMasterDatasetRecords(
      { s3: dependencies.s3, ...dependencies.masterDataset, eventTimeSkewMs: config.eventTimeSkewMs },
      (record) => !handedOff(building, record.arrivalMs),
    );
    if (archive.invalidLines.size > 0) {
      logger.warn('master dataset lines that are not valid records were skipped', {
        linesByReason: Object.fromEntries(archive.invalidLines),
      });
    }
    const records = distinctRecords(archive.records, view.dedupeByEventId);
    const items = touchedItems(records, [view], config.epochLengthMs);
    const store = new RealtimeViewStore({
      client: dependencies.dynamodb,
      tableName: dependencies.realtimeTable,
      epochLengthMs: config.epochLengthMs,
      // Kappa's views never expire; in Lambda mode the backfilled old epochs must last until a batch run covers them.
      realtimeRetentionMs: config.architecture === 'kappa' ? null : config.realtimeRetentionMs,
      notExpiringBeforeMs: now() + config.realtimeRetentionMs,
    });
    const progress = { view: view.name, generation: building.generation, handoffMs: building.handoffMs };
    report({ ...progress, phase: 'backfilling', itemsWritten: 0, itemsTotal: items.length });
    let done = 0;
    let alreadyWritten = 0;
    await mapConcurrently(items, dependencies.concurrency ?? 16, async (item) => {
      options.signal?.throwIfAborted();
      const measures = item.contributions.reduce((sum, part) => mergeMeasures(sum, part.measures), EMPTY_MEASURES);
      const result = await store.write({
        key: item.key,
        measures: view.measures,
        shardId: REPLAY_WRITER,
        batchFirstPosition: REPLAY_POSITION,
        contributions: [{ position: REPLAY_POSITION, measures }],
        generation: building.generation,
      });
      if (result.status === 'failed') throw result.error;
      if (result.status === 'already-applied') alreadyWritten += 1;
      done += 1;
      if (done % (dependencies.progressEvery ?? 1000) === 0)
        report({ ...progress, phase: 'backfilling', itemsWritten: done, itemsTotal: items.length });
    });
    report({ ...progress, phase: 'backfilling', itemsWritten: done, itemsTotal: items.length });
    return { records: records.length, items: items.length, alreadyWritten };
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
