import { parseEvent } from '../../functions/core/event-schema';
import type { StreamRecord } from '../../functions/core/stream-record';

/** One entry of POST /events' per-record answer. */
export interface IngestResult {
  readonly index: number;
  readonly status: string;
  readonly sequenceNumber?: string;
  readonly shardId?: string;
  readonly errors?: string[];
}

/**
 * The records the stream accepted, as the brute force counts them: the posted events with the shard and sequence
 * number the API answered. Arrival times are unknown to a client; no brute force here depends on them.
 */
export function acceptedRecords(
  events: readonly Record<string, unknown>[],
  results: readonly IngestResult[],
): StreamRecord[] {
  return results
    .filter((result) => result.status === 'accepted')
    .map((result) => {
      // Judged as of now, as the API judged them when it accepted them.
      const parsed = parseEvent(events[result.index], {
        arrivalMs: Date.now(),
        eventTimeSkewMs: Number.MAX_SAFE_INTEGER,
      });
      if (!parsed.ok) throw new Error(`an accepted event must be valid: ${parsed.errors.join('; ')}`);
      return {
        event: parsed.event,
        shardId: result.shardId!,
        sequenceNumber: result.sequenceNumber!,
        subSequenceNumber: 0,
        arrivalMs: 0,
      };
    });
}
