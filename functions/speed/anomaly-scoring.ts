import type { AnomalyNotifier } from '../adapters/anomaly-notifier';
import type { AnomalyStore } from '../adapters/anomaly-store';
import { hasBaseline, type BaselineReader, type BaselineView } from '../adapters/baseline-reader';
import { mapConcurrently } from '../adapters/concurrent-map';
import { anomalyOf, type Anomaly } from '../core/anomaly';
import { dimensionKeyOf } from '../core/dimension-key';
import { eventTimeOf } from '../core/event-schema';
import { positionOf, type StreamRecord } from '../core/stream-record';
import type { ViewDefinition } from '../core/view-declaration';
import { matchesFilter } from '../core/view-filter';
import { BaselineCache } from './baseline-cache';
import { isRetryableError } from '../adapters/retry-policy';

/**
 * An error that is the stored data's, not the service's or the network's: the service answered (no SDK error, no
 * retryable failure), and what it returned did not decode.
 */
function isStoredDataError(error: unknown): boolean {
  if (isRetryableError(error)) return false;
  return !(typeof error === 'object' && error !== null && '$metadata' in error);
}

/** What the speed layer scores readings with (DESIGN.md §12); absent, it scores nothing. */
export interface AnomalyScoringDependencies {
  /** Reads a key's served baseline (batch ⊕ realtime); read through the consumer's cache. */
  readonly baselines: Pick<BaselineReader, 'windowReadings'>;
  readonly store: Pick<AnomalyStore, 'record' | 'markNotified'>;
  readonly notifier: AnomalyNotifier;
  /** How long a baseline read serves later readings of its key and bucket. @default 60_000 */
  readonly maxStalenessMs?: number;
  /** Baselines kept per container. @default 10_000 */
  readonly cacheCapacity?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface AnomalyScorerOptions extends AnomalyScoringDependencies {
  readonly views: readonly ViewDefinition[];
  /** Baseline reads and store requests in flight per batch. @default 16 */
  readonly concurrency?: number;
}

/** Where scoring a reading stopped: reading its baseline, storing its anomaly, publishing it, or marking it. */
export type ScoringStage = 'baseline' | 'record' | 'publish' | 'markNotified';

/** A reading whose scoring could not finish: the batch reports a failure at or below it, so it is redelivered. */
export interface ScoringFailure {
  readonly record: StreamRecord;
  readonly view: string;
  readonly stage: ScoringStage;
  readonly error: unknown;
}

/** What scoring a batch's readings did. Counts are of (reading, view) pairs. */
export interface ScoringOutcome {
  /** Readings scored against a ready baseline. */
  readonly scored: number;
  /** Readings not scored: their key and slot have too little history, or none that varies (cold). */
  readonly notScored: number;
  /** Anomalies stored now or found stored but not yet published: those published in this delivery. */
  readonly anomaliesRecorded: number;
  /** Anomalies found stored and published by an earlier delivery: not published again. */
  readonly anomaliesAlreadyNotified: number;
  /** Baselines read from the tables (cache misses). */
  readonly baselineReads: number;
  readonly failures: readonly ScoringFailure[];
  /**
   * Readings whose baseline could be read but not decoded (a stored item no layer can read as the view declares it):
   * counted as not scored and logged, never redelivered, since every redelivery would fail the same way.
   */
  readonly unscorable: readonly ScoringFailure[];
  /** The lowest position among the failures' records; undefined when every reading was scored. */
  readonly lowestFailed: string | undefined;
}

export interface AnomalyScorer {
  /** The views it scores for: those that declare a baseline. */
  readonly views: readonly BaselineView[];
  score(records: readonly StreamRecord[]): Promise<ScoringOutcome>;
}

/**
 * Scores each reading of the batch once per view that declares a baseline and takes it (the view's filter): its
 * z-score against the served baseline of its key and slot, read through the cache. Anomalies are stored
 * (idempotently), then published, then marked notified, view by view; a reading whose baseline read, store write,
 * publication or mark failed is a failure, and every other reading is done. A redelivery scores again: the same
 * reading is the same anomaly, found stored, and published only if its publication had not finished.
 */
export function createAnomalyScorer(options: AnomalyScorerOptions): AnomalyScorer {
  const views = options.views.filter(hasBaseline);
  const concurrency = options.concurrency ?? 16;
  const cache = new BaselineCache({
    baselines: options.baselines,
    maxStalenessMs: options.maxStalenessMs,
    capacity: options.cacheCapacity,
    now: options.now,
  });

  async function score(records: readonly StreamRecord[]): Promise<ScoringOutcome> {
    const readings = views.flatMap((view) =>
      records.filter((record) => matchesFilter(view, record.event)).map((record) => ({ view, record })),
    );
    let baselineReads = 0;
    const scores = await mapConcurrently(readings, concurrency, async ({ view, record }) => {
      try {
        const eventTimeMs = eventTimeOf(view.schema, record.event);
        const lookup = cache.lookup(view, dimensionKeyOf(view, record.event), eventTimeMs);
        if (lookup.read) baselineReads += 1;
        const baseline = await lookup.baseline;
        if (baseline.status !== 'ready') return { cold: true as const };
        return { cold: false as const, anomaly: anomalyOf(view, record, baseline) };
      } catch (error) {
        return { error };
      }
    });

    const failures: ScoringFailure[] = [];
    const unscorable: ScoringFailure[] = [];
    let scored = 0;
    let notScored = 0;
    const anomaliesPerView = new Map<BaselineView, { anomaly: Anomaly; record: StreamRecord }[]>();
    scores.forEach((result, index) => {
      const { view, record } = readings[index];
      if ('error' in result && isStoredDataError(result.error)) {
        // Redelivering would fail the same way for ever and stop the shard (DESIGN.md §4): not scored, and said.
        notScored += 1;
        unscorable.push({ record, view: view.name, stage: 'baseline', error: result.error });
      } else if ('error' in result) {
        failures.push({ record, view: view.name, stage: 'baseline', error: result.error });
      } else if (result.cold) {
        notScored += 1;
      } else {
        scored += 1;
        if (result.anomaly === undefined) return;
        const found = anomaliesPerView.get(view) ?? [];
        found.push({ anomaly: result.anomaly, record });
        anomaliesPerView.set(view, found);
      }
    });

    let anomaliesRecorded = 0;
    let anomaliesAlreadyNotified = 0;
    await Promise.all(
      [...anomaliesPerView].map(async ([view, found]) => {
        const recordsOf = new Map<string, StreamRecord[]>();
        for (const { anomaly, record } of found) {
          recordsOf.set(anomaly.id, [...(recordsOf.get(anomaly.id) ?? []), record]);
        }
        const fail = (stage: ScoringStage, anomalies: readonly Anomaly[], error: unknown) => {
          for (const record of anomalies.flatMap((anomaly) => recordsOf.get(anomaly.id) ?? [])) {
            failures.push({ record, view: view.name, stage, error });
          }
        };
        // A reading delivered twice in one batch (a producer's retry of an event) is the same anomaly: stored once.
        const anomalies = [...new Map(found.map(({ anomaly }) => [anomaly.id, anomaly])).values()];
        let stage: ScoringStage = 'record';
        let toPublish: Anomaly[] = [];
        try {
          toPublish = await options.store.record(view, anomalies);
          anomaliesRecorded += toPublish.length;
          anomaliesAlreadyNotified += anomalies.length - toPublish.length;
          if (toPublish.length === 0) return;
          stage = 'publish';
          await options.notifier.publish(view, toPublish);
          stage = 'markNotified';
          await options.store.markNotified(toPublish);
        } catch (error) {
          fail(stage, stage === 'record' ? anomalies : toPublish, error);
        }
      }),
    );

    const lowestFailed = failures
      .map(({ record }) => positionOf(record))
      .reduce<string | undefined>(
        (lowest, position) => (lowest === undefined || position < lowest ? position : lowest),
        undefined,
      );
    return {
      scored,
      notScored,
      anomaliesRecorded,
      anomaliesAlreadyNotified,
      baselineReads,
      failures,
      unscorable,
      lowestFailed,
    };
  }

  return { views, score };
}
