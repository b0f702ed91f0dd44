import { ENVELOPE_FIELDS } from './stream-record';
import {
  describeDuration,
  MAX_ENCODED_IDENTIFIER_BYTES,
  MAX_EVENT_TIME_MS,
  MAX_IDENTIFIER_LENGTH,
  MAX_VALUE_MAGNITUDE,
  MIN_EVENT_TIME_MS,
  MIN_VALUE_MAGNITUDE,
} from './event-limits';
import { GRANULARITY_MS } from './granularity';
import { DEFAULT_EVENT_SCHEMA, type EventSchema } from './event-schema';
import { masterDatasetColumns, type MasterDatasetColumn } from './master-dataset-columns';
import type { BinCounts } from './histogram';
import type { HllRegisters } from './hyperloglog';
import type { Measures, NumericPart } from './measures';
import type { BatchAggregate } from './serving-rule';
import { encodeDimensionKey } from './dimension-key';
import { SEQUENCE_DIGITS } from './sequence-position';
import { KEPT_PREFIX } from './sql-working-columns';
import type { FilterCondition, StoredMeasure, ViewDefinition } from './view-declaration';

/** The engine that runs the batch SQL: Athena's Trino, or DuckDB. */
export type SqlDialect = 'trino' | 'duckdb';

/**
 * Batch SQL generated from a view declaration, in the subset Athena (Trino) and DuckDB run identically
 * (DESIGN.md §6): quoted lower-case identifiers (both engines match them case-insensitively against the
 * master dataset's camelCase JSON keys), epoch-millisecond integer arithmetic instead of timestamp parsing,
 * row_number() for de-duplication, and a plain GROUP BY. Three functions of the event rules have no common spelling:
 * the dialect picks them (DIALECTS below), and everything else is the same text.
 */
export interface BatchSqlInputs {
  /** The relation holding the master dataset: a Glue table in Athena, a view over the S3 objects in DuckDB. */
  readonly source: string;
  /** The arrival window [from, to) the rows cover (DESIGN.md §6): a run's window, or [0, cutoff) for a rebuild. */
  readonly arrivalFromMs: number;
  readonly arrivalToMs: number;
  readonly dialect: SqlDialect;
  /** How far event time may run ahead of arrival (PipelineConfig.eventTimeSkewMs): a row further ahead is skipped. */
  readonly eventTimeSkewMs: number;
  /** The declared event schema, whose rules decide which rows are skipped. @default DEFAULT_EVENT_SCHEMA */
  readonly schema?: EventSchema;
}

/** What a view's SQL adds to the window: retention, the de-dup horizon, and the realtime items' epochs. */
export interface ViewSqlInputs extends BatchSqlInputs {
  /** Buckets that start before this are past the view's retention and left out. @default 0 */
  readonly firstBucketMs?: number;
  /**
   * For a view that de-duplicates by eventId: a copy is a duplicate when an earlier copy arrived at most this long
   * before it (DESIGN.md §4), so the rows this far before the window are read too, to find earlier copies.
   */
  readonly dedupHorizonMs: number;
  /** Group by arrival epoch as well, for realtime items (a replay's backfill); the epoch is a result column. */
  readonly epochLengthMs?: number;
}

/**
 * Result columns, in order: one per dimension, then the bucket, then the measures (the count, then one per stored
 * measure by position: measure names are the user's, and Athena lower-cases column names), then the first and last
 * arrival of the key's rows, which the key directory records.
 */
export const BATCH_RESULT_COLUMNS = {
  dimension: (index: number) => `dim_${index}`,
  bucket: 'bucket',
  count: 'count_value',
  stored: (index: number) => `m_${index}`,
  firstArrival: 'first_arrival',
  lastArrival: 'last_arrival',
  epoch: 'epoch',
} as const;

/** Result columns of skippedRowsSql: one row per reason. */
export const SKIPPED_RESULT_COLUMNS = { reason: 'reason', rows: 'skipped_rows' } as const;

const quote = (identifier: string) => `"${identifier.toLowerCase()}"`;

export function sqlLiteral(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot compile the non-finite number ${value} to SQL`);
    return String(value);
  }
  return `'${value.replace(/'/g, "''")}'`;
}

interface DialectFunctions {
  /** The length of a VARCHAR in UTF-8 bytes. */
  readonly utf8Bytes: (text: string) => string;
  /** The text with every match of a regular expression removed. */
  readonly removeMatches: (text: string, pattern: string) => string;
  /** Whether a regular expression matches anywhere in the text. */
  readonly containsMatch: (text: string, pattern: string) => string;
  /** The MD5 of a VARCHAR's UTF-8 bytes as 32 hexadecimal digits (either case). */
  readonly md5Hex: (text: string) => string;
  /** A string of at most 15 hexadecimal digits as a BIGINT. */
  readonly hexToBigint: (hex: string) => string;
  /** Integer division of BIGINTs, truncated. */
  readonly divide: (dividend: string, divisor: string) => string;
  /** An aggregate: the group's VARCHAR values joined by commas, in any order. */
  readonly joinWithCommas: (text: string) => string;
}

const DIALECTS: Readonly<Record<SqlDialect, DialectFunctions>> = {
  trino: {
    // to_utf8(string) -> varbinary "encodes string into a UTF-8 varbinary representation", and length(binary)
    // "returns the length of binary in bytes": https://trino.io/docs/current/functions/string.html#to_utf8,
    // https://trino.io/docs/current/functions/binary.html#length
    utf8Bytes: (text) => `length(to_utf8(${text}))`,
    // regexp_replace(string, pattern) "removes every instance of the substring matched by the regular expression
    // pattern": https://trino.io/docs/current/functions/regexp.html#regexp_replace
    removeMatches: (text, pattern) => `regexp_replace(${text}, ${pattern})`,
    // regexp_like(string, pattern) "evaluates the regular expression pattern and determines if it is contained
    // within string": https://trino.io/docs/current/functions/regexp.html#regexp_like
    containsMatch: (text, pattern) => `regexp_like(${text}, ${pattern})`,
    // md5(binary) -> varbinary "computes the MD5 hash of binary" and to_hex(binary) -> varchar "encodes binary into
    // a hex string representation": https://trino.io/docs/current/functions/binary.html#md5,
    // https://trino.io/docs/current/functions/binary.html#to_hex
    md5Hex: (text) => `to_hex(md5(to_utf8(${text})))`,
    // from_base(string, radix) -> bigint "returns the value of string interpreted as a base-radix number":
    // https://trino.io/docs/current/functions/math.html#from_base
    hexToBigint: (hex) => `from_base(${hex}, 16)`,
    // "Division of integers truncates": https://trino.io/docs/current/functions/math.html#mathematical-operators
    divide: (dividend, divisor) => `${dividend} / ${divisor}`,
    // array_agg(x) -> array "returns an array created from the input x elements" and array_join(x, delimiter)
    // "concatenates the elements of the given array using the delimiter":
    // https://trino.io/docs/current/functions/aggregate.html#array_agg,
    // https://trino.io/docs/current/functions/array.html#array_join
    joinWithCommas: (text) => `array_join(array_agg(${text}), ',')`,
  },
  duckdb: {
    // strlen counts bytes (DuckDB has no to_utf8, and its length() has no BLOB overload).
    utf8Bytes: (text) => `strlen(${text})`,
    // Without the 'g' option DuckDB replaces only the first match.
    removeMatches: (text, pattern) => `regexp_replace(${text}, ${pattern}, '', 'g')`,
    // DuckDB's name for it (it has no regexp_like); a partial match, like Trino's.
    containsMatch: (text, pattern) => `regexp_matches(${text}, ${pattern})`,
    // md5 hashes a VARCHAR's UTF-8 bytes to lower-case hex.
    md5Hex: (text) => `md5(${text})`,
    // DuckDB reads a 0x-prefixed string as a hexadecimal integer.
    hexToBigint: (hex) => `CAST('0x' || ${hex} AS BIGINT)`,
    // DuckDB's / divides integers into a DOUBLE; // is integer division.
    divide: (dividend, divisor) => `${dividend} // ${divisor}`,
    joinWithCommas: (text) => `string_agg(${text}, ',')`,
  },
};

/**
 * The characters JavaScript's `\s` matches (all in the BMP), which identifierProblem refuses at either end of an
 * identifier. Spelled as code points because the engines' own trim() and `\s` each mean a different set.
 */
export const WHITE_SPACE_CODE_POINTS: readonly number[] = [
  0x9, 0xa, 0xb, 0xc, 0xd, 0x20, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
  0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
];

/**
 * White space at the start or at the very end (`\z`: Java's `$` would also match before a final line break) of a
 * text, as one regular expression that Java (Trino) and RE2 (DuckDB) read alike. One compiled pattern rather than
 * a list of 25 characters per end: DuckDB plans an IN list that long slowly, and every query carries eight.
 */
const EDGE_WHITE_SPACE = (() => {
  const characters = `[${WHITE_SPACE_CODE_POINTS.map((codePoint) => `\\x{${codePoint.toString(16)}}`).join('')}]`;
  return sqlLiteral(`^${characters}|${characters}\\z`);
})();

/**
 * Any character encodeURIComponent escapes, i.e. all but the unreserved ones (event-limits.ts counts them the same
 * way). Removing these leaves the unreserved ones to count: far cheaper than removing the unreserved ones, which
 * are most of a typical identifier (and than translate(), which DuckDB runs slowly).
 */
const URI_RESERVED = sqlLiteral("[^A-Za-z0-9_.!~*'()-]");

/**
 * Code points above the BMP, which are two UTF-16 code units each. The same pattern text in both engines: Trino's
 * Java syntax requires `\x{...}` for them (https://trino.io/docs/current/functions/regexp.html), and RE2 accepts it.
 */
const SUPPLEMENTARY_CODE_POINTS = sqlLiteral('[\\x{10000}-\\x{10FFFF}]');

/**
 * Why a row of the master dataset is skipped, for each rule the event schema applies to its columns, in the order
 * the SQL checks them: a row is counted under the first rule it breaks. The wording follows the event schema's
 * messages. A line the engine cannot read at all arrives as a row without its envelope (Athena's
 * `ignore.malformed.json`; DuckDB's `ignore_errors`), hence the first reason.
 */
export const SKIP_REASONS = {
  envelope: `line: unreadable, or its envelope (${ENVELOPE_FIELDS.arrivalMs}, ${ENVELOPE_FIELDS.shardId}, ${ENVELOPE_FIELDS.sequenceNumber}) is missing`,
  required: (field: string) => `${field}: required`,
  empty: (field: string) => `${field}: expected a non-empty string`,
  edgeWhiteSpace: (field: string) => `${field}: expected no white space at the start or end`,
  tooLong: (field: string) => `${field}: expected at most ${MAX_IDENTIFIER_LENGTH} UTF-16 code units`,
  tooManyEncodedBytes: (field: string) =>
    `${field}: more than ${MAX_ENCODED_IDENTIFIER_BYTES} bytes URI-encoded, the limit that keeps DynamoDB keys within 2,048 bytes`,
  valueRange: (field: string) =>
    `${field}: expected 0 or a magnitude from ${MIN_VALUE_MAGNITUDE} to ${MAX_VALUE_MAGNITUDE}`,
  eventTimeRange: (field: string) =>
    `${field}: expected a time from ${new Date(MIN_EVENT_TIME_MS).toISOString()} to ${new Date(MAX_EVENT_TIME_MS).toISOString()}`,
  aheadOfArrival: (field: string, skewMs: number) => `${field}: more than ${describeDuration(skewMs)} after arrival`,
} as const;

/**
 * A SQL expression that is NULL for a row that satisfies today's event rules (event-limits.ts) on its columns, and
 * otherwise the first reason it breaks them (SKIP_REASONS). It is exact, not merely safe, for every rule a column
 * can show. What no column shows (a lone surrogate anywhere in the line, JSON nesting) is refused before the SQL
 * runs by DuckDB's line screen (adapters/duckdb/archive-line-screen.ts); Athena's SerDe cannot (glue-table.ts).
 *
 * Counting: length() works on code points in both engines (Trino: "the functions operate
 * on Unicode code points", https://trino.io/docs/current/functions/string.html; DuckDB counts graphemes only in its
 * *_grapheme functions), so a UTF-16 length is length() plus one per supplementary code point, which is exact.
 */
export function skipReasonSql(
  dialect: SqlDialect,
  eventTimeSkewMs: number,
  schema: EventSchema = DEFAULT_EVENT_SCHEMA,
): string {
  if (!Number.isSafeInteger(eventTimeSkewMs) || eventTimeSkewMs < 0) {
    throw new Error('eventTimeSkewMs: expected a non-negative integer');
  }
  const fn = DIALECTS[dialect];
  const envelope = [ENVELOPE_FIELDS.arrivalMs, ENVELOPE_FIELDS.shardId, ENVELOPE_FIELDS.sequenceNumber].map(quote);
  const checks: [condition: string, reason: string][] = [
    [envelope.map((column) => `${column} IS NULL`).join(' OR '), SKIP_REASONS.envelope],
  ];
  const check = (column: MasterDatasetColumn): [string, string][] => {
    const x = quote(column.name);
    const field = column.jsonKey;
    switch (column.rule) {
      case 'identifier':
        return [
          [`${x} IS NULL`, SKIP_REASONS.required(field)],
          [`length(${x}) = 0`, SKIP_REASONS.empty(field)],
          [fn.containsMatch(x, EDGE_WHITE_SPACE), SKIP_REASONS.edgeWhiteSpace(field)],
          // Each of the two size rules starts with a cheap bound under which it cannot be broken (half the length
          // in code points; a third of the encoded bytes in UTF-8 bytes), so the regular expression behind it runs
          // only for long identifiers: both engines evaluate AND lazily.
          [
            `length(${x}) > ${Math.floor(MAX_IDENTIFIER_LENGTH / 2)} AND ` +
              `2 * length(${x}) - length(${fn.removeMatches(x, SUPPLEMENTARY_CODE_POINTS)}) > ${MAX_IDENTIFIER_LENGTH}`,
            SKIP_REASONS.tooLong(field),
          ],
          [
            // encodedIdentifierBytes: every UTF-8 byte becomes three (%XX), except the unreserved characters.
            `${fn.utf8Bytes(x)} > ${Math.floor(MAX_ENCODED_IDENTIFIER_BYTES / 3)} AND ` +
              `3 * ${fn.utf8Bytes(x)} - 2 * length(${fn.removeMatches(x, URI_RESERVED)}) > ${MAX_ENCODED_IDENTIFIER_BYTES}`,
            SKIP_REASONS.tooManyEncodedBytes(field),
          ],
        ];
      case 'measuredValue':
        return [
          [`${x} IS NULL`, SKIP_REASONS.required(field)],
          // Stated positively so that NaN fails it in both engines (Trino: every comparison with NaN is false;
          // DuckDB: NaN is above every number).
          [
            `NOT (${x} = 0 OR (abs(${x}) >= ${sqlLiteral(MIN_VALUE_MAGNITUDE)} AND abs(${x}) <= ${sqlLiteral(MAX_VALUE_MAGNITUDE)}))`,
            SKIP_REASONS.valueRange(field),
          ],
        ];
      case 'eventTime':
        return [
          [`${x} IS NULL`, SKIP_REASONS.required(field)],
          [`${x} < ${MIN_EVENT_TIME_MS} OR ${x} > ${MAX_EVENT_TIME_MS}`, SKIP_REASONS.eventTimeRange(field)],
          [
            `${x} > ${quote(ENVELOPE_FIELDS.arrivalMs)} + ${eventTimeSkewMs}`,
            SKIP_REASONS.aheadOfArrival(field, eventTimeSkewMs),
          ],
        ];
      case undefined:
        return [];
    }
  };
  checks.push(...masterDatasetColumns(schema).flatMap(check));
  return [
    'CASE',
    ...checks.map(([condition, reason]) => `      WHEN ${condition} THEN ${sqlLiteral(reason)}`),
    '    END',
  ].join('\n');
}

/**
 * The Hive partitions (`dt`, `hour` of arrival) that can hold arrivals in [from, to): a predicate that only prunes,
 * so that an engine reads the window's objects and not all of history. The arrival predicate is what decides.
 */
export function arrivalPartitionsSql(fromMs: number, toMs: number): string {
  const first = new Date(fromMs).toISOString();
  const last = new Date(toMs - 1).toISOString();
  const firstDay = sqlLiteral(first.slice(0, 10));
  const firstHour = sqlLiteral(first.slice(11, 13));
  const lastDay = sqlLiteral(last.slice(0, 10));
  const lastHour = sqlLiteral(last.slice(11, 13));
  return (
    `("dt" > ${firstDay} OR ("dt" = ${firstDay} AND "hour" >= ${firstHour}))` +
    ` AND ("dt" < ${lastDay} OR ("dt" = ${lastDay} AND "hour" <= ${lastHour}))`
  );
}

function checkWindow(fromMs: number, toMs: number): void {
  if (!Number.isSafeInteger(fromMs) || fromMs < 0) throw new Error('arrivalFromMs: expected a non-negative integer');
  if (!Number.isSafeInteger(toMs) || toMs <= fromMs)
    throw new Error('arrivalToMs: expected an integer after arrivalFromMs');
}

/**
 * The rows a run reads: every row that arrived in [from, to), with its skip reason (NULL when it satisfies the
 * event rules). A row without an arrival time is read too by the window that starts at 0, so that the skipped-rows
 * query counts it once.
 */
function checkedRowsSql({
  source,
  arrivalFromMs,
  arrivalToMs,
  dialect,
  eventTimeSkewMs,
  schema = DEFAULT_EVENT_SCHEMA,
}: BatchSqlInputs): string[] {
  checkWindow(arrivalFromMs, arrivalToMs);
  const arrival = quote(ENVELOPE_FIELDS.arrivalMs);
  const inWindow = `${arrival} >= ${arrivalFromMs} AND ${arrival} < ${arrivalToMs}`;
  return [
    'checked AS (',
    `  SELECT ${masterDatasetColumns(schema)
      .map((column) => quote(column.name))
      .join(', ')},`,
    `    ${skipReasonSql(dialect, eventTimeSkewMs, schema)} AS "skip_reason"`,
    `  FROM ${source}`,
    `  WHERE (${inWindow}${arrivalFromMs === 0 ? ` OR ${arrival} IS NULL` : ''})`,
    `    AND ${arrivalPartitionsSql(arrivalFromMs, arrivalToMs)}`,
    ')',
  ];
}

/**
 * How many rows the run skips because they break today's event rules, per reason (SKIPPED_RESULT_COLUMNS): the
 * rows every view's SQL leaves out, since each reads the same checked rows. Rows that arrived after the cutoff
 * belong to a later run and are not counted.
 */
export function skippedRowsSql(inputs: BatchSqlInputs): string {
  return [
    `WITH ${checkedRowsSql(inputs).join('\n')}`,
    `SELECT "skip_reason" AS "${SKIPPED_RESULT_COLUMNS.reason}", count(*) AS "${SKIPPED_RESULT_COLUMNS.rows}"`,
    'FROM checked',
    'WHERE "skip_reason" IS NOT NULL',
    'GROUP BY 1',
  ].join('\n');
}

/**
 * A view's rows over the records that arrived in the window: only rows that satisfy today's event rules
 * (skipReasonSql) are considered, so an invalid copy never hides a valid one; then each Kinesis record counts once
 * (duplicate deliveries share their arrival, hence their window), or with `dedupeByEventId` each copy counts unless
 * an earlier copy of its eventId arrived at most the horizon before it; then the filter, retention and GROUP BY.
 */
export function batchViewSql(view: ViewDefinition, inputs: ViewSqlInputs): string {
  checkWindow(inputs.arrivalFromMs, inputs.arrivalToMs);
  const arrival = quote(ENVELOPE_FIELDS.arrivalMs);
  const horizon = view.dedupeByEventId ? inputs.dedupHorizonMs : 0;
  if (!Number.isSafeInteger(horizon) || horizon < 0) throw new Error('dedupHorizonMs: expected a non-negative integer');
  const readFrom = Math.max(0, inputs.arrivalFromMs - horizon);
  const ordering = [
    ENVELOPE_FIELDS.arrivalMs,
    ENVELOPE_FIELDS.shardId,
    ENVELOPE_FIELDS.sequenceNumber,
    ENVELOPE_FIELDS.subSequenceNumber,
  ];
  const columns = [
    ...new Set<string>([
      ...view.dimensions,
      ...view.filter.map((c) => c.field),
      ...view.stored.map((measure) => measure.field),
      view.schema.time,
      ...(view.dedupeByEventId ? [view.schema.id, ...ordering] : [ENVELOPE_FIELDS.arrivalMs]),
    ]),
  ];
  const order =
    `${arrival}, ${quote(ENVELOPE_FIELDS.shardId)}, lpad(${quote(ENVELOPE_FIELDS.sequenceNumber)}, ${SEQUENCE_DIGITS}, '0'), ` +
    quote(ENVELOPE_FIELDS.subSequenceNumber);
  const copies = `PARTITION BY ${quote(ENVELOPE_FIELDS.shardId)}, ${quote(ENVELOPE_FIELDS.sequenceNumber)}, ${quote(ENVELOPE_FIELDS.subSequenceNumber)}`;
  // Each Kinesis record once first (its duplicate deliveries tie on every ordering column), then, among distinct
  // records only, the arrival of the eventId's previous copy. The copies' row_number() has no ORDER BY: they are
  // the same record, and with an ORDER BY, DuckDB 1.5's TopN window elimination fails the query with an internal
  // error ("Failed to cast expression to type") when the window has a lower bound on arrival (duckdb/duckdb#21387).
  const previousCopy = view.dedupeByEventId
    ? `,\n    lag(${arrival}) OVER (PARTITION BY ${quote(view.schema.id)} ORDER BY ${order}) AS "previous_copy"`
    : '';
  const size = GRANULARITY_MS[view.granularity];
  const ts = `CAST(${quote(view.schema.time)} AS BIGINT)`;
  const bucket = `${ts} - (${ts} % ${size})`;
  const epoch = inputs.epochLengthMs;
  if (epoch !== undefined && (!Number.isSafeInteger(epoch) || epoch <= 0)) {
    throw new Error('epochLengthMs: expected a positive integer');
  }
  // A result row's group, as kept's columns and as the result's: its dimensions, its bucket and (for realtime
  // items) its epoch. kept's names are prefixed (and reserved in event-schema-definition.ts), as kept also holds the
  // raw fields.
  const resultGroup = [
    ...view.dimensions.map((_, index) => BATCH_RESULT_COLUMNS.dimension(index)),
    BATCH_RESULT_COLUMNS.bucket,
    ...(epoch === undefined ? [] : [BATCH_RESULT_COLUMNS.epoch]),
  ];
  const group = resultGroup.map((column) => `"${KEPT_PREFIX}${column}"`);
  const keep = [
    ...(view.dedupeByEventId
      ? [
          `${arrival} >= ${inputs.arrivalFromMs}`,
          `("previous_copy" IS NULL OR ${arrival} - "previous_copy" > ${horizon})`,
        ]
      : []),
    ...((inputs.firstBucketMs ?? 0) > 0 ? [`${bucket} >= ${inputs.firstBucketMs}`] : []),
    ...view.filter.map(filterSql),
  ];
  const kept = [
    ...view.dimensions.map((field) => `CAST(${quote(field)} AS VARCHAR)`),
    bucket,
    ...(epoch === undefined ? [] : [`${arrival} - (${arrival} % ${epoch})`]),
  ].map((expression, index) => `${expression} AS ${group[index] ?? ''}`);
  const numeric = (measure: StoredMeasure): string | undefined => {
    const value = `CAST(${quote(measure.field)} AS DOUBLE)`;
    if (measure.kind === 'sumSquares') return `sum(${value} * ${value})`;
    if (measure.kind === 'sum' || measure.kind === 'min' || measure.kind === 'max') {
      return `${measure.kind}(${value})`;
    }
    return undefined;
  };
  const aggregated = [
    ...group.map((column, index) => `${column} AS "${resultGroup[index] ?? ''}"`),
    `count(*) AS "${BATCH_RESULT_COLUMNS.count}"`,
    ...view.stored.flatMap((measure, index) => {
      const aggregate = numeric(measure);
      return aggregate === undefined ? [] : [`${aggregate} AS "${BATCH_RESULT_COLUMNS.stored(index)}"`];
    }),
    `min(${arrival}) AS "${BATCH_RESULT_COLUMNS.firstArrival}"`,
    `max(${arrival}) AS "${BATCH_RESULT_COLUMNS.lastArrival}"`,
  ];
  const sketches = view.stored.flatMap((measure, index) =>
    measure.kind === 'distinct' || measure.kind === 'histogram' ? [{ measure, index }] : [],
  );
  const fn = DIALECTS[inputs.dialect];
  const result = [
    'aggregated AS (',
    `  SELECT ${aggregated.join(',\n    ')}`,
    '  FROM kept',
    `  GROUP BY ${positions(group.length)}`,
    ')',
  ];
  const sketchSql = sketches.flatMap(({ measure, index }) => [
    ',',
    ...sketchCellsSql(`sketch_${index}`, measure, group, fn),
  ]);
  const joined = sketches.map(
    ({ index }) =>
      `LEFT JOIN sketch_${index} ON ` +
      resultGroup
        .map((column, position) => `aggregated."${column}" = sketch_${index}.${group[position] ?? ''}`)
        .join(' AND '),
  );
  return [
    `WITH ${checkedRowsSql({ ...inputs, schema: view.schema, arrivalFromMs: readFrom }).join('\n')},`,
    'records AS (',
    `  SELECT ${columns.map(quote).join(', ')},`,
    `    row_number() OVER (${copies}) AS "copy_rank"`,
    '  FROM checked',
    '  WHERE "skip_reason" IS NULL',
    '),',
    'ranked AS (',
    `  SELECT ${columns.map(quote).join(', ')}${previousCopy}`,
    '  FROM records',
    '  WHERE "copy_rank" = 1',
    '),',
    'kept AS (',
    `  SELECT ${[...kept, ...columns.map(quote)].join(',\n    ')}`,
    '  FROM ranked',
    ...(keep.length === 0 ? [] : [`  WHERE ${keep.join('\n    AND ')}`]),
    '),',
    ...result,
    ...sketchSql,
    `SELECT aggregated.*${sketches.map(({ index }) => `, sketch_${index}."cells" AS "${BATCH_RESULT_COLUMNS.stored(index)}"`).join('')}`,
    'FROM aggregated',
    ...joined,
  ].join('\n');
}

/**
 * A sketch's cells per group, as `slot:value` pairs joined by commas: for a distinct measure the register index and
 * its rank (the maximum over the group's values), for a histogram the bin and its count. Both are computed with
 * integer arithmetic and comparisons only, as hyperloglog.ts and histogram.ts compute them.
 */
function sketchCellsSql(
  name: string,
  measure: StoredMeasure,
  group: readonly string[],
  fn: DialectFunctions,
): string[] {
  const field = quote(measure.field);
  const slots = positions(group.length + 1);
  const cells = `${fn.joinWithCommas(`CAST("slot" AS VARCHAR) || ':' || CAST("slot_value" AS VARCHAR)`)} AS "cells"`;
  const rows =
    measure.kind === 'distinct'
      ? [
          `${name}_hashes AS (`,
          `  SELECT ${group.join(', ')}, ${fn.md5Hex(`CAST(${field} AS VARCHAR)`)} AS "hash_hex"`,
          '  FROM kept',
          '),',
          `${name}_words AS (`,
          `  SELECT ${group.join(', ')}, ${fn.hexToBigint(`substr("hash_hex", 1, 8)`)} AS "hash_hi", ` +
            `${fn.hexToBigint(`substr("hash_hex", 9, 8)`)} AS "hash_lo"`,
          `  FROM ${name}_hashes`,
          '),',
          `${name}_slots AS (`,
          `  SELECT ${group.join(', ')}, ${hllSlotsSql(measure.precision, fn)}`,
          `  FROM ${name}_words`,
          `  GROUP BY ${slots}`,
          '),',
        ]
      : [
          `${name}_values AS (`,
          `  SELECT ${group.join(', ')}, CAST(${field} AS DOUBLE) AS "slot_input"`,
          '  FROM kept',
          '),',
          `${name}_slots AS (`,
          `  SELECT ${group.join(', ')}, ${binSql('"slot_input"', measure.kind === 'histogram' ? measure.boundaries : [], 0)} AS "slot", count(*) AS "slot_value"`,
          `  FROM ${name}_values`,
          `  GROUP BY ${slots}`,
          '),',
        ];
  return [
    ...rows,
    `${name} AS (`,
    `  SELECT ${group.join(', ')}, ${cells}`,
    `  FROM ${name}_slots`,
    `  GROUP BY ${positions(group.length)}`,
    ')',
  ];
}

const positions = (count: number) => Array.from({ length: count }, (_, index) => index + 1).join(', ');

/**
 * A value's register and rank (hyperloglog.ts) from its MD5's first two 32-bit words: the index is the top
 * `precision` bits of the first, the rank one more than the leading zeros of the remaining 64 − precision bits,
 * found by comparing with each power of two.
 */
function hllSlotsSql(precision: number, fn: DialectFunctions): string {
  const hi = '"hash_hi"';
  const lo = '"hash_lo"';
  const rest = 32 - precision;
  const low = `(${hi} % ${2 ** rest})`;
  const ranks: string[] = [];
  for (let bit = rest - 1; bit >= 0; bit -= 1) ranks.push(`WHEN ${low} >= ${2 ** bit} THEN ${rest - bit}`);
  for (let bit = 31; bit >= 0; bit -= 1) ranks.push(`WHEN ${lo} >= ${2 ** bit} THEN ${rest + 32 - bit}`);
  return [
    `${fn.divide(hi, String(2 ** rest))} AS "slot"`,
    `max(CASE ${ranks.join(' ')} ELSE ${65 - precision} END) AS "slot_value"`,
  ].join(', ');
}

/**
 * A value's histogram bin (histogram.ts: the number of boundaries below it) as a binary search of nested CASEs, so
 * that each boundary is spelled once and a row takes about log2(boundaries) comparisons. Boundaries are written as
 * DOUBLE literals (a plain decimal is a DECIMAL in Trino) with the digits JavaScript needs to read back each one.
 */
function binSql(value: string, boundaries: readonly number[], first: number, last = boundaries.length): string {
  if (first === last) return String(first);
  const middle = (first + last) >> 1;
  const boundary = (boundaries[middle] as number).toExponential().toUpperCase();
  return `CASE WHEN ${value} <= ${boundary} THEN ${binSql(value, boundaries, first, middle)} ELSE ${binSql(value, boundaries, middle + 1, last)} END`;
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
  const numbers: Record<NumericPart, Record<string, number>> = { sum: {}, min: {}, max: {}, sumSquares: {} };
  const distinct: Record<string, HllRegisters> = {};
  const histogram: Record<string, BinCounts> = {};
  view.stored.forEach((measure, index) => {
    const cell = row[BATCH_RESULT_COLUMNS.stored(index)];
    if (cell === null || cell === undefined) return;
    if (measure.kind === 'distinct') distinct[measure.attribute] = sketchCells(String(cell), Math.max);
    else if (measure.kind === 'histogram') histogram[measure.attribute] = sketchCells(String(cell), (a, b) => a + b);
    else numbers[measure.kind][measure.attribute] = Number(cell);
  });
  const measures: Measures = { count: numberAt(BATCH_RESULT_COLUMNS.count, 0), ...numbers, distinct, histogram };
  const values = view.dimensions.map((_, index) => String(row[BATCH_RESULT_COLUMNS.dimension(index)] ?? ''));
  return { dimensionKey: encodeDimensionKey(values), bucket: numberAt(BATCH_RESULT_COLUMNS.bucket, 0), measures };
}

/** A sketch column's `slot:value` pairs; a slot named twice (it is not, from one GROUP BY) would merge. */
function sketchCells(text: string, merge: (a: number, b: number) => number): Map<number, number> {
  const cells = new Map<number, number>();
  if (text === '') return cells;
  for (const pair of text.split(',')) {
    const [slot, value] = pair.split(':').map(Number);
    if (slot === undefined || value === undefined || !Number.isInteger(slot) || !Number.isInteger(value)) {
      throw new Error(`a batch result's sketch cell is not slot:value: ${JSON.stringify(pair)}`);
    }
    const existing = cells.get(slot);
    cells.set(slot, existing === undefined ? value : merge(existing, value));
  }
  return cells;
}

/** When a result row's records first and last arrived, epoch ms: what the key directory records of its key. */
export function batchRowArrivals(row: Readonly<Record<string, SqlCell>>): { first: number; last: number } {
  const first = row[BATCH_RESULT_COLUMNS.firstArrival];
  const last = row[BATCH_RESULT_COLUMNS.lastArrival];
  if (first === null || first === undefined || last === null || last === undefined) {
    throw new Error('a batch result row has no first_arrival or last_arrival');
  }
  return { first: Number(first), last: Number(last) };
}
