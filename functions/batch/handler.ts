import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { createDynamoDbClient } from '../adapters/aws-clients';
import { batchEngineLoader, batchEngineVariables } from '../adapters/batch-engine-environment';
import { BatchViewStore } from '../adapters/batch-view-store';
import { KeyDirectoryStore } from '../adapters/key-directory-store';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import { createBatchJobHandler } from './batch-job';

const environment = readEnvironment(
  batchEngineVariables(
    z.object({
      PIPELINE_CONFIG: pipelineConfigVariable,
      BATCH_TABLE: requiredVariable('the batch views table name'),
      MANIFEST_TABLE: requiredVariable('the manifest table name'),
      KEY_DIRECTORY_TABLE: requiredVariable('the key directory table name'),
    }),
  ),
);

// The stores retry throttling and transient errors themselves; SDK retries on top would multiply attempts.
const dynamodb = createDynamoDbClient({ maxAttempts: 1 });

/** The scheduled batch job: each view's next arrival windows, computed, written and flipped (batch-job.ts). */
export const handler = createBatchJobHandler({
  config: environment.PIPELINE_CONFIG,
  engine: batchEngineLoader(environment, environment.PIPELINE_CONFIG.schema),
  keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: environment.KEY_DIRECTORY_TABLE }),
  store: new BatchViewStore({
    client: dynamodb,
    batchTable: environment.BATCH_TABLE,
    manifestTable: environment.MANIFEST_TABLE,
  }),
  logger: new Logger({ serviceName: 'batch' }),
  metrics: new Metrics({ serviceName: 'batch', namespace: 'LambdaArchitecture' }),
});
