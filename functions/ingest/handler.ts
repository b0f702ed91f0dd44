import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { createKinesisClient } from '../adapters/aws-clients';
import { EventStreamWriter } from '../adapters/event-stream-writer';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import { createIngestHandler } from './ingest-handler';

const environment = readEnvironment(
  z.object({ STREAM_NAME: requiredVariable('the Kinesis stream name'), PIPELINE_CONFIG: pipelineConfigVariable }),
);

/** POST /events: validates and writes events to the stream (a Lambda, not a service integration: see README). */
export const handler = createIngestHandler({
  // The writer retries failed entries and transient errors itself; SDK retries on top would multiply attempts.
  writer: new EventStreamWriter({
    client: createKinesisClient({ maxAttempts: 1 }),
    streamName: environment.STREAM_NAME,
  }),
  eventTimeSkewMs: environment.PIPELINE_CONFIG.eventTimeSkewMs,
  schema: environment.PIPELINE_CONFIG.schema,
  logger: new Logger({ serviceName: 'ingest' }),
  metrics: new Metrics({ serviceName: 'ingest', namespace: 'LambdaArchitecture' }),
});
