import { positionOf, recordIdentity, type StreamRecord } from './stream-record';

/**
 * The records each view counts, before its filter: one per Kinesis record, and with `dedupeByEventId` one per
 * eventId, the copy that arrived first (ties broken by shard, then position). batch-sql.ts encodes the same rule
 * with row_number(); this is the reference the tests hold both layers to.
 */
export function distinctRecords(records: Iterable<StreamRecord>, dedupeByEventId = false): StreamRecord[] {
  const byIdentity = new Map<string, StreamRecord>();
  for (const record of records) {
    const identity = dedupeByEventId ? record.event.eventId : recordIdentity(record);
    const kept = byIdentity.get(identity);
    if (kept === undefined || (dedupeByEventId && arrivesBefore(record, kept))) byIdentity.set(identity, record);
  }
  return [...byIdentity.values()];
}

function arrivesBefore(a: StreamRecord, b: StreamRecord): boolean {
  if (a.arrivalMs !== b.arrivalMs) return a.arrivalMs < b.arrivalMs;
  if (a.shardId !== b.shardId) return a.shardId < b.shardId;
  return positionOf(a) < positionOf(b);
}
