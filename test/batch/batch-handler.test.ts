import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import fc from 'fast-check';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import type { BatchJobHandler } from '../../functions/batch/batch-job';
import { definePipelineConfig, serializePipelineConfig } from '../../functions/core/pipeline-config';
import { emulatorClientConfig, startDynamoDb, startS3, type RunningEmulator } from '../../local/emulators';
import { ensureBucket, ensureTable } from '../../local/provision';
import { streamArbitrary } from '../support/stream-arbitraries';
import { archiveThroughTransform, firehoseRecord } from './batch-archive';

const config = definePipelineConfig({ firehoseBufferIntervalSeconds: 60, safetyMarginMinutes: 5 });
const PIPELINE_CONFIG = serializePipelineConfig(config);

/**
 * Runs `use` with the Lambda entry module loaded afresh in this environment, as a cold start would. The environment
 * stays set while `use` runs: in Lambda it lasts as long as the process, and the SDK reads parts of it lazily.
 */
async function withColdStart<T>(
  environment: Record<string, string>,
  use: (loaded: { handler: BatchJobHandler }) => Promise<T> | T,
): Promise<T> {
  const saved = process.env;
  process.env = {
    ...saved,
    AWS_REGION: 'us-east-1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...environment,
  };
  try {
    let loaded: { handler: BatchJobHandler } | undefined;
    jest.isolateModules(() => {
      loaded = jest.requireActual<{ handler: BatchJobHandler }>('../../functions/batch/handler');
    });
    return await use(loaded as { handler: BatchJobHandler });
  } finally {
    process.env = saved;
  }
}

const duckdbEnvironment = {
  PIPELINE_CONFIG,
  BATCH_ENGINE: 'duckdb',
  BATCH_TABLE: 'batch',
  MANIFEST_TABLE: 'manifest',
  KEY_DIRECTORY_TABLE: 'keys',
  MASTER_BUCKET: 'master',
};

let dynamoEmulator: RunningEmulator;
let s3Emulator: RunningEmulator;

beforeAll(async () => {
  [dynamoEmulator, s3Emulator] = await Promise.all([startDynamoDb(), startS3()]);
  const dynamodb = new DynamoDBClient(emulatorClientConfig(dynamoEmulator.endpoint));
  // The bundle's own tables: in the ones the job ran on, its views are up to date, and a run opens no engine.
  for (const table of ['batch', 'manifest', 'keys', 'bundle-batch', 'bundle-manifest', 'bundle-keys'])
    await ensureTable(dynamodb, table);
  dynamodb.destroy();
});
afterAll(() => Promise.all([dynamoEmulator.stop(), s3Emulator.stop()]));

describe('batch Lambda entry', () => {
  it('fails loudly at cold start, naming the variable, when one is missing or malformed', async () => {
    const coldStart = (environment: Record<string, string>) => withColdStart(environment, () => undefined);
    await expect(coldStart({ ...duckdbEnvironment, BATCH_TABLE: '' })).rejects.toThrow(/BATCH_TABLE: required/);
    await expect(coldStart({ ...duckdbEnvironment, MASTER_BUCKET: '' })).rejects.toThrow(/MASTER_BUCKET: required/);
    await expect(coldStart({ ...duckdbEnvironment, BATCH_ENGINE: 'spark' })).rejects.toThrow(
      /BATCH_ENGINE: expected athena or duckdb/,
    );
    await expect(coldStart({ ...duckdbEnvironment, BATCH_ENGINE: 'athena' })).rejects.toThrow(
      /ATHENA_WORKGROUP: required: the Athena workgroup/,
    );
    await expect(coldStart({ ...duckdbEnvironment, PIPELINE_CONFIG: '{"views": 1}' })).rejects.toThrow(
      /PIPELINE_CONFIG: not a valid pipeline configuration/,
    );
  });

  describe('against s3rver and dynalite', () => {
    it('with BATCH_ENGINE=duckdb, runs the job over MASTER_BUCKET through endpoints the SDK reads from the environment', async () => {
      const dynamodb = new DynamoDBClient(emulatorClientConfig(dynamoEmulator.endpoint));
      const s3 = new S3Client(emulatorClientConfig(s3Emulator.endpoint));
      await ensureBucket(s3, 'master');
      const [sample] = fc.sample(streamArbitrary({ minLength: 10 }), { numRuns: 1, seed: 1 });
      await archiveThroughTransform(
        s3,
        'master',
        sample.deliveries.map((record) => firehoseRecord(record)),
      );
      const summary = await withColdStart(
        {
          ...duckdbEnvironment,
          AWS_ENDPOINT_URL_S3: s3Emulator.endpoint,
          AWS_ENDPOINT_URL_DYNAMODB: dynamoEmulator.endpoint,
          S3_FORCE_PATH_STYLE: 'true',
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
        },
        ({ handler }) => handler(),
      );
      expect(summary.views.map((view) => [view.view, view.outcome])).toEqual(
        config.views.map((view) => [view.name, 'flipped']),
      );
      expect(summary.views.reduce((rows, view) => rows + view.rows, 0)).toBeGreaterThan(0);
      const store = new BatchViewStore({ client: dynamodb, batchTable: 'batch', manifestTable: 'manifest' });
      for (const view of config.views) {
        expect(await store.state(view.name)).toMatchObject({ cutoff: summary.cutoff, windows: 1, pending: null });
      }
      dynamodb.destroy();
      s3.destroy();
    });
  });

  describe('bundled as the CDK app bundles it, with @duckdb left out', () => {
    let directory: string;
    let bundle: string;

    beforeAll(async () => {
      // Outside the project, so that nothing can resolve @duckdb/node-api from node_modules.
      directory = await mkdtemp(join(tmpdir(), 'batch-bundle-'));
      bundle = join(directory, 'index.js');
      await build({
        entryPoints: [join(__dirname, '../../functions/batch/handler.ts')],
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        outfile: bundle,
        external: ['@duckdb/*'],
        logLevel: 'silent',
      });
    });
    afterAll(() => rm(directory, { recursive: true, force: true }));

    const node = (engine: Record<string, string>, script: string) =>
      promisify(execFile)(process.execPath, ['-e', script], {
        cwd: directory,
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          // Where the failed run reads the views' batch state.
          AWS_ENDPOINT_URL_DYNAMODB: dynamoEmulator.endpoint,
          POWERTOOLS_LOG_LEVEL: 'SILENT',
          POWERTOOLS_METRICS_DISABLED: 'true',
          PIPELINE_CONFIG,
          BATCH_TABLE: 'bundle-batch',
          MANIFEST_TABLE: 'bundle-manifest',
          KEY_DIRECTORY_TABLE: 'bundle-keys',
          ...engine,
        },
      });

    it('loads with the Athena engine without DuckDB being installed', async () => {
      const { stdout } = await node(
        { BATCH_ENGINE: 'athena', ATHENA_WORKGROUP: 'wg', ATHENA_DATABASE: 'db', ATHENA_TABLE: 'events' },
        `const m = require('./index.js'); console.log(typeof m.handler);`,
      );
      expect(stdout.trim()).toBe('function');
    });

    it('imports DuckDB only when a DuckDB run starts, and reports a missing module as an engine failure', async () => {
      const { stdout } = await node(
        { BATCH_ENGINE: 'duckdb', MASTER_BUCKET: 'master' },
        `const m = require('./index.js');
         m.handler().then(
           () => console.log('ran'),
           (error) => console.log(JSON.stringify(error.summary.views.map((view) => view.error))),
         );`,
      );
      const errors = JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as string[];
      expect(errors).toHaveLength(config.views.length);
      for (const error of errors) expect(error).toMatch(/^engine: Error: Cannot find module '@duckdb\/node-api'/);
    });
  });
});
