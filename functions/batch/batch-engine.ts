import type { SqlCell } from '../core/batch-sql';

/** One query's result: rows keyed by column name, and what it cost. */
export interface QueryResult {
  readonly rows: readonly Readonly<Record<string, SqlCell>>[];
  /** Bytes the engine read: Athena's DataScannedInBytes, or the bytes DuckDB downloaded. */
  readonly bytesScanned: number;
  readonly seconds: number;
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
  run(sql: string): Promise<QueryResult>;
  close(): Promise<void>;
}
