import { ENVELOPE_FIELDS } from './stream-record';
import { GRANULARITY_MS } from './granularity';
import type { Measures } from './measures';
import type { BatchAggregate } from './serving-rule';
import { encodeDimensionKey } from './dimension-key';
import { SEQUENCE_DIGITS } from './sequence-position';
import type { FilterCondition, ViewDefinition } from './view-declaration';

/**
 * Batch SQL generated from a view declaration, in the subset Athena (Trino) and DuckDB run identically
 * (DESIGN.md §6): quoted lower-case identifiers (both engines match them case-insensitively against the
 * master dataset's camelCase JSON keys), epoch-millisecond integer arithmetic instead of timestamp parsing,
 * row_number() for de-duplication, and a plain GROUP BY.
 */
export interface BatchSqlInputs {
  /** The relation holding the master dataset: a Glue table in Athena, a view over the S3 objects in DuckDB. */
  readonly source: string;
  /** The cutoff C: the run covers every record that arrived before it. */
  readonly cutoffMs: number;
}

/** Result columns, in order: one per dimension, then the bucket, then the measures. */
export const BATCH_RESULT_COLUMNS = {
  dimension: (index: number) => `dim_${index}`,
  bucket: 'bucket',
  count: 'count_value',
  sum: 'sum_value',
  min: 'min_value',
  max: 'max_value',
} as const;

const quote = (identifier: string) => `"${identifier.toLowerCase()}"`;

export function sqlLiteral(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot compile the non-finite number ${value} to SQL`);
    return String(value);
  }
  return `'${value.replace(/'/g, "''")}'`;
}

export function batchViewSql(view: ViewDefinition, { source, cutoffMs }: BatchSqlInputs): string {
  if (!Number.isSafeInteger(cutoffMs) || cutoffMs < 0) throw new Error('cutoffMs: expected a non-negative integer');
  const arrival = quote(ENVELOPE_FIELDS.arrivalMs);
  const columns = [...new Set<string>([...view.dimensions, ...view.filter.map((c) => c.field), 'value', 'ts'])];
  // A run covers records that arrived before C; they sit in arrival-time partitions up to C's last hour. The
  // partition predicate only prunes: the arrival predicate is what decides.
  const lastCovered = new Date(cutoffMs - 1).toISOString();
  const lastDay = sqlLiteral(lastCovered.slice(0, 10));
  const lastHour = sqlLiteral(lastCovered.slice(11, 13));
  const ranking = view.dedupeByEventId
    ? `PARTITION BY "eventid" ORDER BY ${arrival}, ${quote(ENVELOPE_FIELDS.shardId)}, ` +
      `lpad(${quote(ENVELOPE_FIELDS.sequenceNumber)}, ${SEQUENCE_DIGITS}, '0'), ${quote(ENVELOPE_FIELDS.subSequenceNumber)}`
    : `PARTITION BY ${quote(ENVELOPE_FIELDS.shardId)}, ${quote(ENVELOPE_FIELDS.sequenceNumber)}, ` +
      `${quote(ENVELOPE_FIELDS.subSequenceNumber)} ORDER BY ${arrival}`;
  const size = GRANULARITY_MS[view.granularity];
  const ts = 'CAST("ts" AS BIGINT)';
  const value = 'CAST("value" AS DOUBLE)';
  const select = [
    ...view.dimensions.map(
      (field, index) => `CAST(${quote(field)} AS VARCHAR) AS "${BATCH_RESULT_COLUMNS.dimension(index)}"`,
    ),
    `${ts} - (${ts} % ${size}) AS "${BATCH_RESULT_COLUMNS.bucket}"`,
    `count(*) AS "${BATCH_RESULT_COLUMNS.count}"`,
    ...(view.measures.includes('sum') ? [`sum(${value}) AS "${BATCH_RESULT_COLUMNS.sum}"`] : []),
    ...(view.measures.includes('min') ? [`min(${value}) AS "${BATCH_RESULT_COLUMNS.min}"`] : []),
    ...(view.measures.includes('max') ? [`max(${value}) AS "${BATCH_RESULT_COLUMNS.max}"`] : []),
  ];
  const keep = ['"copy_rank" = 1', ...view.filter.map(filterSql)];
  const groupBy = Array.from({ length: view.dimensions.length + 1 }, (_, index) => index + 1);
  return [
    'WITH ranked AS (',
    `  SELECT ${columns.map(quote).join(', ')},`,
    `    row_number() OVER (${ranking}) AS "copy_rank"`,
    `  FROM ${source}`,
    `  WHERE ${arrival} < ${cutoffMs}`,
    `    AND ("dt" < ${lastDay} OR ("dt" = ${lastDay} AND "hour" <= ${lastHour}))`,
    ')',
    `SELECT ${select.join(',\n  ')}`,
    'FROM ranked',
    `WHERE ${keep.join('\n  AND ')}`,
    `GROUP BY ${groupBy.join(', ')}`,
  ].join('\n');
}

function filterSql(condition: FilterCondition): string {
  const column = quote(condition.field);
  const list = () => (condition.value as readonly (string | number)[]).map(sqlLiteral).join(', ');
  const one = () => sqlLiteral(condition.value as string | number);
  switch (condition.op) {
    case 'eq':
      return `${column} = ${one()}`;
    case 'ne':
      return `${column} <> ${one()}`;
    case 'in':
      return `${column} IN (${list()})`;
    case 'notIn':
      return `${column} NOT IN (${list()})`;
    case 'gt':
      return `${column} > ${one()}`;
    case 'gte':
      return `${column} >= ${one()}`;
    case 'lt':
      return `${column} < ${one()}`;
    case 'lte':
      return `${column} <= ${one()}`;
  }
}

/** Engines return numbers as JS numbers, bigints or numeric strings (Athena returns every cell as a string). */
export type SqlCell = string | number | bigint | null | undefined;

/** Reads one result row of batchViewSql back into a batch aggregate. Absent measures take their identity. */
export function batchRowToAggregate(view: ViewDefinition, row: Readonly<Record<string, SqlCell>>): BatchAggregate {
  const numberAt = (column: string, fallback: number) => {
    const cell = row[column];
    return cell === null || cell === undefined ? fallback : Number(cell);
  };
  const measures: Measures = {
    count: numberAt(BATCH_RESULT_COLUMNS.count, 0),
    sum: numberAt(BATCH_RESULT_COLUMNS.sum, 0),
    min: numberAt(BATCH_RESULT_COLUMNS.min, Infinity),
    max: numberAt(BATCH_RESULT_COLUMNS.max, -Infinity),
  };
  const values = view.dimensions.map((_, index) => String(row[BATCH_RESULT_COLUMNS.dimension(index)] ?? ''));
  return { dimensionKey: encodeDimensionKey(values), bucket: numberAt(BATCH_RESULT_COLUMNS.bucket, 0), measures };
}
