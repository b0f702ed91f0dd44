import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AthenaClient } from '@aws-sdk/client-athena';
import { AthenaEngine, AthenaQueryError } from '../../functions/adapters/athena-engine';

/**
 * A local server speaking Athena's JSON 1.1 protocol (X-Amz-Target: AmazonAthena.*), scripted per test, so that the
 * real AthenaClient and the engine are exercised over HTTP: request shapes, polling, pagination and errors. It
 * proves what the engine sends and how it reads Athena's documented answers; it cannot prove Athena's own
 * behaviour (that the SQL runs on Trino, or how the service paginates), which needs a real account.
 */
interface Script {
  /** States GetQueryExecution reports, one per poll; the last repeats. */
  states: { State: string; StateChangeReason?: string; AthenaError?: { ErrorType: number; ErrorCategory: number } }[];
  /** Result pages: the header row first on page one; later pages omit the column metadata, as Athena may. */
  pages: { columns: string[]; rows: (string | null)[][] }[];
  /** Requests (0-based, per operation) answered with an error instead. */
  errors?: Partial<Record<string, Record<number, { status: number; type: string; message: string }>>>;
}

let server: Server;
let endpoint: string;
let script: Script;
let calls: { target: string; body: Record<string, unknown> }[] = [];
let answeredPolls = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => (text += chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target']).replace('AmazonAthena.', '');
      const body = JSON.parse(text || '{}') as Record<string, unknown>;
      const attempt = calls.filter((call) => call.target === target).length;
      calls.push({ target, body });
      const reply = (status: number, payload: unknown) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(payload));
      };
      const error = script.errors?.[target]?.[attempt];
      if (error !== undefined) return reply(error.status, { __type: error.type, message: error.message });
      if (target === 'StartQueryExecution') return reply(200, { QueryExecutionId: 'q-1' });
      if (target === 'StopQueryExecution') return reply(200, {});
      if (target === 'GetQueryExecution') {
        const status = script.states[Math.min(answeredPolls, script.states.length - 1)];
        answeredPolls += 1;
        return reply(200, {
          QueryExecution: {
            QueryExecutionId: 'q-1',
            Status: status,
            Statistics: { DataScannedInBytes: 2048, EngineExecutionTimeInMillis: 1500 },
          },
        });
      }
      if (target === 'GetQueryResults') {
        const index = body.NextToken === undefined ? 0 : Number(body.NextToken);
        const page = script.pages[index];
        return reply(200, {
          ResultSet: {
            ...(index === 0
              ? { ResultSetMetadata: { ColumnInfo: page.columns.map((Name) => ({ Name, Type: 'varchar' })) } }
              : {}),
            Rows: page.rows.map((row) => ({ Data: row.map((cell) => (cell === null ? {} : { VarCharValue: cell })) })),
          },
          ...(index + 1 < script.pages.length ? { NextToken: String(index + 1) } : {}),
        });
      }
      return reply(400, { __type: 'InvalidRequestException', message: `unexpected ${target}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  calls = [];
  answeredPolls = 0;
});

let clock = 0;
function engine(deadlineMs = 60_000) {
  clock = 0;
  const client = new AthenaClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    maxAttempts: 3,
  });
  return new AthenaEngine({
    client,
    workgroup: 'lambda-architecture',
    database: 'master',
    table: 'events',
    firstPollMs: 100,
    maxPollMs: 400,
    deadlineMs,
    sleep: async (ms) => void (clock += ms),
    now: () => clock,
  });
}

const columns = ['dim_0', 'bucket', 'count_value', 'sum_value'];
const targets = () => calls.map((call) => call.target);

describe('Athena engine (against a local Athena-protocol server)', () => {
  it("asks for the batch SQL in Trino's spelling", async () => {
    expect((await engine().open()).dialect).toBe('trino');
  });

  it('starts the query in the workgroup and database with an idempotency token, polls with growing pauses until it succeeds, and reads every page by column name', async () => {
    script = {
      states: [
        { State: 'QUEUED' },
        { State: 'RUNNING' },
        { State: 'RUNNING' },
        { State: 'RUNNING' },
        { State: 'SUCCEEDED' },
      ],
      pages: [
        { columns, rows: [columns, ['a', '60000', '2', '3.5'], ['b', '60000', '1', null]] },
        { columns, rows: [['c', '120000', '4', '8']] },
        { columns, rows: [['d', '180000', '1', '-2.25']] },
      ],
    };
    const session = await engine().open();
    expect(session.source).toBe('"master"."events"');
    const result = await session.run('SELECT 1');
    expect(result.rows).toEqual([
      { dim_0: 'a', bucket: '60000', count_value: '2', sum_value: '3.5' },
      { dim_0: 'b', bucket: '60000', count_value: '1', sum_value: null },
      { dim_0: 'c', bucket: '120000', count_value: '4', sum_value: '8' },
      { dim_0: 'd', bucket: '180000', count_value: '1', sum_value: '-2.25' },
    ]);
    // Pauses of 100, 200, 400 and 400 ms (capped) between the five polls.
    expect(result).toEqual({ rows: expect.any(Array), bytesScanned: 2048, seconds: 1.1 });
    expect(calls[0]).toEqual({
      target: 'StartQueryExecution',
      body: {
        QueryString: 'SELECT 1',
        WorkGroup: 'lambda-architecture',
        QueryExecutionContext: { Database: 'master' },
        ClientRequestToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
      },
    });
    expect(targets()).toEqual([
      'StartQueryExecution',
      ...Array(5).fill('GetQueryExecution'),
      ...Array(3).fill('GetQueryResults'),
    ]);
    expect(calls.filter((call) => call.target === 'GetQueryResults').map((call) => call.body)).toEqual([
      { QueryExecutionId: 'q-1', MaxResults: 1000 },
      { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: '1' },
      { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: '2' },
    ]);
  });

  it('surfaces the Athena reason, error type and category when the query fails', async () => {
    script = {
      states: [
        { State: 'RUNNING' },
        {
          State: 'FAILED',
          StateChangeReason: 'COLUMN_NOT_FOUND: line 1:8: Column "x" cannot be resolved',
          AthenaError: { ErrorType: 1006, ErrorCategory: 2 },
        },
      ],
      pages: [],
    };
    const failure = (await engine().open()).run('SELECT x');
    await expect(failure).rejects.toThrow(
      'Athena query q-1 failed: COLUMN_NOT_FOUND: line 1:8: Column "x" cannot be resolved (error type 1006, category 2)',
    );
    await expect(failure).rejects.toMatchObject({
      name: 'AthenaQueryError',
      queryExecutionId: 'q-1',
      errorType: 1006,
      errorCategory: 2,
    });
    expect(targets()).not.toContain('StopQueryExecution');
  });

  it('surfaces a cancellation with its reason', async () => {
    script = { states: [{ State: 'CANCELLED', StateChangeReason: 'Query cancelled by user' }], pages: [] };
    const failure = (await engine().open()).run('SELECT 1');
    await expect(failure).rejects.toBeInstanceOf(AthenaQueryError);
    await expect(failure).rejects.toThrow('Athena query q-1 cancelled: Query cancelled by user');
  });

  it('stops a query that runs past the deadline, then fails', async () => {
    script = { states: [{ State: 'RUNNING' }], pages: [] };
    await expect((await engine(1_000).open()).run('SELECT 1')).rejects.toThrow(
      'Athena query q-1 did not finish within 1000 ms (last state RUNNING)',
    );
    expect(calls.at(-1)).toEqual({ target: 'StopQueryExecution', body: { QueryExecutionId: 'q-1' } });
    // 100 + 200 + 400 ms of pauses: the next one would pass the deadline.
    expect(clock).toBe(700);
  });

  it('retries a throttled poll and a throttled start', async () => {
    const throttled = { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' };
    script = {
      states: [{ State: 'SUCCEEDED' }],
      pages: [{ columns: ['n'], rows: [['n'], ['1']] }],
      errors: {
        StartQueryExecution: { 0: { status: 400, type: 'TooManyRequestsException', message: 'slow down' } },
        GetQueryExecution: { 0: throttled },
      },
    };
    const result = await (await engine().open()).run('SELECT 1');
    expect(result.rows).toEqual([{ n: '1' }]);
    expect(targets()).toEqual([
      'StartQueryExecution',
      'StartQueryExecution',
      'GetQueryExecution',
      'GetQueryExecution',
      'GetQueryResults',
    ]);
    // The retried start carries the same token, so Athena runs the query once.
    const [first, second] = calls.filter((call) => call.target === 'StartQueryExecution');
    expect(second.body.ClientRequestToken).toBe(first.body.ClientRequestToken);
  });

  it('stops the query when polling fails for good, and reports the polling error', async () => {
    script = {
      states: [{ State: 'RUNNING' }],
      pages: [],
      errors: { GetQueryExecution: { 1: { status: 400, type: 'InvalidRequestException', message: 'broken' } } },
    };
    await expect((await engine().open()).run('SELECT 1')).rejects.toThrow('broken');
    expect(targets()).toEqual(['StartQueryExecution', 'GetQueryExecution', 'GetQueryExecution', 'StopQueryExecution']);
  });
});
