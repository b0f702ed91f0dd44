import type { Granularity } from '../../functions/core/granularity';
import { presentMeasures, type Measures } from '../../functions/core/measures';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { bruteForceAnswer, type PresentedBucket } from '../support/brute-force';

/** The batch suites' default de-dup horizon (the pipeline's default, 60 minutes). */
const DEFAULT_DEDUP_HORIZON_MS = 60 * 60_000;

/** Whether copy `a` comes before copy `b`: by arrival, then shard, then sequence and subsequence number. */
function arrivesBefore(a: StreamRecord, b: StreamRecord): boolean {
  if (a.arrivalMs !== b.arrivalMs) return a.arrivalMs < b.arrivalMs;
  if (a.shardId !== b.shardId) return a.shardId < b.shardId;
  const [sa, sb] = [BigInt(a.sequenceNumber), BigInt(b.sequenceNumber)];
  if (sa !== sb) return sa < sb;
  return a.subSequenceNumber < b.subSequenceNumber;
}

/**
 * The records a view counts, the slow and obvious way (not the core's distinctRecords): each Kinesis record once
 * (by shard, sequence and subsequence number), and for a view that de-duplicates by eventId, a copy only if no
 * other copy of its eventId came before it and arrived at most `dedupHorizonMs` before it (DESIGN.md §4).
 */
export function countedRecords(
  definition: ViewDefinition,
  deliveries: readonly StreamRecord[],
  dedupHorizonMs: number,
): StreamRecord[] {
  const byIdentity = new Map<string, StreamRecord>();
  for (const record of deliveries) {
    const identity = `${record.shardId}|${record.sequenceNumber}|${record.subSequenceNumber}`;
    if (!byIdentity.has(identity)) byIdentity.set(identity, record);
  }
  const distinct = [...byIdentity.values()];
  if (!definition.dedupeByEventId) return distinct;
  return distinct.filter(
    (copy) =>
      !distinct.some(
        (other) =>
          other !== copy &&
          other.event[definition.schema.id] === copy.event[definition.schema.id] &&
          arrivesBefore(other, copy) &&
          copy.arrivalMs - other.arrivalMs <= dedupHorizonMs,
      ),
  );
}

/**
 * A view's answer as compared: per `dimension key@bucket`, every measure of the view by name (count, sum, min, max,
 * avg, as declared), which is what a reader is served whatever the schema and whichever attributes the view stores.
 */
export type PresentedView = Map<string, PresentedBucket>;

/** Aggregates read back (batch rows, served buckets, folded partials) as a PresentedView, through presentMeasures. */
export function presented(
  view: Pick<ViewDefinition, 'measures'>,
  buckets: Iterable<{ readonly dimensionKey: string; readonly bucket: number; readonly measures: Measures }>,
): PresentedView {
  const result: PresentedView = new Map();
  for (const { dimensionKey, bucket, measures } of buckets) {
    const answer = presentMeasures(view, measures);
    if (answer !== null) result.set(`${dimensionKey}@${bucket}`, answer);
  }
  return result;
}

export interface ExpectedViewOptions {
  /** Only records that arrived at or after this count (a window's start). @default 0 */
  readonly fromMs?: number;
  /** @default 60 minutes, the pipeline's default (BATCH_TEST_CONFIG's) */
  readonly dedupHorizonMs?: number;
  /** @default the view's */
  readonly granularity?: Granularity;
}

/**
 * Brute force over the distinct valid records that arrived in [fromMs, cutoff), with the view's de-duplication, as
 * a reader is served it (every measure of the view by name).
 */
export function expectedBatchView(
  definition: ViewDefinition,
  deliveries: readonly StreamRecord[],
  cutoff: number,
  options: ExpectedViewOptions = {},
): PresentedView {
  const fromMs = options.fromMs ?? 0;
  const counted = countedRecords(definition, deliveries, options.dedupHorizonMs ?? DEFAULT_DEDUP_HORIZON_MS);
  return bruteForceAnswer(
    { ...definition, dedupeByEventId: false },
    counted,
    options.granularity ?? definition.granularity,
    (record) => record.arrivalMs >= fromMs && record.arrivalMs < cutoff,
  );
}
