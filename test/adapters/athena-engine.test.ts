import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AthenaClient } from '@aws-sdk/client-athena';
import { AthenaEngine } from '../../functions/adapters/athena-engine';

/**
 * A local server speaking Athena's JSON 1.1 protocol (X-Amz-Target: AmazonAthena.*), scripted per test, so the
 * real AthenaClient and the engine are exercised over HTTP: request shapes, polling, pagination and errors.
 */
interface Script {
  /** States GetQueryExecution reports, one per poll; the last repeats. */
  states: { State: string; StateChangeReason?: string; AthenaError?: { ErrorType: number; ErrorCategory: number } }[];
  /** Result pages: header row first on page one. */
  pages: { columns: string[]; rows: (string | null)[][] }[];
  /** Polls (0-based) answered with a throttling error instead. */
  throttledPolls?: number[];
}

let server: Server;
let endpoint: string;
let script: Script;
let calls: { target: string; body: Record<string, unknown> }[] = [];
let polls = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => (text += chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target']).replace('AmazonAthena.', '');
      const body = JSON.parse(text || '{}') as Record<string, unknown>;
      calls.push({ target, body });
      const reply = (status: number, payload: unknown) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(payload));
      };
      if (target === 'StartQueryExecution') return reply(200, { QueryExecutionId: 'q-1' });
      if (target === 'StopQueryExecution') return reply(200, {});
      if (target === 'GetQueryExecution') {
        const poll = polls++;
        if (script.throttledPolls?.includes(poll))
          return reply(400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
        const status = script.states[Math.min(poll, script.states.length - 1)];
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
            ResultSetMetadata: { ColumnInfo: page.columns.map((Name) => ({ Name, Type: 'varchar' })) },
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
  polls = 0;
});

function engine(deadlineMs = 60_000) {
  let clock = 0;
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
    deadlineMs,
    sleep: async (ms) => void (clock += ms),
    now: () => clock,
  });
}

const columns = ['dim_0', 'bucket', 'count_value', 'sum_value'];

describe('Athena engine (against a local Athena-protocol server)', () => {
  it('starts the query in the workgroup and database, polls until it succeeds, and reads every result page by column name', async () => {
    script = {
      states: [{ State: 'QUEUED' }, { State: 'RUNNING' }, { State: 'SUCCEEDED' }],
      pages: [
        { columns, rows: [columns, ['a', '60000', '2', '3.5'], ['b', '60000', '1', null]] },
        { columns, rows: [['c', '120000', '4', '8']] },
      ],
    };
    const session = await engine().open();
    expect(session.source).toBe('"master"."events"');
    const result = await session.run('SELECT 1');
    expect(result.rows).toEqual([
      { dim_0: 'a', bucket: '60000', count_value: '2', sum_value: '3.5' },
      { dim_0: 'b', bucket: '60000', count_value: '1', sum_value: null },
      { dim_0: 'c', bucket: '120000', count_value: '4', sum_value: '8' },
    ]);
    expect(result).toMatchObject({ bytesScanned: 2048, seconds: 1.5 });
    expect(calls[0]).toEqual({
      target: 'StartQueryExecution',
      body: expect.objectContaining({
        QueryString: 'SELECT 1',
        WorkGroup: 'lambda-architecture',
        QueryExecutionContext: { Database: 'master' },
      }),
    });
    expect(calls.filter((call) => call.target === 'GetQueryExecution')).toHaveLength(3);
    expect(calls.filter((call) => call.target === 'GetQueryResults')).toHaveLength(2);
  });

  it('surfaces the Athena reason and error type when the query fails', async () => {
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
    await expect((await engine().open()).run('SELECT x')).rejects.toThrow(
      'Athena query q-1 failed: COLUMN_NOT_FOUND: line 1:8: Column "x" cannot be resolved (error type 1006, category 2)',
    );
  });

  it('surfaces a cancellation with its reason', async () => {
    script = { states: [{ State: 'CANCELLED', StateChangeReason: 'Query cancelled by user' }], pages: [] };
    await expect((await engine().open()).run('SELECT 1')).rejects.toThrow(
      'Athena query q-1 cancelled: Query cancelled by user',
    );
  });

  it('stops a query that runs past the deadline', async () => {
    script = { states: [{ State: 'RUNNING' }], pages: [] };
    await expect((await engine(1_000).open()).run('SELECT 1')).rejects.toThrow(
      'Athena query q-1 did not finish within 1000 ms and was stopped',
    );
    expect(calls.at(-1)).toEqual({ target: 'StopQueryExecution', body: { QueryExecutionId: 'q-1' } });
  });

  it('retries a throttled poll', async () => {
    script = {
      states: [{ State: 'SUCCEEDED' }],
      pages: [{ columns: ['n'], rows: [['n'], ['1']] }],
      throttledPolls: [0],
    };
    const result = await (await engine().open()).run('SELECT 1');
    expect(result.rows).toEqual([{ n: '1' }]);
    expect(calls.filter((call) => call.target === 'GetQueryExecution')).toHaveLength(2);
  });
});
