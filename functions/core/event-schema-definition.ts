import { z } from 'zod';
import { DEFAULT_EVENT_SCHEMA, type EventSchema } from './event-schema';
import { describeIssues, objectError } from './schema-issues';
import { KEPT_PREFIX, SQL_WORKING_COLUMNS } from './sql-working-columns';
import { ENVELOPE_FIELDS } from './stream-record';

/**
 * Field names: what a Glue column, a DuckDB column and a JSON key can all be. Glue lower-cases column names, so two
 * fields may not differ by case alone.
 */
export const FIELD_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * Fields per role: each dimension and number is a column of every batch query. A view stores at most a sum, a min and
 * a max per numeric field (48 attributes), which keeps a realtime update's expressions under a third of DynamoDB's
 * 4 KB limit and its items far below 400 KB (realtime-update.test.ts holds the widest declaration to it).
 */
export const MAX_SCHEMA_DIMENSIONS = 16;
export const MAX_SCHEMA_NUMBERS = 16;

/** Column names the master dataset and the batch SQL use for themselves, which no event field may take. */
const RESERVED_COLUMNS = [...Object.values(ENVELOPE_FIELDS), 'dt', 'hour', ...SQL_WORKING_COLUMNS];

/** Query parameters of GET /views/{view} and its keys listing: a dimension is a parameter too, so it may not take them. */
const QUERY_PARAMETERS = ['from', 'to', 'granularity', 'orderBy', 'order', 'limit', 'next', 'quantiles'];

const fieldName = z
  .string({ error: 'expected a field name' })
  .regex(FIELD_NAME_PATTERN, 'expected a letter, then letters, digits and _ (at most 64 characters)');

const schemaDeclarationSchema = z
  .object(
    {
      id: fieldName.optional(),
      time: fieldName.optional(),
      dimensions: z
        .array(fieldName, { error: 'expected an array of field names' })
        .min(1, 'declare at least one dimension: views key by dimensions')
        .max(MAX_SCHEMA_DIMENSIONS, `at most ${MAX_SCHEMA_DIMENSIONS} dimensions`),
      numbers: z
        .array(fieldName, { error: 'expected an array of field names' })
        .max(MAX_SCHEMA_NUMBERS, `at most ${MAX_SCHEMA_NUMBERS} numeric fields`),
    },
    { error: objectError('an event schema { id, time, dimensions, numbers }') },
  )
  .strict();

export class EventSchemaError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid event schema:\n  - ${problems.join('\n  - ')}`);
    this.name = 'EventSchemaError';
  }
}

/**
 * Validates a declared event schema (DESIGN.md §9), from cdk.json context or TypeScript; undefined is the IoT
 * example. Every field has one role, and no two fields (nor a field and a column of the envelope) differ by case
 * alone, because Athena reads the archive's JSON keys case-insensitively.
 */
export function defineEventSchema(input: unknown): EventSchema {
  if (input === undefined) return DEFAULT_EVENT_SCHEMA;
  const parsed = schemaDeclarationSchema.safeParse(input);
  if (!parsed.success) throw new EventSchemaError(describeIssues(parsed.error.issues, 'schema'));
  const declared = parsed.data;
  const schema: EventSchema = Object.freeze({
    id: declared.id ?? DEFAULT_EVENT_SCHEMA.id,
    time: declared.time ?? DEFAULT_EVENT_SCHEMA.time,
    dimensions: Object.freeze([...declared.dimensions]),
    numbers: Object.freeze([...declared.numbers]),
  });
  const roles: [string, string][] = [
    ['schema.id', schema.id],
    ['schema.time', schema.time],
    ...schema.dimensions.map((field, index): [string, string] => [`schema.dimensions[${index}]`, field]),
    ...schema.numbers.map((field, index): [string, string] => [`schema.numbers[${index}]`, field]),
  ];
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const [where, field] of roles) {
    const lower = field.toLowerCase();
    if (RESERVED_COLUMNS.includes(lower) || lower.startsWith(KEPT_PREFIX)) {
      problems.push(
        `${where}: ${field} is a column the pipeline adds (${RESERVED_COLUMNS.join(', ')}, ${KEPT_PREFIX}*): rename it`,
      );
      continue;
    }
    if (where.startsWith('schema.dimensions') && QUERY_PARAMETERS.includes(field)) {
      problems.push(`${where}: ${field} is a query parameter (${QUERY_PARAMETERS.join(', ')}): rename the dimension`);
      continue;
    }
    const earlier = seen.get(lower);
    if (earlier !== undefined) {
      problems.push(
        `${where}: ${field} is already declared at ${earlier}` +
          (earlier.endsWith(`(${field})`) ? '' : ' (Athena reads field names without regard to case)'),
      );
      continue;
    }
    seen.set(lower, `${where} (${field})`);
  }
  if (problems.length > 0) throw new EventSchemaError(problems);
  return schema;
}
