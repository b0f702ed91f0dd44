import { DEFAULT_EVENT_SCHEMA, type EventSchema } from '../../core/event-schema';
import { masterDatasetColumns, type ColumnType } from '../../core/master-dataset-columns';
import { sqlLiteral } from '../../core/batch-sql';

const DUCKDB_TYPES: Readonly<Record<ColumnType, string>> = { string: 'VARCHAR', double: 'DOUBLE', bigint: 'BIGINT' };

/**
 * SQL that defines the master dataset as a DuckDB view over local NDJSON files (gzip when named .gz), with the columns
 * Glue declares and `dt`/`hour` derived from the arrival time. Deriving the partitions, instead of reading them
 * from object keys, makes the view independent of the layout (emulators write `YYYY/MM/DD/HH/`), and lets the
 * batch SQL keep its partition predicate, so that Athena and DuckDB run the same text.
 *
 * `ignore_errors`: a line read_json cannot read (one the line screen let through, or a value of the wrong type)
 * becomes a row of NULLs, or a NULL in that column, instead of failing every query over the dataset: as Athena's
 * SerDe does with `ignore.malformed.json` (glue-table.ts). The batch SQL skips and counts such rows by reason; one
 * without an arrival time has no partition either, so the engine counts those (unplacedRowsSql).
 */
export function masterDatasetViewSql(
  viewName: string,
  files: readonly string[],
  schema: EventSchema = DEFAULT_EVENT_SCHEMA,
): string {
  return [
    `CREATE OR REPLACE VIEW "${viewName}" AS`,
    'SELECT *,',
    `  strftime(epoch_ms("arrival_ms"), '%Y-%m-%d') AS "dt",`,
    `  strftime(epoch_ms("arrival_ms"), '%H') AS "hour"`,
    `FROM (${filesSql(files, schema)})`,
  ].join('\n');
}

/** The master dataset's columns over local NDJSON files, read as the view reads them. */
function filesSql(files: readonly string[], schema: EventSchema): string {
  if (files.length === 0) {
    const nulls = masterDatasetColumns(schema).map(
      (column) => `CAST(NULL AS ${DUCKDB_TYPES[column.type]}) AS "${column.name}"`,
    );
    return `SELECT ${nulls.join(', ')} WHERE false`;
  }
  const columns = masterDatasetColumns(schema).map(
    (column) => `${sqlLiteral(column.jsonKey)}: ${sqlLiteral(DUCKDB_TYPES[column.type])}`,
  );
  return (
    `SELECT * FROM read_json([${files.map(sqlLiteral).join(', ')}], format = 'newline_delimited', ` +
    `columns = {${columns.join(', ')}}, ignore_errors = true)`
  );
}

/**
 * Rows of some of the view's files without an arrival time: lines read_json could not read, or whose envelope lacks
 * arrival_ms. They fall in no partition, so no run's SQL sees them; the engine counts them instead, over the files
 * whose lines its session counts (duckdb-engine.ts), so that consecutive windows count each once.
 */
export function unplacedRowsSql(files: readonly string[], schema: EventSchema = DEFAULT_EVENT_SCHEMA): string {
  return `SELECT count(*) AS "rows" FROM (${filesSql(files, schema)}) WHERE "arrival_ms" IS NULL`;
}
