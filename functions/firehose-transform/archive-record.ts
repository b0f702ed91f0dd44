import { decodeKinesisPayload } from '../core/kinesis-payload';
import { DEFAULT_EVENT_SCHEMA, type EventSchema } from '../core/event-schema';
import { masterDatasetColumns, partitionKeysOf } from '../core/master-dataset-columns';
import { recordPosition } from '../core/sequence-position';
import { toArchivedEvent } from '../core/stream-record';

/**
 * A record of the Firehose data-transformation event for a Kinesis-stream source. Firehose sends the subsequence
 * number as a number or a numeric string depending on the path the record took, so both are accepted.
 */
export interface TransformInput {
  readonly recordId: string;
  readonly data: string;
  readonly approximateArrivalTimestamp?: number;
  readonly kinesisRecordMetadata?: {
    readonly shardId: string;
    readonly partitionKey?: string;
    readonly sequenceNumber: string;
    readonly subsequenceNumber?: string | number | null;
    readonly approximateArrivalTimestamp?: number;
  };
}

export interface PartitionKeys {
  readonly dt: string;
  readonly hour: string;
}

export type ArchiveDecision =
  | {
      readonly ok: true;
      readonly line: string;
      readonly partitionKeys: PartitionKeys;
      /** Extra fields left out of the line: see withoutCaseCollisions. */
      readonly droppedFields: readonly string[];
    }
  | { readonly ok: false; readonly reason: string };

const DIGITS = /^\d+$/;

/**
 * Turns one Kinesis record into a line of the master dataset: the validated event (ts as epoch ms) with the
 * envelope that makes records distinct and places them in time (arrival, shard, sequence, subsequence), a
 * trailing newline, and Hive partition keys from the arrival time.
 *
 * A record is rejected for exactly the reasons the speed layer skips one (bad base64, a KPL aggregate, invalid
 * UTF-8, JSON or schema), so that both layers count the same records; and for metadata that would make its
 * identity or epoch wrong, since the batch layer de-duplicates and cuts off by them.
 */
export function archiveRecord(
  input: TransformInput,
  eventTimeSkewMs: number,
  schema: EventSchema = DEFAULT_EVENT_SCHEMA,
): ArchiveDecision {
  const metadata = input.kinesisRecordMetadata;
  if (metadata === undefined) {
    return reject('no kinesisRecordMetadata: the delivery stream source is not a Kinesis stream');
  }
  if (typeof metadata.shardId !== 'string' || metadata.shardId === '') {
    return reject('kinesisRecordMetadata.shardId: expected a shard id');
  }
  const subSequenceNumber = subsequenceOf(metadata.subsequenceNumber);
  if (subSequenceNumber === undefined) {
    return reject('kinesisRecordMetadata.subsequenceNumber: expected a non-negative integer');
  }
  try {
    // What the batch SQL's de-duplication and ordering assume a sequence number is: at most 129 decimal digits.
    recordPosition(metadata.sequenceNumber, subSequenceNumber);
  } catch (error) {
    return reject(`kinesisRecordMetadata.${(error as Error).message}`);
  }
  const arrival = metadata.approximateArrivalTimestamp ?? input.approximateArrivalTimestamp;
  if (typeof arrival !== 'number' || !Number.isFinite(arrival) || arrival < 0) {
    return reject('kinesisRecordMetadata.approximateArrivalTimestamp: expected epoch milliseconds');
  }
  const arrivalMs = Math.round(arrival);

  const parsed = decodeKinesisPayload(input.data, { arrivalMs, eventTimeSkewMs, schema });
  if (!parsed.ok) return reject(parsed.errors.join('; '));
  const { kept, dropped } = withoutCaseCollisions(
    schema,
    toArchivedEvent({
      event: parsed.event,
      shardId: metadata.shardId,
      sequenceNumber: metadata.sequenceNumber,
      subSequenceNumber,
      arrivalMs,
    }),
  );
  return {
    ok: true,
    line: `${JSON.stringify(kept)}\n`,
    partitionKeys: partitionKeysOf(arrivalMs),
    droppedFields: dropped,
  };
}

/**
 * Leaves out extra fields whose names equal another field's but for case (`Site` beside `site`). Athena's JSON SerDe
 * matches keys case-insensitively and fails the whole query on an object with such a pair (`Duplicate key`), so one
 * such event would fail every batch run; the columns themselves and the first of each clashing name are kept.
 */
function withoutCaseCollisions(
  schema: EventSchema,
  archived: object,
): { kept: Record<string, unknown>; dropped: string[] } {
  const COLUMN_KEYS = new Set(masterDatasetColumns(schema).map((column) => column.jsonKey));
  const taken = new Set([...COLUMN_KEYS].map((key) => key.toLowerCase()));
  const kept: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(archived)) {
    if (!COLUMN_KEYS.has(key)) {
      const lower = key.toLowerCase();
      if (taken.has(lower)) {
        dropped.push(key);
        continue;
      }
      taken.add(lower);
    }
    kept[key] = value;
  }
  return { kept, dropped };
}

function reject(reason: string): ArchiveDecision {
  return { ok: false, reason };
}

/** Absent for records that were not KPL-aggregated: those are subsequence 0, as the speed layer assumes. */
function subsequenceOf(value: string | number | null | undefined): number | undefined {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !DIGITS.test(value)) return undefined;
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}
