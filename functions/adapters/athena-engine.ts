import { randomUUID } from 'node:crypto';
import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type AthenaClient,
  type QueryExecution,
} from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import { listKeys } from './s3-listing';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { sqlLiteral, type SqlCell } from '../core/batch-sql';
import type {
  BatchEngine,
  BatchQuerySession,
  ExportDestination,
  ExportedResult,
  QueryResult,
} from '../batch/batch-engine';

export interface AthenaEngineOptions {
  /** Its own retries (throttling, 5xx) cover each request; the engine adds polling on top. */
  readonly client: AthenaClient;
  readonly workgroup: string;
  readonly database: string;
  /** The master dataset's Glue table. */
  readonly table: string;
  /**
   * Lists the files an export wrote: UNLOAD names them only in a manifest under the workgroup's result location.
   * Only exportTo needs it.
   */
  readonly s3?: S3Client;
  /** First pause between polls; it doubles up to `maxPollMs`. @default 500 */
  readonly firstPollMs?: number;
  /** @default 5000 */
  readonly maxPollMs?: number;
  /** How long one query may take, queueing included, before it is stopped. @default 10 minutes */
  readonly deadlineMs?: number;
  /** Rows per GetQueryResults page (Athena's maximum is 1000). @default 1000 */
  readonly pageSize?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/** An Athena query that ended in FAILED or CANCELLED, with Athena's own reason and error classification. */
export class AthenaQueryError extends Error {
  constructor(
    readonly queryExecutionId: string,
    readonly state: string,
    readonly reason: string | undefined,
    readonly errorType?: number,
    readonly errorCategory?: number,
  ) {
    const details =
      errorType === undefined && errorCategory === undefined
        ? ''
        : ` (error type ${errorType ?? 'unknown'}, category ${errorCategory ?? 'unknown'})`;
    super(`Athena query ${queryExecutionId} ${state.toLowerCase()}: ${reason ?? 'no reason given'}${details}`);
    this.name = 'AthenaQueryError';
  }
}

/**
 * Athena over the Glue table of the master dataset, running the generated SQL in the configured workgroup (which
 * enforces the result location, encryption and the bytes-scanned cutoff). Failures and cancellations surface
 * Athena's own reason; a query past the deadline, or whose polling fails, is stopped, so it stops costing.
 */
export class AthenaEngine implements BatchEngine {
  constructor(private readonly options: AthenaEngineOptions) {}

  /** The scope needs no preparation: the batch SQL's partition predicate prunes what Athena reads. */
  async open(): Promise<BatchQuerySession> {
    return {
      source: `"${this.options.database}"."${this.options.table}"`,
      dialect: 'trino',
      run: (sql) => this.run(sql),
      exportTo: (sql, destination) => this.exportTo(sql, destination),
      close: async () => undefined,
    };
  }

  private async run(sql: string): Promise<QueryResult> {
    const { id, execution, started } = await this.execute(sql);
    const rows = await this.results(id);
    const now = this.options.now ?? Date.now;
    return { rows, bytesScanned: execution.Statistics?.DataScannedInBytes ?? 0, seconds: (now() - started) / 1000 };
  }

  /**
   * UNLOAD writes the result as gzip JSON-lines files, one object per row keyed by column name, under the
   * destination, which Athena requires to be empty (and which it leaves as it is after a failure: a retry needs a
   * fresh prefix). The files are then found by listing the destination. Athena reports no row count for UNLOAD: its
   * Statistics hold bytes and times only, and GetQueryRuntimeStatistics fills its row counts in asynchronously.
   */
  private async exportTo(sql: string, { bucket, prefix }: ExportDestination): Promise<ExportedResult> {
    const { s3 } = this.options;
    if (s3 === undefined) throw new Error('AthenaEngine: exportTo needs the s3 option, to list the files UNLOAD wrote');
    if (bucket === '') throw new Error('export destination: expected a bucket');
    if (!prefix.endsWith('/')) {
      throw new Error(`export destination: expected a prefix that ends with '/', got '${prefix}'`);
    }
    const { execution, started } = await this.execute(unloadSql(sql, { bucket, prefix }));
    // Folder markers and empty objects hold no rows, and an empty object is no gzip stream to read: listKeys skips both.
    const files = await listKeys(s3, bucket, prefix);
    const now = this.options.now ?? Date.now;
    return {
      files,
      rows: null,
      bytesScanned: execution.Statistics?.DataScannedInBytes ?? 0,
      seconds: (now() - started) / 1000,
    };
  }

  /** Starts the query and waits for it to succeed; a query that fails to finish is stopped, so it stops costing. */
  private async execute(sql: string): Promise<{ id: string; execution: QueryExecution; started: number }> {
    const { client, workgroup, database } = this.options;
    const now = this.options.now ?? Date.now;
    const started = now();
    const { QueryExecutionId: id } = await client.send(
      new StartQueryExecutionCommand({
        QueryString: sql,
        WorkGroup: workgroup,
        QueryExecutionContext: { Database: database },
        // The SDK retries a start that timed out; the token makes Athena run it once, not twice.
        ClientRequestToken: randomUUID(),
      }),
    );
    if (id === undefined) throw new Error('Athena returned no QueryExecutionId');
    try {
      return { id, execution: await this.untilDone(id, started), started };
    } catch (error) {
      if (!(error instanceof AthenaQueryError)) await this.stop(id);
      throw error;
    }
  }

  /** Polls with exponential backoff until the query succeeds; throws on failure, cancellation or the deadline. */
  private async untilDone(id: string, started: number): Promise<QueryExecution> {
    const sleep = this.options.sleep ?? ((ms: number) => sleepFor(ms));
    const now = this.options.now ?? Date.now;
    const deadlineMs = this.options.deadlineMs ?? 600_000;
    let pause = this.options.firstPollMs ?? 500;
    for (;;) {
      const { QueryExecution: execution } = await this.options.client.send(
        new GetQueryExecutionCommand({ QueryExecutionId: id }),
      );
      const state = execution?.Status?.State;
      if (state === 'SUCCEEDED' && execution !== undefined) return execution;
      if (state === 'FAILED' || state === 'CANCELLED') {
        const athenaError = execution?.Status?.AthenaError;
        throw new AthenaQueryError(
          id,
          state,
          execution?.Status?.StateChangeReason ?? athenaError?.ErrorMessage,
          athenaError?.ErrorType,
          athenaError?.ErrorCategory,
        );
      }
      if (now() - started + pause > deadlineMs) {
        throw new Error(`Athena query ${id} did not finish within ${deadlineMs} ms (last state ${state ?? 'unknown'})`);
      }
      await sleep(pause);
      pause = Math.min(pause * 2, this.options.maxPollMs ?? 5_000);
    }
  }

  /** Best effort: the error that led here is the one worth reporting. */
  private async stop(id: string): Promise<void> {
    try {
      await this.options.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
    } catch {
      // Already finished, or Athena unreachable: the workgroup's bytes-scanned cutoff still bounds its cost.
    }
  }

  /**
   * Every result row by column name, over all pages. The first row of the first page is the header; the column
   * names come from the first page's metadata, which later pages may omit.
   */
  private async results(id: string): Promise<Record<string, SqlCell>[]> {
    const rows: Record<string, SqlCell>[] = [];
    let columns: string[] | undefined;
    let nextToken: string | undefined;
    do {
      const page = await this.options.client.send(
        new GetQueryResultsCommand({
          QueryExecutionId: id,
          NextToken: nextToken,
          MaxResults: this.options.pageSize ?? 1000,
        }),
      );
      let data = page.ResultSet?.Rows ?? [];
      if (columns === undefined) {
        const header = data[0]?.Data?.map((cell) => cell.VarCharValue ?? '') ?? [];
        const described = page.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((column) => column.Name ?? '');
        columns = described !== undefined && described.length > 0 ? described : header;
        data = data.slice(1);
      }
      const names = columns;
      for (const row of data) {
        rows.push(Object.fromEntries(names.map((name, index) => [name, row.Data?.[index]?.VarCharValue ?? null])));
      }
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    return rows;
  }
}

/**
 * Athena's UNLOAD of a query to an S3 prefix as gzip JSON lines. The query stands on lines of its own, so that a
 * trailing line comment in it cannot swallow the closing parenthesis.
 */
export function unloadSql(sql: string, { bucket, prefix }: ExportDestination): string {
  return `UNLOAD (\n${sql}\n) TO ${sqlLiteral(`s3://${bucket}/${prefix}`)} WITH (format = 'JSON', compression = 'GZIP')`;
}
