import type { EventDedupStore } from '../adapters/event-dedup-store';
import { aggregateKeyOf, type AggregateKey } from '../core/fold';
import { realtimeExpiresAt } from '../core/realtime-update';
import { positionOf, recordIdentity, type StreamRecord } from '../core/stream-record';
import type { ViewDefinition } from '../core/view-declaration';
import { eventIdOf } from '../core/event-schema';
import { mapConcurrently } from '../adapters/concurrent-map';
import type { ClaimStatus } from './touched-items';

export interface EventClaims {
  readonly claimOf: (record: StreamRecord) => ClaimStatus;
  /** Conditional writes made: the de-dup cost of this batch. */
  readonly writes: number;
  readonly failures: readonly { readonly record: StreamRecord; readonly error: unknown }[];
}

export interface ClaimContext {
  readonly views: readonly ViewDefinition[];
  readonly epochLengthMs: number;
  readonly realtimeRetentionMs: number;
  /** The de-dup horizon H (PipelineConfig.dedupHorizonMs). */
  readonly dedupHorizonMs: number;
  readonly store: EventDedupStore;
  readonly concurrency: number;
}

/**
 * Claims, for the views that de-duplicate by eventId, each event of a batch that one of them counts. A batch is
 * one shard's records in order, so a second copy of an event within it is a duplicate of the first whatever the
 * first's claim decides, and only the first copy is written. The claim lives as long as the realtime items the
 * event counts in (their TTL), which is as long as a second copy could change an answer.
 */
export async function claimEvents(
  records: readonly StreamRecord[],
  { views, epochLengthMs, realtimeRetentionMs, dedupHorizonMs, store, concurrency }: ClaimContext,
): Promise<EventClaims> {
  const deduplicating = views.filter((view) => view.dedupeByEventId);
  const status = new Map<string, ClaimStatus>();
  const firstCopies = new Map<string, { record: StreamRecord; key: AggregateKey; eventId: string }>();
  const ordered = [...records].sort((a, b) => (positionOf(a) < positionOf(b) ? -1 : 1));
  for (const record of ordered) {
    const first = firstKey(deduplicating, record, epochLengthMs);
    if (first === undefined) continue;
    const eventId = eventIdOf(first.view.schema, record.event);
    if (firstCopies.has(eventId)) status.set(recordIdentity(record), 'duplicate');
    else firstCopies.set(eventId, { record, key: first.key, eventId });
  }

  const failures: { record: StreamRecord; error: unknown }[] = [];
  const claims = [...firstCopies.values()];
  await mapConcurrently(claims, concurrency, async ({ record, key, eventId }) => {
    let claim: ClaimStatus;
    try {
      claim = await store.claim({
        eventId,
        owner: recordIdentity(record),
        arrivalMs: record.arrivalMs,
        horizonMs: dedupHorizonMs,
        expiresAt: realtimeExpiresAt(key, epochLengthMs, realtimeRetentionMs),
      });
    } catch (error) {
      failures.push({ record, error });
      claim = 'failed';
    }
    status.set(recordIdentity(record), claim);
  });
  return {
    claimOf: (record) => status.get(recordIdentity(record)) ?? 'owner',
    writes: claims.length,
    failures,
  };
}

/** The record's item in the first de-duplicating view that counts it, or undefined when none does. */
function firstKey(views: readonly ViewDefinition[], record: StreamRecord, epochLengthMs: number) {
  for (const view of views) {
    const key = aggregateKeyOf(view, record, epochLengthMs);
    if (key !== undefined) return { key, view };
  }
  return undefined;
}
