import { MASTER_DATASET_COLUMNS, type ColumnType } from '../../core/master-dataset-columns';
import { sqlLiteral } from '../../core/batch-sql';

const DUCKDB_TYPES: Readonly<Record<ColumnType, string>> = { string: 'VARCHAR', double: 'DOUBLE', bigint: 'BIGINT' };

/**
 * SQL that defines the master dataset as a DuckDB view over local NDJSON files (gzip when named .gz), with the columns
 * Glue declares and `dt`/`hour` derived from the arrival time. Deriving the partitions, instead of reading them
 * from object keys, makes the view independent of the layout (emulators write `YYYY/MM/DD/HH/`), and lets the
 * batch SQL keep its partition predicate, so that Athena and DuckDB run the same text.
 */
export function masterDatasetViewSql(viewName: string, files: readonly string[]): string {
  const columns = MASTER_DATASET_COLUMNS.map(
    (column) => `${sqlLiteral(column.jsonKey)}: ${sqlLiteral(DUCKDB_TYPES[column.type])}`,
  );
  const source =
    files.length === 0
      ? `SELECT ${MASTER_DATASET_COLUMNS.map((column) => `CAST(NULL AS ${DUCKDB_TYPES[column.type]}) AS "${column.name}"`).join(', ')} WHERE false`
      : `SELECT * FROM read_json([${files.map(sqlLiteral).join(', ')}], format = 'newline_delimited', ` +
        `columns = {${columns.join(', ')}})`;
  return [
    `CREATE OR REPLACE VIEW "${viewName}" AS`,
    'SELECT *,',
    `  strftime(epoch_ms("arrival_ms"), '%Y-%m-%d') AS "dt",`,
    `  strftime(epoch_ms("arrival_ms"), '%H') AS "hour"`,
    `FROM (${source})`,
  ].join('\n');
}
