import type { KinesisStreamRecord } from 'aws-lambda';
import type { EventSchema } from '../core/event-schema';
import { decodeKinesisPayload } from '../core/kinesis-payload';
import { recordPosition } from '../core/sequence-position';
import type { StreamRecord } from '../core/stream-record';

/** A record that is not fit to fold: skipped, logged and counted, never retried (the Firehose archives it). */
export interface RejectedRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly reason: string;
}

export type DecodedRecord =
  { readonly ok: true; readonly record: StreamRecord } | ({ readonly ok: false } & RejectedRecord);

/**
 * Where a Lambda Kinesis record came from. The event source mapping sends no shard field: the shard is the part
 * of `eventID` (`shardId-000000000000:<sequence number>`) before the colon. A record without one breaks the event
 * source mapping's contract, which is a bug to fail loudly on, not a record to skip.
 */
export function shardIdOf(record: KinesisStreamRecord): string {
  const separator = record.eventID.indexOf(':');
  if (separator <= 0) throw new Error(`Kinesis record ${record.kinesis.sequenceNumber}: eventID has no shard id`);
  return record.eventID.slice(0, separator);
}

/** The record's position in its shard; KPL aggregates are rejected, so the subsequence is always 0. */
export function positionOfLambdaRecord(record: KinesisStreamRecord): string {
  return recordPosition(record.kinesis.sequenceNumber, 0);
}

/**
 * ApproximateArrivalTimestamp arrives as seconds with millisecond decimals. Rounding, not truncating: a decimal
 * that is a hair below the millisecond in binary must not move a record into the previous epoch.
 */
export function arrivalMsOf(record: KinesisStreamRecord): number {
  return Math.round(record.kinesis.approximateArrivalTimestamp * 1000);
}

/** base64 → UTF-8 → JSON → event schema; each failure is a rejection with its reason. */
export function decodeKinesisRecord(
  record: KinesisStreamRecord,
  eventTimeSkewMs: number,
  schema?: EventSchema,
): DecodedRecord {
  const shardId = shardIdOf(record);
  const { sequenceNumber, data } = record.kinesis;
  const reject = (reason: string): DecodedRecord => ({ ok: false, shardId, sequenceNumber, reason });
  const arrivalMs = arrivalMsOf(record);
  const parsed = decodeKinesisPayload(data, { arrivalMs, eventTimeSkewMs, schema });
  if (!parsed.ok) return reject(parsed.errors.join('; '));
  return { ok: true, record: { event: parsed.event, shardId, sequenceNumber, subSequenceNumber: 0, arrivalMs } };
}
