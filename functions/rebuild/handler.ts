import { InvokeCommand } from '@aws-sdk/client-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { createDynamoDbClient, createLambdaClient, createS3Client } from '../adapters/aws-clients';
import { batchEngineLoader, batchEngineVariables } from '../adapters/batch-engine-environment';
import { BatchViewStore } from '../adapters/batch-view-store';
import { GenerationDirectory } from '../adapters/generation-directory';
import { KeyDirectoryStore } from '../adapters/key-directory-store';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import { supersededRowsExpiry } from '../adapters/superseded-batch-rows';
import { createReplayJob } from '../replay/replay-job';
import { createRebuildJob } from './rebuild-job';
import { rebuildRequest, continuationDeadline, type RebuildInvocationResult } from './rebuild-request';

const environment = readEnvironment(
  batchEngineVariables(
    z.object({
      PIPELINE_CONFIG: pipelineConfigVariable,
      REALTIME_TABLE: requiredVariable('the realtime views table name'),
      BATCH_TABLE: requiredVariable('the batch views table name'),
      MANIFEST_TABLE: requiredVariable('the manifest table name'),
      WORK_BUCKET: requiredVariable("the bucket for the engine's result files"),
      KEY_DIRECTORY_TABLE: requiredVariable('the key directory table name'),
    }),
  ),
);
const config = environment.PIPELINE_CONFIG;
const dynamodb = createDynamoDbClient();
const s3 = createS3Client();
const lambda = createLambdaClient();
const logger = new Logger({ serviceName: 'rebuild' });
const engine = batchEngineLoader(environment, config.schema);
const work = { s3, bucket: environment.WORK_BUCKET };
const keyDirectory = new KeyDirectoryStore({
  client: createDynamoDbClient({ maxAttempts: 1 }),
  tableName: environment.KEY_DIRECTORY_TABLE,
});

const rebuild = createRebuildJob({
  config,
  engine,
  store: new BatchViewStore({
    client: createDynamoDbClient({ maxAttempts: 1 }),
    batchTable: environment.BATCH_TABLE,
    manifestTable: environment.MANIFEST_TABLE,
  }),
  work,
  keyDirectory,
  expireSuperseded: supersededRowsExpiry(dynamodb, environment.BATCH_TABLE),
  logger,
});

const replay = createReplayJob({
  config,
  directory: new GenerationDirectory({ client: dynamodb, manifestTable: environment.MANIFEST_TABLE }),
  dynamodb,
  realtimeTable: environment.REALTIME_TABLE,
  engine,
  work,
  keyDirectory,
  logger,
});

/**
 * The rebuild Lambda: `{"kind": "batch", "view": "X"}` rebuilds a view's batch base, `{"kind": "realtime", ...}`
 * replays it into a new realtime generation (Kappa mode, or a new view), `{"kind": "batch", "view": "*"}` (the
 * optional schedule) starts one rebuild per view. An invocation stops a minute before its time is up and invokes
 * itself again with the same request, which resumes from the manifest: no job depends on one 15-minute invocation.
 */
export async function handler(event: unknown, context: Context): Promise<RebuildInvocationResult> {
  const request = rebuildRequest(event, config.views);
  const again = async (payload: unknown) => {
    await lambda.send(
      new InvokeCommand({
        FunctionName: context.functionName,
        InvocationType: 'Event',
        Payload: JSON.stringify(payload),
      }),
    );
  };
  if (request.view === '*') {
    for (const view of config.views) await again({ kind: request.kind, view: view.name });
    return { started: config.views.map((view) => view.name) };
  }
  const deadlineMs = continuationDeadline(Date.now(), context.getRemainingTimeInMillis());
  const result =
    request.kind === 'batch' ? await rebuild(request.view, { deadlineMs }) : await replay(request.view, { deadlineMs });
  if (!result.done) {
    logger.info('continuing in a new invocation', { ...request });
    await again(request);
  }
  return { result };
}
