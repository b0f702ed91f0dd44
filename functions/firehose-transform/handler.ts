import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createFirehoseTransformHandler } from './firehose-transform-handler';

/** The Firehose data-transformation Lambda of the delivery stream that archives the Kinesis stream to S3. */
export const handler = createFirehoseTransformHandler({
  logger: new Logger({ serviceName: 'firehose-transform' }),
  metrics: new Metrics({ serviceName: 'firehose-transform', namespace: 'LambdaArchitecture' }),
});
