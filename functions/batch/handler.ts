import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { AthenaEngine } from '../adapters/athena-engine';
import { createAthenaClient, createDynamoDbClient, createS3Client } from '../adapters/aws-clients';
import { BatchViewStore } from '../adapters/batch-view-store';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import type { BatchEngine } from './batch-engine';
import { createBatchJobHandler } from './batch-job';

const common = z.object({
  PIPELINE_CONFIG: pipelineConfigVariable,
  BATCH_TABLE: requiredVariable('the batch views table name'),
  MANIFEST_TABLE: requiredVariable('the manifest table name'),
});
const environment = readEnvironment(
  z.discriminatedUnion(
    'BATCH_ENGINE',
    [
      common.extend({
        BATCH_ENGINE: z.literal('athena'),
        ATHENA_WORKGROUP: requiredVariable('the Athena workgroup'),
        ATHENA_DATABASE: requiredVariable('the Glue database'),
        ATHENA_TABLE: requiredVariable('the master dataset Glue table'),
      }),
      common.extend({
        BATCH_ENGINE: z.literal('duckdb'),
        MASTER_BUCKET: requiredVariable('the master dataset bucket'),
        MASTER_PREFIX: z.string().default('events/'),
        ERROR_PREFIX: z.string().default('errors/'),
      }),
    ],
    { error: 'expected athena or duckdb' },
  ),
);

const logger = new Logger({ serviceName: 'batch' });
const metrics = new Metrics({ serviceName: 'batch', namespace: 'LambdaArchitecture' });

/**
 * The engine, from clients made here at cold start. DuckDB is a native module that the AWS bundle leaves out: it is
 * imported only when it is the configured engine, on the first run, and kept for the next ones (a failed import is
 * tried again on the next run).
 */
function engineLoader(): () => Promise<BatchEngine> {
  if (environment.BATCH_ENGINE === 'athena') {
    const athena = new AthenaEngine({
      client: createAthenaClient({ maxAttempts: 5 }),
      workgroup: environment.ATHENA_WORKGROUP,
      database: environment.ATHENA_DATABASE,
      table: environment.ATHENA_TABLE,
    });
    return async () => athena;
  }
  const options = {
    s3: createS3Client(),
    bucket: environment.MASTER_BUCKET,
    prefix: environment.MASTER_PREFIX,
    errorPrefix: environment.ERROR_PREFIX,
  };
  let loading: Promise<BatchEngine> | undefined;
  return () =>
    (loading ??= import('../adapters/duckdb/duckdb-engine').then(
      ({ DuckDbEngine }) => new DuckDbEngine(options),
      (error: unknown) => {
        loading = undefined;
        throw error;
      },
    ));
}

/** The scheduled batch job: recompute every view from the master dataset, write new versions, then flip. */
export const handler = createBatchJobHandler({
  config: environment.PIPELINE_CONFIG,
  engine: engineLoader(),
  store: new BatchViewStore({
    // The store retries throttling and transient errors itself; SDK retries on top would multiply attempts.
    client: createDynamoDbClient({ maxAttempts: 1 }),
    batchTable: environment.BATCH_TABLE,
    manifestTable: environment.MANIFEST_TABLE,
  }),
  logger,
  metrics,
});
