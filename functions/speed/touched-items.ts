import type { Contribution } from '../adapters/realtime-view-store';
import { aggregateKeyId, aggregateKeyOf, type AggregateKey } from '../core/fold';
import { measuresOf } from '../core/measures';
import { positionOf, type StreamRecord } from '../core/stream-record';
import type { ViewDefinition } from '../core/view-declaration';

/** What the eventId claim decided for a record (event-claims.ts); records of views without de-dup are all owners. */
export type ClaimStatus = 'owner' | 'duplicate' | 'failed';

/** One realtime item a Lambda batch touches, with the batch's records in it. */
export interface TouchedItem {
  readonly key: AggregateKey;
  readonly view: ViewDefinition;
  /** One per record counted in the item; the compare-and-set path needs them one by one, not just their sum. */
  readonly contributions: Contribution[];
  /**
   * Positions of records whose eventId claim failed: whether they count is unknown, so the item must not be
   * written in this delivery (its watermark would pass them) and fails with them.
   */
  readonly undecided: string[];
}

/**
 * The batch folded per realtime item (view, dimension key, bucket, epoch), through the core's keys and filter.
 * It is the core's fold (fold.ts) kept one contribution per record, which the write protocol needs to recompute
 * a delta above any watermark. A de-duplicating view skips the records whose event another record owns.
 */
export function touchedItems(
  records: readonly StreamRecord[],
  views: readonly ViewDefinition[],
  epochLengthMs: number,
  claimOf: (record: StreamRecord) => ClaimStatus = () => 'owner',
): TouchedItem[] {
  const items = new Map<string, TouchedItem>();
  for (const record of records) {
    const position = positionOf(record);
    for (const view of views) {
      const key = aggregateKeyOf(view, record, epochLengthMs);
      if (key === undefined) continue;
      const claim = view.dedupeByEventId ? claimOf(record) : 'owner';
      if (claim === 'duplicate') continue;
      const id = aggregateKeyId(key);
      let item = items.get(id);
      if (item === undefined) {
        item = { key, view, contributions: [], undecided: [] };
        items.set(id, item);
      }
      if (claim === 'failed') item.undecided.push(position);
      else item.contributions.push({ position, measures: measuresOf(view, record.event) });
    }
  }
  return [...items.values()];
}

/** The lowest position that went into an item: a failure reported there leaves nothing of the item unapplied. */
export function lowestPositionOf(item: TouchedItem): string {
  let lowest: string | undefined;
  for (const position of [...item.undecided, ...item.contributions.map((contribution) => contribution.position)]) {
    if (lowest === undefined || position < lowest) lowest = position;
  }
  if (lowest === undefined) throw new Error('a touched item has at least one record');
  return lowest;
}
