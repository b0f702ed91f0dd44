import { DEFAULT_EVENT_SCHEMA, eventIdOf, type EventSchema } from './event-schema';
import { positionOf, recordIdentity, type StreamRecord } from './stream-record';

/**
 * The records each view counts, before its filter: one per Kinesis record, and with `dedupeByEventId` one per
 * eventId copy that no earlier copy precedes by at most `dedupHorizonMs` (DESIGN.md §4; copies ordered by arrival,
 * then shard, then position). batch-sql.ts encodes the same rule with row_number() and lag(); this is the
 * reference the tests hold both layers to. Without a horizon, only the first copy of each eventId counts.
 */
export function distinctRecords(
  records: Iterable<StreamRecord>,
  dedupeByEventId = false,
  dedupHorizonMs = Infinity,
  schema: EventSchema = DEFAULT_EVENT_SCHEMA,
): StreamRecord[] {
  const byIdentity = new Map<string, StreamRecord>();
  for (const record of records) {
    const identity = recordIdentity(record);
    if (!byIdentity.has(identity)) byIdentity.set(identity, record);
  }
  const distinct = [...byIdentity.values()];
  if (!dedupeByEventId) return distinct;
  distinct.sort((a, b) => (arrivesBefore(a, b) ? -1 : arrivesBefore(b, a) ? 1 : 0));
  const previous = new Map<string, number>();
  const counted: StreamRecord[] = [];
  for (const record of distinct) {
    const id = eventIdOf(schema, record.event);
    const before = previous.get(id);
    if (before === undefined || record.arrivalMs - before > dedupHorizonMs) counted.push(record);
    previous.set(id, record.arrivalMs);
  }
  return counted;
}

function arrivesBefore(a: StreamRecord, b: StreamRecord): boolean {
  if (a.arrivalMs !== b.arrivalMs) return a.arrivalMs < b.arrivalMs;
  if (a.shardId !== b.shardId) return a.shardId < b.shardId;
  return positionOf(a) < positionOf(b);
}
