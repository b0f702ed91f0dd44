import { iotEventSchema } from './event-schema';
import { ENVELOPE_FIELDS } from './stream-record';

/** Column types of the master dataset, in Glue/Hive names; each engine maps them to its own. */
export type ColumnType = 'string' | 'double' | 'bigint';

/**
 * Which of the event rules (event-limits.ts) a field is held to, so that the batch SQL checks each column as the
 * event schema checks its field: identifiers (identifierProblem), the measured value (valueProblem) and the event
 * time (range and eventTimeProblem).
 */
export type EventFieldRule = 'identifier' | 'measuredValue' | 'eventTime';

export interface MasterDatasetColumn {
  /** Lower-case: Glue stores column names lower-cased, and SQL in both engines matches names case-insensitively. */
  readonly name: string;
  /** The key in the archived JSON object (Athena's JSON SerDe matches it case-insensitively; DuckDB does not). */
  readonly jsonKey: string;
  readonly type: ColumnType;
  /** For an event field: the rule it is held to. Envelope columns have none. */
  readonly rule?: EventFieldRule;
}

// The event schema's fields, typed for SQL. `ts` is stored normalised to epoch ms by the Firehose transform.
const EVENT_COLUMNS: Readonly<Record<keyof typeof iotEventSchema.shape, { type: ColumnType; rule: EventFieldRule }>> = {
  eventId: { type: 'string', rule: 'identifier' },
  deviceId: { type: 'string', rule: 'identifier' },
  site: { type: 'string', rule: 'identifier' },
  metric: { type: 'string', rule: 'identifier' },
  value: { type: 'double', rule: 'measuredValue' },
  ts: { type: 'bigint', rule: 'eventTime' },
};

const ENVELOPE_COLUMN_TYPES: Readonly<Record<keyof typeof ENVELOPE_FIELDS, ColumnType>> = {
  arrivalMs: 'bigint',
  shardId: 'string',
  sequenceNumber: 'string',
  subSequenceNumber: 'bigint',
};

/**
 * The master dataset's columns, generated from the event schema plus the envelope. The Record types above make
 * adding a field to the schema without typing its column (and naming its rule) a compile error. Extra event fields stay in the JSON
 * objects but are not columns until the schema names them.
 */
export const MASTER_DATASET_COLUMNS: readonly MasterDatasetColumn[] = [
  ...Object.keys(iotEventSchema.shape).map((field) => ({
    name: field.toLowerCase(),
    jsonKey: field,
    ...EVENT_COLUMNS[field as keyof typeof EVENT_COLUMNS],
  })),
  ...Object.entries(ENVELOPE_FIELDS).map(([field, name]) => ({
    name,
    jsonKey: name,
    type: ENVELOPE_COLUMN_TYPES[field as keyof typeof ENVELOPE_COLUMN_TYPES],
  })),
];

/** The Hive partition keys, from arrival time, that the Firehose transform returns for dynamic partitioning. */
export const PARTITION_KEYS = ['dt', 'hour'] as const;

export function partitionKeysOf(arrivalMs: number): { dt: string; hour: string } {
  const iso = new Date(arrivalMs).toISOString();
  return { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
}
