import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { definePipelineConfig, serializePipelineConfig } from '../../functions/core/pipeline-config';
import { batchLocal, batchLocalSettings, BatchLocalError } from '../../local/batch-local';
import { emulatorClientConfig, freePort, startDynamoDb, startS3, type RunningEmulator } from '../../local/emulators';
import { LOCAL_RESOURCES } from '../../local/local-runtime';
import { ensureBucket, ensureTable } from '../../local/provision';
import { streamArbitrary } from '../support/stream-arbitraries';
import { archiveThroughTransform, firehoseRecord } from './batch-archive';

let dynamoEmulator: RunningEmulator;
let s3Emulator: RunningEmulator;
let dynamodb: DynamoDBClient;
let nowhere: string;

beforeAll(async () => {
  [dynamoEmulator, s3Emulator] = await Promise.all([startDynamoDb(), startS3()]);
  dynamodb = new DynamoDBClient(emulatorClientConfig(dynamoEmulator.endpoint));
  const s3 = new S3Client(emulatorClientConfig(s3Emulator.endpoint));
  // The names `npm start` provisions, which are batch:local's defaults.
  await ensureTable(dynamodb, LOCAL_RESOURCES.batchTable);
  await ensureTable(dynamodb, LOCAL_RESOURCES.manifestTable);
  await ensureBucket(s3, LOCAL_RESOURCES.bucket);
  const [sample] = fc.sample(streamArbitrary({ minLength: 20 }), { numRuns: 1, seed: 8 });
  await archiveThroughTransform(
    s3,
    LOCAL_RESOURCES.bucket,
    sample.deliveries.map((record) => firehoseRecord(record)),
  );
  s3.destroy();
  nowhere = `http://127.0.0.1:${await freePort()}`;
});
afterAll(async () => {
  dynamodb.destroy();
  await Promise.all([dynamoEmulator.stop(), s3Emulator.stop()]);
});

const endpoints = () => ['--s3-endpoint', s3Emulator.endpoint, '--dynamodb-endpoint', dynamoEmulator.endpoint];

describe('npm run batch:local', () => {
  it('runs the DuckDB batch job over the local endpoints with the local defaults, and prints per view the windows computed, rows, bytes read, seconds and outcome', async () => {
    const lines: string[] = [];
    const settings = await batchLocalSettings(endpoints(), {});
    const summary = await batchLocal(settings, (line) => lines.push(line));
    const time = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
    expect(lines[0]).toBe(
      `batch run: cutoff ${time(summary.cutoff)}, ${summary.preparation?.objects} objects ` +
        `(${((summary.preparation?.bytes ?? 0) / 1024).toFixed(1)} KiB) read from s3://master-dataset/events/ in ` +
        `${summary.preparation?.seconds.toFixed(2)} s`,
    );
    expect(lines[1].split(/\s{2,}/)).toEqual([
      'view',
      'windows',
      'served to',
      'rows',
      'set aside',
      'bytes read',
      'query s',
      'write s',
      'outcome',
    ]);
    // A view's first window starts at the start of the archive.
    expect(lines.slice(2).map((line) => line.split(/\s{2,}/))).toEqual(
      settings.config.views.map((view) => [
        view.name,
        `1 [start, ${time(summary.cutoff)})`,
        time(summary.cutoff),
        String(summary.views.find((outcome) => outcome.view === view.name)?.rows),
        '0',
        expect.stringMatching(/^[\d.]+ KiB$/),
        expect.stringMatching(/^\d+\.\d\d$/),
        expect.stringMatching(/^\d+\.\d\d$/),
        'flipped',
      ]),
    );
    expect(summary.views.every((view) => view.rows > 0)).toBe(true);
    const store = new BatchViewStore({
      client: dynamodb,
      batchTable: LOCAL_RESOURCES.batchTable,
      manifestTable: LOCAL_RESOURCES.manifestTable,
    });
    for (const view of settings.config.views) {
      expect(await store.state(view.name)).toMatchObject({ cutoff: summary.cutoff, windows: 1, pending: null });
    }

    // Run again: nothing new has arrived, so nothing is written (a new epoch may have begun: then an empty window).
    const again: string[] = [];
    const next = await batchLocal(settings, (line) => again.push(line));
    for (const outcome of next.views) {
      expect(outcome.rows).toBe(0);
      expect(['up-to-date', 'flipped']).toContain(outcome.outcome);
      expect(outcome.windows.every((window) => window.from === summary.cutoff)).toBe(true);
    }
    if (next.views.every((outcome) => outcome.outcome === 'up-to-date')) {
      expect(again[0]).toMatch(/no objects read/);
      expect(again.slice(2).map((line) => line.split(/\s{2,}/)[1])).toEqual(settings.config.views.map(() => 'none'));
    }
  });

  it('takes endpoints, names and the pipeline configuration from the environment when no flag is given', async () => {
    const config = definePipelineConfig({ views: [{ name: 'per_site', dimensions: ['site'], granularity: 'hour' }] });
    const settings = await batchLocalSettings(['--bucket', 'other-bucket'], {
      AWS_ENDPOINT_URL_S3: 'http://s3.local:4566',
      AWS_ENDPOINT_URL: 'http://everything.local:4566',
      BATCH_TABLE: 'b',
      MANIFEST_TABLE: 'm',
      MASTER_BUCKET: 'ignored-bucket',
      MASTER_PREFIX: 'archive/',
      PIPELINE_CONFIG: serializePipelineConfig(config),
    });
    expect(settings).toMatchObject({
      s3Endpoint: 'http://s3.local:4566',
      dynamodbEndpoint: 'http://everything.local:4566',
      bucket: 'other-bucket',
      prefix: 'archive/',
      errorPrefix: 'errors/',
      batchTable: 'b',
      manifestTable: 'm',
    });
    expect(settings.config.views.map((view) => view.name)).toEqual(['per_site']);
  });

  it.each([['--url'], ['--api']])(
    'names what is missing when no endpoint is given and no local runtime answers at %s',
    async (flag) => {
      await expect(batchLocalSettings([flag, nowhere], {})).rejects.toThrow(
        new BatchLocalError(
          'missing an S3 endpoint (--s3-endpoint or AWS_ENDPOINT_URL_S3) and a DynamoDB endpoint (--dynamodb-endpoint ' +
            `or AWS_ENDPOINT_URL_DYNAMODB); or start the pipeline with \`npm start\` (no local runtime answered at ${nowhere}/_local/status)`,
        ),
      );
    },
  );

  it('says which endpoint is unreachable, or which bucket or table does not exist', async () => {
    const run = async (argv: string[]) => batchLocal(await batchLocalSettings([...endpoints(), ...argv], {}), () => {});
    await expect(run(['--s3-endpoint', nowhere])).rejects.toThrow(
      `S3 endpoint ${nowhere} is unreachable (ECONNREFUSED): start \`npm start\` or pass --s3-endpoint`,
    );
    await expect(run(['--dynamodb-endpoint', nowhere])).rejects.toThrow(
      `DynamoDB endpoint ${nowhere} is unreachable (ECONNREFUSED): start \`npm start\` or pass --dynamodb-endpoint`,
    );
    await expect(run(['--bucket', 'no-such-bucket'])).rejects.toThrow(
      `bucket "no-such-bucket" does not exist at ${s3Emulator.endpoint} (--bucket)`,
    );
    await expect(run(['--manifest-table', 'no-such-table'])).rejects.toThrow(
      `table "no-such-table" does not exist at ${dynamoEmulator.endpoint} (--manifest-table)`,
    );
  });

  it('as a command, prints the problem without a stack trace and exits with 1', async () => {
    const failure = promisify(execFile)(
      process.execPath,
      [
        join(__dirname, '../../node_modules/tsx/dist/cli.mjs'),
        join(__dirname, '../../local/batch-local.ts'),
        '--s3-endpoint',
        nowhere,
        '--dynamodb-endpoint',
        nowhere,
      ],
      { env: { PATH: process.env.PATH } },
    );
    await expect(failure).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`batch:local: S3 endpoint ${nowhere} is unreachable (ECONNREFUSED)`),
    });
  });
});
