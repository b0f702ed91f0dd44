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

/** The arrivals a session's queries read: [from, to). An engine that gathers the data first gathers only these. */
export interface SessionScope {
  readonly arrivalFromMs: number;
  readonly arrivalToMs: number;
  /**
   * Where the arrivals this session reports skipped lines for start, when it reads earlier ones only to look back
   * (a de-dup horizon): consecutive windows then count each line once. @default arrivalFromMs
   */
  readonly countedFromMs?: number;
}

/** Where an exported result goes: an S3 prefix the engine writes gzip JSON-lines files under (it must be empty). */
export interface ExportDestination {
  readonly bucket: string;
  readonly prefix: string;
}

export interface ExportedResult {
  /** The files' S3 keys, sorted; each line is one result row, a JSON object keyed by column name. */
  readonly files: readonly string[];
  /** Rows written, when the engine reports it (Athena's UNLOAD does not). */
  readonly rows: number | null;
  readonly bytesScanned: number;
  readonly seconds: number;
}

/**
 * A batch engine runs the generated SQL (DESIGN.md §6) over the master dataset. A run opens one session per arrival
 * window for all views, so an engine that must first gather the data (DuckDB) does it once per window, and only for
 * the window's partitions.
 */
export interface BatchEngine {
  open(scope: SessionScope): Promise<BatchQuerySession>;
}

export interface BatchQuerySession {
  /** The relation the SQL reads the master dataset from. */
  readonly source: string;
  /** Which spelling of the batch SQL the engine runs (batch-sql.ts). */
  readonly dialect: SqlDialect;
  readonly preparation?: SessionPreparation;
  run(sql: string): Promise<QueryResult>;
  /**
   * Runs a query whose result may be larger than memory and writes it to S3 as files (a rebuild's or a replay's
   * rows), for invocations that each write a part of it: Athena's UNLOAD; DuckDB's COPY, then an upload.
   */
  exportTo(sql: string, destination: ExportDestination): Promise<ExportedResult>;
  close(): Promise<void>;
}
