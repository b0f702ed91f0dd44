import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { AthenaClient } from '@aws-sdk/client-athena';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AthenaEngine, AthenaQueryError, unloadSql } from '../../functions/adapters/athena-engine';
import type { BatchEngine } from '../../functions/batch/batch-engine';
import { emulatorClientConfig, startS3, type RunningEmulator } from '../../local/emulators';
import { ensureBucket } from '../../local/provision';

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
  /** Objects the query writes to S3 (s3rver) when it starts, as an UNLOAD would: bucket, then key. */
  writes?: { bucket: string; objects: Record<string, Buffer> };
}

let server: Server;
let endpoint: string;
let script: Script;
let calls: { target: string; body: Record<string, unknown> }[] = [];
let answeredPolls = 0;
let s3Emulator: RunningEmulator;
let s3: S3Client;

beforeAll(async () => {
  s3Emulator = await startS3();
  s3 = new S3Client(emulatorClientConfig(s3Emulator.endpoint));
  server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => (text += chunk));
    request.on('end', async () => {
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
      if (target === 'StartQueryExecution') {
        for (const [Key, Body] of Object.entries(script.writes?.objects ?? {})) {
          await s3.send(new PutObjectCommand({ Bucket: script.writes?.bucket, Key, Body }));
        }
        return reply(200, { QueryExecutionId: 'q-1' });
      }
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
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  s3.destroy();
  await s3Emulator.stop();
});
beforeEach(() => {
  calls = [];
  answeredPolls = 0;
});

let clock = 0;
function engine(deadlineMs = 60_000, options: { s3?: S3Client } = {}) {
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
    ...options,
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

  it('ignores the arrival window it is opened for: the SQL prunes the partitions itself', async () => {
    const athena: BatchEngine = engine();
    const session = await athena.open({ arrivalFromMs: 3_600_000, arrivalToMs: 7_200_000 });
    expect(session).toMatchObject({ source: '"master"."events"', dialect: 'trino' });
    expect(session.preparation).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('exports with UNLOAD to the destination as gzip JSON, through the same start and polls, and lists the data files it wrote', async () => {
    const bucket = 'exports-1';
    await ensureBucket(s3, bucket);
    const gz = (text: string) => gzipSync(text);
    script = {
      states: [{ State: 'RUNNING' }, { State: 'SUCCEEDED' }],
      pages: [],
      writes: {
        bucket,
        objects: {
          // Athena's names; written out of order, listed sorted.
          'rebuild/run-1/20261124_143000_00042_abcde_9c1f.gz': gz('{"dim_0":"b","bucket":60000,"count_value":1}\n'),
          'rebuild/run-1/20261124_143000_00042_abcde_1a2b.gz': gz('{"dim_0":"a","bucket":60000,"count_value":2}\n'),
          // A folder marker and an empty object hold no rows; a neighbouring prefix is not the destination.
          'rebuild/run-1/': Buffer.alloc(0),
          'rebuild/run-1/empty': Buffer.alloc(0),
          'rebuild/run-10/20261124_143000_00043_fghij_0000.gz': gz('{"dim_0":"c"}\n'),
        },
      },
    };
    const sql = 'WITH checked AS (SELECT 1 AS n)\nSELECT n FROM checked -- one row';
    const session = await engine(60_000, { s3 }).open();
    const result = await session.exportTo(sql, { bucket, prefix: 'rebuild/run-1/' });
    expect(result).toEqual({
      files: ['rebuild/run-1/20261124_143000_00042_abcde_1a2b.gz', 'rebuild/run-1/20261124_143000_00042_abcde_9c1f.gz'],
      rows: null,
      bytesScanned: 2048,
      // One pause of 100 ms between the two polls.
      seconds: 0.1,
    });
    // The query stands on lines of its own, so that its trailing comment cannot swallow the parenthesis.
    const unload =
      "UNLOAD (\nWITH checked AS (SELECT 1 AS n)\nSELECT n FROM checked -- one row\n) TO 's3://exports-1/rebuild/run-1/' " +
      "WITH (format = 'JSON', compression = 'GZIP')";
    expect(unloadSql(sql, { bucket, prefix: 'rebuild/run-1/' })).toBe(unload);
    expect(calls[0]).toEqual({
      target: 'StartQueryExecution',
      body: {
        QueryString: unload,
        WorkGroup: 'lambda-architecture',
        QueryExecutionContext: { Database: 'master' },
        ClientRequestToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
      },
    });
    // UNLOAD's result is the files: no result pages are read.
    expect(targets()).toEqual(['StartQueryExecution', 'GetQueryExecution', 'GetQueryExecution']);
  });

  it('escapes a quote in the destination of an UNLOAD', () => {
    expect(unloadSql('SELECT 1', { bucket: 'b', prefix: "it's/" })).toBe(
      "UNLOAD (\nSELECT 1\n) TO 's3://b/it''s/' WITH (format = 'JSON', compression = 'GZIP')",
    );
  });

  it('stops an UNLOAD that runs past the deadline, as it stops a query', async () => {
    script = { states: [{ State: 'RUNNING' }], pages: [] };
    const session = await engine(1_000, { s3 }).open();
    await expect(session.exportTo('SELECT 1', { bucket: 'exports-1', prefix: 'late/' })).rejects.toThrow(
      'Athena query q-1 did not finish within 1000 ms (last state RUNNING)',
    );
    expect(calls.at(-1)).toEqual({ target: 'StopQueryExecution', body: { QueryExecutionId: 'q-1' } });
  });

  it('refuses to export without an S3 client, or to a prefix without its final slash, before starting a query', async () => {
    const withoutS3 = await engine().open();
    await expect(withoutS3.exportTo('SELECT 1', { bucket: 'exports-1', prefix: 'a/' })).rejects.toThrow(
      'AthenaEngine: exportTo needs the s3 option, to list the files UNLOAD wrote',
    );
    const session = await engine(60_000, { s3 }).open();
    await expect(session.exportTo('SELECT 1', { bucket: 'exports-1', prefix: 'a' })).rejects.toThrow(
      "expected a prefix that ends with '/'",
    );
    expect(calls).toEqual([]);
  });
});
