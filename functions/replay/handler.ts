import { Logger } from '@aws-lambda-powertools/logger';
import { z } from 'zod';
import { createDynamoDbClient, createS3Client } from '../adapters/aws-clients';
import { GenerationDirectory } from '../adapters/generation-directory';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import { createReplayJob, type ReplaySummary } from './replay-job';

const environment = readEnvironment(
  z.object({
    PIPELINE_CONFIG: pipelineConfigVariable,
    REALTIME_TABLE: requiredVariable('the realtime views table name'),
    MANIFEST_TABLE: requiredVariable('the manifest table name'),
    MASTER_BUCKET: requiredVariable('the master dataset bucket'),
    MASTER_PREFIX: z.string().default('events/'),
    ERROR_PREFIX: z.string().default('errors/'),
  }),
);
const dynamodb = createDynamoDbClient();

const replay = createReplayJob({
  config: environment.PIPELINE_CONFIG,
  directory: new GenerationDirectory({ client: dynamodb, manifestTable: environment.MANIFEST_TABLE }),
  dynamodb,
  realtimeTable: environment.REALTIME_TABLE,
  s3: createS3Client(),
  masterDataset: {
    bucket: environment.MASTER_BUCKET,
    prefix: environment.MASTER_PREFIX,
    errorPrefix: environment.ERROR_PREFIX,
  },
  logger: new Logger({ serviceName: 'replay' }),
});

const replayRequest = z.object({ view: z.string().min(1, 'view: required') });

/**
 * The replay Lambda, started by `npm run replay -- --view X` with `{"view": "X"}`. If it is stopped (its 15-minute
 * limit, a crash), invoking it again for the same view resumes the replay where it stopped.
 */
export async function handler(event: unknown): Promise<ReplaySummary> {
  const parsed = replayRequest.safeParse(event);
  if (!parsed.success) throw new Error(`replay request: expected {"view": "<name>"}, got ${JSON.stringify(event)}`);
  return replay(parsed.data.view);
}
