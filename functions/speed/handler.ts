import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { createDynamoDbClient, createS3Client } from '../adapters/aws-clients';
import { SetAsideStore } from '../adapters/set-aside-store';
import { GenerationDirectory } from '../adapters/generation-directory';
import { KeyDirectoryStore } from '../adapters/key-directory-store';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import { createSpeedHandler } from './speed-handler';

const environment = readEnvironment(
  z.object({
    PIPELINE_CONFIG: pipelineConfigVariable,
    REALTIME_TABLE: requiredVariable('the realtime views table name'),
    DEDUP_TABLE: z.string().min(1).optional(),
    MANIFEST_TABLE: requiredVariable('the manifest table name (the generation each view is written to)'),
    SET_ASIDE_BUCKET: requiredVariable('the bucket where records the realtime table refuses are set aside'),
    KEY_DIRECTORY_TABLE: requiredVariable('the key directory table name'),
  }),
);

const logger = new Logger({ serviceName: 'speed' });
const metrics = new Metrics({ serviceName: 'speed', namespace: 'LambdaArchitecture' });

/** The speed layer's Lambda, on the Kinesis event source mapping (ReportBatchItemFailures on). */
// The stores retry throttling and transient errors themselves; SDK retries on top would multiply attempts.
const dynamodb = createDynamoDbClient({ maxAttempts: 1 });

export const handler = createSpeedHandler({
  config: environment.PIPELINE_CONFIG,
  dynamodb,
  generations: new GenerationDirectory({ client: createDynamoDbClient(), manifestTable: environment.MANIFEST_TABLE }),
  realtimeTable: environment.REALTIME_TABLE,
  dedupTable: environment.DEDUP_TABLE,
  // One store per container: its cache of known keys is what keeps the directory at one write per new key.
  keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: environment.KEY_DIRECTORY_TABLE }),
  setAside: new SetAsideStore({ s3: createS3Client({ maxAttempts: 1 }), bucket: environment.SET_ASIDE_BUCKET }),
  logger,
  metrics,
});
