import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { createDynamoDbClient } from '../adapters/aws-clients';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import { createSpeedHandler } from './speed-handler';

const environment = readEnvironment(
  z.object({
    PIPELINE_CONFIG: pipelineConfigVariable,
    REALTIME_TABLE: requiredVariable('the realtime views table name'),
    DEDUP_TABLE: z.string().min(1).optional(),
  }),
);

const logger = new Logger({ serviceName: 'speed' });
const metrics = new Metrics({ serviceName: 'speed', namespace: 'LambdaArchitecture' });

/** The speed layer's Lambda, on the Kinesis event source mapping (ReportBatchItemFailures on). */
export const handler = createSpeedHandler({
  config: environment.PIPELINE_CONFIG,
  // The stores retry throttling and transient errors themselves; SDK retries on top would multiply attempts.
  dynamodb: createDynamoDbClient({ maxAttempts: 1 }),
  realtimeTable: environment.REALTIME_TABLE,
  dedupTable: environment.DEDUP_TABLE,
  logger,
  metrics,
});
