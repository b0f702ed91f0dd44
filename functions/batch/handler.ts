import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { createDynamoDbClient, createS3Client } from '../adapters/aws-clients';
import { BatchViewStore } from '../adapters/batch-view-store';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import type { BatchEngine } from './batch-engine';
import { runBatchJob } from './batch-job';

const environment = readEnvironment(
  z.object({
    PIPELINE_CONFIG: pipelineConfigVariable,
    BATCH_TABLE: requiredVariable('the batch views table name'),
    MANIFEST_TABLE: requiredVariable('the manifest table name'),
    // Only DuckDB exists so far; an Athena deployment must fail at cold start, not pretend to run.
    BATCH_ENGINE: z.enum(['duckdb'], { error: 'expected duckdb (the Athena engine is not implemented yet)' }),
    MASTER_BUCKET: requiredVariable('the master dataset bucket'),
    MASTER_PREFIX: z.string().default('events/'),
    ERROR_PREFIX: z.string().default('errors/'),
  }),
);

const logger = new Logger({ serviceName: 'batch' });
const metrics = new Metrics({ serviceName: 'batch', namespace: 'LambdaArchitecture' });
const store = new BatchViewStore({
  client: createDynamoDbClient({ maxAttempts: 1 }),
  batchTable: environment.BATCH_TABLE,
  manifestTable: environment.MANIFEST_TABLE,
});

/** DuckDB is a native module: it is loaded only when the DuckDB engine is configured. */
async function engine(): Promise<BatchEngine> {
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
