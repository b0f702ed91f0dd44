import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { EventDedupStore } from '../adapters/event-dedup-store';
import type { KeyDirectoryStore } from '../adapters/key-directory-store';
import type { CountMetrics, HandlerLogger } from '../adapters/telemetry';
import { isRefusedItemError, RealtimeViewStore, type RealtimeWriteResult } from '../adapters/realtime-view-store';
import type { RealtimeItemHintLimits } from '../adapters/realtime-item-hint';
import { FIRST_GENERATION_ONLY, generationsOf, type GenerationSource } from '../core/generation-manifest';
import type { RetryPolicy } from '../adapters/retry-policy';
import type { SetAsideRecord, SetAsideStore } from '../adapters/set-aside-store';
import type { PipelineConfig } from '../core/pipeline-config';
import { sequenceNumberOf } from '../core/sequence-position';
import { positionOf, type StreamRecord } from '../core/stream-record';
import { mapConcurrently } from '../adapters/concurrent-map';
import { describeError } from '../core/error-description';
import { claimEvents, type EventClaims } from './event-claims';
import { eventIdOf } from '../core/event-schema';
import type { KeySighting } from '../core/key-directory';
import { decodeKinesisRecord, positionOfLambdaRecord, type RejectedRecord } from './kinesis-record-decoder';
import {
  createAnomalyScorer,
  type AnomalyScoringDependencies,
  type ScoringFailure,
  type ScoringOutcome,
} from './anomaly-scoring';
import { lowestPositionOf, touchedItems, type TouchedItem } from './touched-items';

/** The speed layer's metrics (service 'speed'); the monitoring construct alarms on these names. */
export const SPEED_METRICS = {
  recordsReceived: 'RecordsReceived',
  recordsRejected: 'RecordsRejected',
  itemsWritten: 'ItemsWritten',
  itemWriteFailures: 'ItemWriteFailures',
  recordsSetAside: 'RecordsSetAside',
  conditionalRetries: 'ConditionalRetries',
  /** Writes to the key directory: one per key new to the directory, none in steady state (DESIGN.md §10). */
  directoryWrites: 'DirectoryWrites',
  /** Readings scored against a ready baseline (DESIGN.md §12), per view that declares one. */
  readingsScored: 'ReadingsScored',
  /** Readings not scored: their key and slot have too little history (cold). */
  readingsNotScored: 'ReadingsNotScored',
  /**
   * Anomalies stored by this delivery (or found stored by an earlier one that did not publish them), then
   * published; the monitoring construct alarms on any.
   */
  anomaliesRecorded: 'AnomaliesRecorded',
  /** Baselines read from the tables (the consumer's cache missed): the read cost of scoring. */
  baselineReads: 'BaselineReads',
  /** Readings whose scoring could not finish (baseline read, anomaly write or publication): redelivered. */
  scoringFailures: 'ScoringFailures',
} as const;

export type SpeedMetrics = CountMetrics;
export type SpeedLogger = HandlerLogger;

export interface SpeedHandlerDependencies {
  readonly config: PipelineConfig;
  /** Built with maxAttempts 1: the stores' retry policy is the only one (see retry-policy.ts). */
  readonly dynamodb: DynamoDBClient;
  readonly realtimeTable: string;
  /** Required when a view de-duplicates by eventId. */
  readonly dedupTable?: string;
  readonly logger: SpeedLogger;
  readonly metrics: SpeedMetrics;
  /** DynamoDB requests in flight per batch. @default 16 */
  readonly concurrency?: number;
  /**
   * Which generation of each view is served and which a replay is building (generation-directory.ts).
   * @default every view served in generation 1, none building
   */
  readonly generations?: GenerationSource;
  /**
   * Where records go whose items can never be written (isRefusedItemError: the realtime table refuses the item's
   * content, a limit nobody foresaw, or the stored item cannot be read back), so that their neighbours are applied
   * and the shard moves on. @default none: such an item fails the batch like any failure
   */
  readonly setAside?: SetAsideStore;
  /** @default DEFAULT_RETRY_POLICY */
  readonly retry?: Partial<RetryPolicy>;
  /** What each container remembers of the items it writes (realtime-item-hint.ts). @default DEFAULT_ITEM_HINT_LIMITS */
  readonly itemHint?: Partial<RealtimeItemHintLimits>;
  /**
   * The key directory (DESIGN.md §10): a batch records its new keys there before it writes their realtime items,
   * so that every key holding data is listed. @default none: keys are not listed (tests that do not look)
   */
  readonly keyDirectory?: Pick<KeyDirectoryStore, 'recordNewKeys'>;
  /**
   * Anomaly scoring (DESIGN.md §12): each reading of a view that declares a baseline is scored against the served
   * baseline of its key and slot, after the realtime writes; anomalies are stored and published. @default none:
   * nothing is scored
   */
  readonly anomalies?: AnomalyScoringDependencies;
}

export type SpeedHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;

/** A realtime item the batch touches, in one generation of its view. */
type GenerationItem = TouchedItem & { readonly generation: number };

/** Failed items logged one by one per batch; the rest are counted in the summary line. */
const LOGGED_FAILURES = 5;

/**
 * The Kinesis consumer of the speed layer: decode → claim eventIds (if a view asks) → fold per realtime item →
 * one conditional write per item → score readings against their baselines (if a view declares one) → report. A
 * batch is one shard's records in order (parallelization factor 1).
 *
 * Reporting: if any item was not written, or any reading's scoring did not finish, the batch reports one failure,
 * at the lowest position that went into any failed item or failed reading. Every item's records below it are then
 * applied and scored, so the event source mapping may checkpoint there; records from it on are redelivered, the
 * watermarks skip what was already applied, and anomalies already stored and published are not published again.
 */
export function createSpeedHandler(dependencies: SpeedHandlerDependencies): SpeedHandler {
  const { config, logger, metrics } = dependencies;
  const concurrency = dependencies.concurrency ?? 16;
  const deduplicating = config.views.filter((view) => view.dedupeByEventId).map((view) => view.name);
  if (deduplicating.length > 0 && dependencies.dedupTable === undefined) {
    throw new Error(`eventId de-duplication (views ${deduplicating.join(', ')}) needs DEDUP_TABLE`);
  }
  const realtime = new RealtimeViewStore({
    client: dependencies.dynamodb,
    tableName: dependencies.realtimeTable,
    epochLengthMs: config.epochLengthMs,
    // Kappa mode has no batch views: its realtime views are the whole answer and must never expire.
    realtimeRetentionMs: config.architecture === 'kappa' ? null : config.realtimeRetentionMs,
    retry: dependencies.retry,
    itemHint: dependencies.itemHint,
  });
  const generations = dependencies.generations ?? FIRST_GENERATION_ONLY;
  const dedup =
    deduplicating.length > 0 && dependencies.dedupTable !== undefined
      ? new EventDedupStore({
          client: dependencies.dynamodb,
          tableName: dependencies.dedupTable,
          retry: dependencies.retry,
        })
      : undefined;

  const scorer =
    dependencies.anomalies === undefined
      ? undefined
      : createAnomalyScorer({ ...dependencies.anomalies, views: config.views, concurrency });

  const count = (name: string, value: number) => metrics.addMetric(name, MetricUnit.Count, value);

  async function processBatch(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
    const received = event.Records;
    count(SPEED_METRICS.recordsReceived, received.length);
    if (received.length === 0) return { batchItemFailures: [] };

    const records: StreamRecord[] = [];
    const rejected: RejectedRecord[] = [];
    for (const decoded of received.map((record) =>
      decodeKinesisRecord(record, config.eventTimeSkewMs, config.schema),
    )) {
      if (decoded.ok) records.push(decoded.record);
      else rejected.push(decoded);
    }
    for (const { shardId, sequenceNumber, reason } of rejected) {
      logger.warn('record rejected: skipped, not retried', { shardId, sequenceNumber, reason });
    }
    count(SPEED_METRICS.recordsRejected, rejected.length);

    const shardIds = new Set([...records, ...rejected].map((record) => record.shardId));
    if (shardIds.size > 1) {
      throw new Error(`a Kinesis batch must come from one shard; this one mixes ${[...shardIds].join(', ')}`);
    }
    const [shardId] = shardIds;
    // The first position of the batch, poison records included: the first attempt's condition (DESIGN.md §4).
    const batchFirstPosition = received.map(positionOfLambdaRecord).reduce((a, b) => (a < b ? a : b));

    const claims: EventClaims | undefined =
      dedup === undefined
        ? undefined
        : await claimEvents(records, {
            views: config.views,
            epochLengthMs: config.epochLengthMs,
            realtimeRetentionMs: config.realtimeRetentionMs,
            dedupHorizonMs: config.dedupHorizonMs,
            store: dedup,
            concurrency,
          });
    for (const { record, error } of claims?.failures ?? []) {
      logger.error('eventId claim failed: its items are not written in this delivery', {
        shardId,
        sequenceNumber: record.sequenceNumber,
        eventId: eventIdOf(config.schema, record.event),
        error: describeError(error),
      });
    }

    const items = await itemsPerGeneration(records, claims);
    const directory = await recordNewKeys(items, records);
    const results = await mapConcurrently(items, concurrency, (item): Promise<RealtimeWriteResult> => {
      if (item.undecided.length > 0) {
        const error = new Error('an eventId claim of one of its records failed');
        return Promise.resolve({ status: 'failed', conditionalRetries: 0, error });
      }
      const unlisted = directory.failures.get(item.view.name);
      if (unlisted !== undefined) {
        // Written now, the item would hold data of a key nobody can list: it waits for the redelivery.
        const error = new Error(`key directory: ${describeError(unlisted)}`);
        return Promise.resolve({ status: 'failed', conditionalRetries: 0, error });
      }
      return realtime.write({
        key: item.key,
        stored: item.view.stored,
        shardId,
        batchFirstPosition,
        contributions: item.contributions,
        generation: item.generation,
      });
    });

    let lowestFailed: string | undefined;
    let failed = 0;
    let written = 0;
    let conditionalRetries = 0;
    const failItem = (item: GenerationItem, error: unknown) => {
      failed += 1;
      const lowest = lowestPositionOf(item);
      if (lowestFailed === undefined || lowest < lowestFailed) lowestFailed = lowest;
      if (failed <= LOGGED_FAILURES) logFailedItem(item, lowest, error);
    };
    const refused: { item: GenerationItem; error: unknown }[] = [];
    results.forEach((result, index) => {
      conditionalRetries += result.conditionalRetries;
      if (result.status === 'written') written += 1;
      if (result.status !== 'failed') return;
      if (dependencies.setAside !== undefined && isRefusedItemError(result.error)) {
        refused.push({ item: items[index], error: result.error });
      } else {
        failItem(items[index], result.error);
      }
    });
    // When every item of the batch is refused, the fault is the table's, not the records': the batch fails and is
    // retried (bisected in AWS, down to single records, which are then set aside one by one).
    const systemic = items.length > 1 && refused.length === items.length;
    const setAside = systemic ? undefined : await setAsideRefused(refused, records);
    if (setAside === undefined) for (const { item, error } of refused) failItem(item, error);
    // Records from the lowest failed one on are redelivered, and scored then: only those below it are scored now.
    const realtimeFailedAt = lowestFailed;
    const scoring =
      scorer === undefined
        ? undefined
        : await scorer.score(
            realtimeFailedAt === undefined
              ? records
              : records.filter((record) => positionOf(record) < realtimeFailedAt),
          );
    if (scoring?.lowestFailed !== undefined && (lowestFailed === undefined || scoring.lowestFailed < lowestFailed)) {
      lowestFailed = scoring.lowestFailed;
    }
    scoring?.failures.slice(0, LOGGED_FAILURES).forEach(logScoringFailure);
    for (const { record, view, error } of scoring?.unscorable.slice(0, LOGGED_FAILURES) ?? []) {
      logger.error('reading not scored: its baseline does not decode; not retried', {
        view,
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        error: describeError(error),
      });
    }
    count(SPEED_METRICS.itemsWritten, written);
    count(SPEED_METRICS.itemWriteFailures, failed);
    count(SPEED_METRICS.recordsSetAside, setAside?.records ?? 0);
    count(SPEED_METRICS.conditionalRetries, conditionalRetries);
    count(SPEED_METRICS.directoryWrites, directory.writes);
    if (scoring !== undefined) countScoring(scoring);
    logger.info('batch folded', {
      shardId,
      records: received.length,
      rejected: rejected.length,
      eventClaims: claims?.writes ?? 0,
      directoryWrites: directory.writes,
      items: items.length,
      itemsWritten: written,
      itemsAlreadyApplied: items.length - written - failed - (setAside === undefined ? 0 : refused.length),
      itemWriteFailures: failed,
      recordsSetAside: setAside?.records ?? 0,
      conditionalRetries,
      ...(scoring === undefined ? {} : scoringSummary(scoring)),
      ...(lowestFailed === undefined ? {} : { reportedFailureAt: sequenceNumberOf(lowestFailed) }),
    });
    return {
      batchItemFailures: lowestFailed === undefined ? [] : [{ itemIdentifier: sequenceNumberOf(lowestFailed) }],
    };
  }

  /**
   * Records the batch's keys in the key directory, per view, from the arrivals of the records in their items: the
   * directory writes only the keys it does not hold. A view whose keys could not be recorded is in `failures`, and
   * its items are not written in this delivery.
   */
  async function recordNewKeys(
    items: readonly GenerationItem[],
    records: readonly StreamRecord[],
  ): Promise<{ writes: number; failures: Map<string, unknown> }> {
    const keyDirectory = dependencies.keyDirectory;
    const failures = new Map<string, unknown>();
    if (keyDirectory === undefined) return { writes: 0, failures };
    const arrivalAt = new Map(records.map((record) => [positionOf(record), record.arrivalMs]));
    const sightings = new Map<string, KeySighting[]>();
    for (const item of items) {
      if (item.contributions.length === 0) continue;
      let firstMs = Infinity;
      let lastMs = -Infinity;
      for (const { position } of item.contributions) {
        const arrivalMs = arrivalAt.get(position) as number;
        firstMs = Math.min(firstMs, arrivalMs);
        lastMs = Math.max(lastMs, arrivalMs);
      }
      const perView = sightings.get(item.view.name) ?? [];
      perView.push({ dimensionKey: item.key.dimensionKey, firstMs, lastMs });
      sightings.set(item.view.name, perView);
    }
    const writes = await Promise.all(
      [...sightings].map(async ([view, seen]) => {
        try {
          return await keyDirectory.recordNewKeys(view, seen);
        } catch (error) {
          failures.set(view, error);
          logger.error("key directory not written: the view's items are not written in this delivery", {
            shardId: records[0]?.shardId,
            view,
            keys: seen.length,
            error: describeError(error),
          });
          return 0;
        }
      }),
    );
    return { writes: writes.reduce((total, value) => total + value, 0), failures };
  }

  /**
   * Keeps the records of items that can never be written (isRefusedItemError) in the set-aside store, so the batch
   * can go on without them. Undefined when there were none to keep or the store failed: the items then fail the
   * batch, and the redelivery tries again.
   */
  async function setAsideRefused(
    refused: readonly { item: GenerationItem; error: unknown }[],
    records: readonly StreamRecord[],
  ): Promise<{ key: string; records: number } | undefined> {
    if (refused.length === 0 || dependencies.setAside === undefined) return undefined;
    const byPosition = new Map(records.map((record) => [positionOf(record), record]));
    const kept: SetAsideRecord[] = refused.flatMap(({ item, error }) =>
      item.contributions.map(({ position }) => {
        const record = byPosition.get(position) as StreamRecord;
        return {
          shardId: record.shardId,
          sequenceNumber: record.sequenceNumber,
          arrivalMs: record.arrivalMs,
          view: item.key.view,
          generation: item.generation,
          dimensionKey: item.key.dimensionKey,
          bucket: item.key.bucket,
          epoch: item.key.epoch,
          reason: describeError(error),
          event: record.event,
        };
      }),
    );
    try {
      const key = await dependencies.setAside.put('speed', kept);
      logger.error('records set aside: their realtime items cannot be written; their neighbours were applied', {
        key,
        records: kept.length,
        reasons: [...new Set(kept.map((record) => record.reason))],
      });
      return { key, records: kept.length };
    } catch (error) {
      logger.error('records could not be set aside: their items fail the batch', { error: describeError(error) });
      return undefined;
    }
  }

  /**
   * The batch's items per view and generation: the served generation, and while a replay builds the next one, the
   * records that arrived from its hand-off on in that one too (generation-manifest.ts).
   */
  async function itemsPerGeneration(
    records: readonly StreamRecord[],
    claims: EventClaims | undefined,
  ): Promise<GenerationItem[]> {
    const states = await Promise.all(config.views.map((view) => generations.stateOf(view.name)));
    const items: GenerationItem[] = [];
    config.views.forEach((view, index) => {
      const byGeneration = new Map<number, StreamRecord[]>();
      for (const record of records) {
        for (const generation of generationsOf(states[index], record.arrivalMs)) {
          const written = byGeneration.get(generation);
          if (written === undefined) byGeneration.set(generation, [record]);
          else written.push(record);
        }
      }
      for (const [generation, written] of byGeneration) {
        for (const item of touchedItems(written, [view], config.epochLengthMs, claims?.claimOf)) {
          items.push({ ...item, generation });
        }
      }
    });
    return items;
  }

  function countScoring(scoring: ScoringOutcome) {
    count(SPEED_METRICS.readingsScored, scoring.scored);
    count(SPEED_METRICS.readingsNotScored, scoring.notScored);
    count(SPEED_METRICS.anomaliesRecorded, scoring.anomaliesRecorded);
    count(SPEED_METRICS.baselineReads, scoring.baselineReads);
    count(SPEED_METRICS.scoringFailures, scoring.failures.length);
  }

  function scoringSummary(scoring: ScoringOutcome) {
    return {
      readingsScored: scoring.scored,
      readingsNotScored: scoring.notScored,
      anomaliesRecorded: scoring.anomaliesRecorded,
      anomaliesAlreadyNotified: scoring.anomaliesAlreadyNotified,
      baselineReads: scoring.baselineReads,
      scoringFailures: scoring.failures.length,
    };
  }

  function logScoringFailure({ record, view, stage, error }: ScoringFailure) {
    logger.error('reading not scored to the end: the batch reports a failure at or below it', {
      view,
      stage,
      shardId: record.shardId,
      sequenceNumber: record.sequenceNumber,
      eventId: eventIdOf(config.schema, record.event),
      error: describeError(error),
    });
  }

  function logFailedItem(item: GenerationItem, lowest: string, error: unknown) {
    logger.error('realtime item not written: the batch reports a failure at or below its first record', {
      view: item.key.view,
      generation: item.generation,
      dimensionKey: item.key.dimensionKey,
      bucket: item.key.bucket,
      epoch: item.key.epoch,
      lowestSequenceNumber: sequenceNumberOf(lowest),
      error: describeError(error),
    });
  }

  return async (event) => {
    try {
      return await processBatch(event);
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
