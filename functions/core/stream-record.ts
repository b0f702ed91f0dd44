import { DEFAULT_EVENT_SCHEMA, parseEvent, type EventSchema, type PipelineEvent } from './event-schema';
import { recordPosition } from './sequence-position';

/**
 * A validated event with where and when it arrived: the unit every layer folds. The speed layer builds it from a
 * Kinesis record, the batch layer reads it back from the master dataset's envelope fields.
 */
export interface StreamRecord {
  readonly event: PipelineEvent;
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** Orders records de-aggregated from one KPL aggregate; 0 otherwise. */
  readonly subSequenceNumber: number;
  /** Kinesis ApproximateArrivalTimestamp, epoch ms: decides the arrival epoch. */
  readonly arrivalMs: number;
}

/**
 * The envelope the Firehose transform adds to each archived event. Snake case, so that Athena's lower-cased
 * columns and DuckDB's read the same names; the envelope wins over an event field of the same name.
 */
export const ENVELOPE_FIELDS = {
  arrivalMs: 'arrival_ms',
  shardId: 'shard_id',
  sequenceNumber: 'sequence_number',
  subSequenceNumber: 'subsequence_number',
} as const;

export type ArchivedEvent = PipelineEvent & {
  readonly arrival_ms: number;
  readonly shard_id: string;
  readonly sequence_number: string;
  readonly subsequence_number: number;
};

export function toArchivedEvent(record: StreamRecord): ArchivedEvent {
  return {
    ...record.event,
    arrival_ms: record.arrivalMs,
    shard_id: record.shardId,
    sequence_number: record.sequenceNumber,
    subsequence_number: record.subSequenceNumber,
  };
}

export function positionOf(record: StreamRecord): string {
  return recordPosition(record.sequenceNumber, record.subSequenceNumber);
}

/** The identity of a Kinesis record: distinct records are distinct by (shard, sequence, subsequence). */
export function recordIdentity(record: StreamRecord): string {
  return `${record.shardId}/${positionOf(record)}`;
}

/**
 * A line of the master dataset back as the record it was archived from, or the reason it is not one. The
 * transform wrote only valid events, but the archive outlives schema changes, so each line is validated again.
 */
export function fromArchivedEvent(
  value: unknown,
  eventTimeSkewMs: number,
  schema: EventSchema = DEFAULT_EVENT_SCHEMA,
): { readonly ok: true; readonly record: StreamRecord } | { readonly ok: false; readonly reason: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'line: expected a JSON object' };
  }
  const {
    arrival_ms: arrivalMs,
    shard_id: shardId,
    sequence_number: sequenceNumber,
    subsequence_number: subSequenceNumber,
    ...event
  } = value as Record<string, unknown>;
  if (typeof arrivalMs !== 'number' || typeof shardId !== 'string' || typeof sequenceNumber !== 'string') {
    return { ok: false, reason: 'line: the envelope (arrival_ms, shard_id, sequence_number) is missing' };
  }
  const parsed = parseEvent(event, { arrivalMs, eventTimeSkewMs, schema });
  if (!parsed.ok) return { ok: false, reason: parsed.errors.join('; ') };
  return {
    ok: true,
    record: {
      event: parsed.event,
      shardId,
      sequenceNumber,
      subSequenceNumber: typeof subSequenceNumber === 'number' ? subSequenceNumber : 0,
      arrivalMs,
    },
  };
}
