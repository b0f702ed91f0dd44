import { DEFAULT_EVENT_SCHEMA, type EventSchema } from './event-schema';
import { ENVELOPE_FIELDS } from './stream-record';

/** Column types of the master dataset, in Glue/Hive names; each engine maps them to its own. */
export type ColumnType = 'string' | 'double' | 'bigint';

/**
 * Which of the event rules (event-limits.ts) a field is held to, so that the batch SQL checks each column as the
 * event schema checks its field: identifiers (identifierProblem), measured values (valueProblem) and the event
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

const ENVELOPE_COLUMN_TYPES: Readonly<Record<keyof typeof ENVELOPE_FIELDS, ColumnType>> = {
  arrivalMs: 'bigint',
  shardId: 'string',
  sequenceNumber: 'string',
  subSequenceNumber: 'bigint',
};

const columnsBySchema = new WeakMap<EventSchema, readonly MasterDatasetColumn[]>();

/**
 * The master dataset's columns, generated from the declared event schema plus the envelope: the id, the
 * dimensions, the numeric fields and the event time (stored normalised to epoch ms by the Firehose transform).
 * Extra event fields stay in the JSON objects but are not columns until the schema names them.
 */
export function masterDatasetColumns(schema: EventSchema = DEFAULT_EVENT_SCHEMA): readonly MasterDatasetColumn[] {
  let columns = columnsBySchema.get(schema);
  if (columns === undefined) {
    const field = (jsonKey: string, type: ColumnType, rule: EventFieldRule): MasterDatasetColumn => ({
      name: jsonKey.toLowerCase(),
      jsonKey,
      type,
      rule,
    });
    columns = Object.freeze([
      field(schema.id, 'string', 'identifier'),
      ...schema.dimensions.map((name) => field(name, 'string', 'identifier')),
      ...schema.numbers.map((name) => field(name, 'double', 'measuredValue')),
      field(schema.time, 'bigint', 'eventTime'),
      ...Object.entries(ENVELOPE_FIELDS).map(([key, name]) => ({
        name,
        jsonKey: name,
        type: ENVELOPE_COLUMN_TYPES[key as keyof typeof ENVELOPE_COLUMN_TYPES],
      })),
    ]);
    columnsBySchema.set(schema, columns);
  }
  return columns;
}

/** The Hive partition keys, from arrival time, that the Firehose transform returns for dynamic partitioning. */
export const PARTITION_KEYS = ['dt', 'hour'] as const;

export function partitionKeysOf(arrivalMs: number): { dt: string; hour: string } {
  const iso = new Date(arrivalMs).toISOString();
  return { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
}
