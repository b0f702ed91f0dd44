import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { pipelineConfigVariable, readEnvironment } from '../adapters/handler-environment';
import { createFirehoseTransformHandler } from './firehose-transform-handler';

const environment = readEnvironment(z.object({ PIPELINE_CONFIG: pipelineConfigVariable }));

/** The Firehose data-transformation Lambda of the delivery stream that archives the Kinesis stream to S3. */
export const handler = createFirehoseTransformHandler({
  eventTimeSkewMs: environment.PIPELINE_CONFIG.eventTimeSkewMs,
  schema: environment.PIPELINE_CONFIG.schema,
  logger: new Logger({ serviceName: 'firehose-transform' }),
  metrics: new Metrics({ serviceName: 'firehose-transform', namespace: 'LambdaArchitecture' }),
});
