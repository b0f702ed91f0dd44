import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { AthenaEngine } from '../adapters/athena-engine';
import { createAthenaClient, createDynamoDbClient, createS3Client } from '../adapters/aws-clients';
import { BatchViewStore } from '../adapters/batch-view-store';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import type { BatchEngine } from './batch-engine';
import { runBatchJob } from './batch-job';

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
    { error: 'BATCH_ENGINE: expected athena or duckdb' },
  ),
);

const logger = new Logger({ serviceName: 'batch' });
const metrics = new Metrics({ serviceName: 'batch', namespace: 'LambdaArchitecture' });
const store = new BatchViewStore({
  client: createDynamoDbClient({ maxAttempts: 1 }),
  batchTable: environment.BATCH_TABLE,
  manifestTable: environment.MANIFEST_TABLE,
});

/** DuckDB is a native module left out of the AWS bundle: it is loaded only when the DuckDB engine is configured. */
async function engine(): Promise<BatchEngine> {
  if (environment.BATCH_ENGINE === 'athena') {
    return new AthenaEngine({
      client: createAthenaClient(),
      workgroup: environment.ATHENA_WORKGROUP,
      database: environment.ATHENA_DATABASE,
      table: environment.ATHENA_TABLE,
    });
  }
  const { DuckDbEngine } = await import('../adapters/duckdb/duckdb-engine');
  return new DuckDbEngine({
    s3: createS3Client(),
    bucket: environment.MASTER_BUCKET,
    prefix: environment.MASTER_PREFIX,
    errorPrefix: environment.ERROR_PREFIX,
  });
}

/** The scheduled batch job: recompute every view from the master dataset, then flip. */
export const handler = async () =>
  runBatchJob({ config: environment.PIPELINE_CONFIG, engine: await engine(), store, logger, metrics });
