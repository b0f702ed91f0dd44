import type { SqlCell, SqlDialect } from '../core/batch-sql';

/** One query's result: rows keyed by column name, and what it cost. */
export interface QueryResult {
  readonly rows: readonly Readonly<Record<string, SqlCell>>[];
  /** Bytes of the master dataset the query read: Athena's DataScannedInBytes, or the files DuckDB scanned. */
  readonly bytesScanned: number;
  /** Wall-clock time of the query, queueing included. */
  readonly seconds: number;
}

/** Work an engine does once per run before any query, such as DuckDB gathering the objects from S3. */
export interface SessionPreparation {
  readonly objects: number;
  readonly bytes: number;
  readonly seconds: number;
  /**
   * Lines of the master dataset the engine left out before any SQL ran, by reason: those it cannot read, or that
   * break an event rule no column shows (DuckDB: see duckdb/archive-line-screen.ts). They are no view's rows.
   */
  readonly skippedLines?: Readonly<Record<string, number>>;
}

/**
 * A batch engine runs the generated SQL (DESIGN.md §6) over the master dataset. A run opens one session for all
 * views, so an engine that must first gather the data (DuckDB) does it once per run.
 */
export interface BatchEngine {
  open(): Promise<BatchQuerySession>;
}

export interface BatchQuerySession {
  /** The relation the SQL reads the master dataset from. */
  readonly source: string;
  /** Which spelling of the batch SQL the engine runs (batch-sql.ts). */
  readonly dialect: SqlDialect;
  readonly preparation?: SessionPreparation;
  run(sql: string): Promise<QueryResult>;
  close(): Promise<void>;
}
