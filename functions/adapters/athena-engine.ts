import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type AthenaClient,
} from '@aws-sdk/client-athena';
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { SqlCell } from '../core/batch-sql';
import type { BatchEngine, BatchQuerySession, QueryResult } from '../batch/batch-engine';

export interface AthenaEngineOptions {
  readonly client: AthenaClient;
  readonly workgroup: string;
  readonly database: string;
  /** The master dataset's Glue table. */
  readonly table: string;
  /** First pause between polls; it doubles up to `maxPollMs`. @default 500 */
  readonly firstPollMs?: number;
  /** @default 5000 */
  readonly maxPollMs?: number;
  /** How long one query may run before it is stopped. @default 10 minutes */
  readonly deadlineMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/**
 * Athena over the Glue table of the master dataset, running the generated SQL in the configured workgroup (which
 * enforces the result location, encryption and the bytes-scanned cutoff). Failures and cancellations surface
 * Athena's own reason; a query past the deadline is stopped, so it stops costing.
 */
export class AthenaEngine implements BatchEngine {
  constructor(private readonly options: AthenaEngineOptions) {}

  async open(): Promise<BatchQuerySession> {
    return {
      source: `"${this.options.database}"."${this.options.table}"`,
      run: (sql) => this.run(sql),
      close: async () => undefined,
    };
  }

  private async run(sql: string): Promise<QueryResult> {
    const { client, workgroup, database } = this.options;
    const sleep = this.options.sleep ?? ((ms: number) => sleepFor(ms));
    const now = this.options.now ?? Date.now;
    const started = now();
    const { QueryExecutionId: id } = await client.send(
      new StartQueryExecutionCommand({
        QueryString: sql,
        WorkGroup: workgroup,
        QueryExecutionContext: { Database: database },
      }),
    );
    if (id === undefined) throw new Error('Athena returned no QueryExecutionId');

    let pause = this.options.firstPollMs ?? 500;
    for (;;) {
      const { QueryExecution: execution } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      const state = execution?.Status?.State;
      if (state === 'SUCCEEDED') {
        const rows = await this.results(id);
        const statistics = execution?.Statistics;
        return {
          rows,
          bytesScanned: statistics?.DataScannedInBytes ?? 0,
          seconds: (statistics?.EngineExecutionTimeInMillis ?? now() - started) / 1000,
        };
      }
      if (state === 'FAILED' || state === 'CANCELLED') {
        const error = execution?.Status?.AthenaError;
        const details = error === undefined ? '' : ` (error type ${error.ErrorType}, category ${error.ErrorCategory})`;
        throw new Error(
          `Athena query ${id} ${state.toLowerCase()}: ${execution?.Status?.StateChangeReason ?? 'no reason given'}${details}`,
        );
      }
      if (now() - started + pause > (this.options.deadlineMs ?? 600_000)) {
        await client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
        throw new Error(
          `Athena query ${id} did not finish within ${this.options.deadlineMs ?? 600_000} ms and was stopped`,
        );
      }
      await sleep(pause);
      pause = Math.min(pause * 2, this.options.maxPollMs ?? 5_000);
    }
  }

  /** Every result row by column name; the first row of the first page is the header. */
  private async results(id: string): Promise<Record<string, SqlCell>[]> {
    const rows: Record<string, SqlCell>[] = [];
    let nextToken: string | undefined;
    let first = true;
    do {
      const page = await this.options.client.send(
        new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: nextToken }),
      );
      const columns = (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((column) => column.Name ?? '');
      const data = page.ResultSet?.Rows ?? [];
      for (const row of first ? data.slice(1) : data) {
        rows.push(Object.fromEntries(columns.map((name, index) => [name, row.Data?.[index]?.VarCharValue ?? null])));
      }
      first = false;
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    return rows;
  }
}
