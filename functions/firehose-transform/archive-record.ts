import { parseEventJson } from '../core/event-schema';
import { partitionKeysOf } from '../core/master-dataset-columns';
import { toArchivedEvent } from '../core/stream-record';

/** A record of the Firehose transformation event, with the metadata Firehose adds for a Kinesis source. */
export interface TransformInput {
  readonly recordId: string;
  readonly data: string;
  readonly approximateArrivalTimestamp: number;
  readonly kinesisRecordMetadata?: {
    readonly shardId: string;
    readonly sequenceNumber: string;
    readonly subsequenceNumber?: string | number;
    readonly approximateArrivalTimestamp: number;
  };
}

export type ArchiveDecision =
  | { readonly ok: true; readonly line: string; readonly partitionKeys: { dt: string; hour: string } }
  | { readonly ok: false; readonly reason: string };

/**
 * Turns one Kinesis record into a line of the master dataset: the validated event (ts as epoch ms) with the
 * envelope that makes records distinct and places them in time (arrival, shard, sequence, subsequence), a
 * trailing newline, and Hive partition keys from the arrival time. Anything else is a reason to reject.
 */
export function archiveRecord(input: TransformInput): ArchiveDecision {
  const metadata = input.kinesisRecordMetadata;
  if (metadata === undefined)
    return { ok: false, reason: 'no kinesisRecordMetadata: the source is not a Kinesis stream' };
  const text = Buffer.from(input.data, 'base64').toString('utf8');
  const parsed = parseEventJson(text);
  if (!parsed.ok) return { ok: false, reason: parsed.errors.join('; ') };
  const subSequenceNumber = Number(metadata.subsequenceNumber ?? 0);
  const arrivalMs = metadata.approximateArrivalTimestamp ?? input.approximateArrivalTimestamp;
  const archived = toArchivedEvent({
    event: parsed.event,
    shardId: metadata.shardId,
    sequenceNumber: metadata.sequenceNumber,
    subSequenceNumber: Number.isSafeInteger(subSequenceNumber) ? subSequenceNumber : 0,
    arrivalMs,
  });
  return { ok: true, line: `${JSON.stringify(archived)}\n`, partitionKeys: partitionKeysOf(arrivalMs) };
}
