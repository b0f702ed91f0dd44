import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { AnomalyStore } from '../adapters/anomaly-store';
import { createDynamoDbClient } from '../adapters/aws-clients';
import { BaselineReader } from '../adapters/baseline-reader';
import { GenerationDirectory } from '../adapters/generation-directory';
import { KeyDirectoryStore } from '../adapters/key-directory-store';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import { ViewReader } from '../adapters/view-reader';
import { openApiDocument } from './openapi-document';
import { createQueryHandler } from './query-handler';

const environment = readEnvironment(
  z.object({
    PIPELINE_CONFIG: pipelineConfigVariable,
    REALTIME_TABLE: requiredVariable('the realtime views table name'),
    BATCH_TABLE: requiredVariable('the batch views table name'),
    MANIFEST_TABLE: requiredVariable('the manifest table name'),
    KEY_DIRECTORY_TABLE: requiredVariable('the key directory table name'),
    // Set when a view declares a baseline (lib/view-tables.ts creates the table then).
    ANOMALY_TABLE: z.string().min(1).optional(),
  }),
);
const config = environment.PIPELINE_CONFIG;

/**
 * The serving layer's Lambda: GET /views, GET /views/{view}, GET /views/{view}/keys, GET /views/{view}/anomalies,
 * GET /views/{view}/forecast, GET /openapi.json.
 */
const dynamodb = createDynamoDbClient();
const generations = new GenerationDirectory({ client: dynamodb, manifestTable: environment.MANIFEST_TABLE });
const reader = new ViewReader({
  client: dynamodb,
  realtimeTable: environment.REALTIME_TABLE,
  batchTable: environment.BATCH_TABLE,
  manifestTable: environment.MANIFEST_TABLE,
});

export const handler = createQueryHandler({
  config,
  generations,
  reader,
  // A forecast reads through the same reader (and its manifest cache) as the view query.
  baselines: new BaselineReader({ reader, architecture: config.architecture, generations }),
  ...(environment.ANOMALY_TABLE === undefined
    ? {}
    : { anomalies: new AnomalyStore({ client: dynamodb, tableName: environment.ANOMALY_TABLE }) }),
  directory: new KeyDirectoryStore({ client: dynamodb, tableName: environment.KEY_DIRECTORY_TABLE }),
  logger: new Logger({ serviceName: 'serving' }),
  metrics: new Metrics({ serviceName: 'serving', namespace: 'LambdaArchitecture' }),
  // Made per request, so that its example event's time is now and lands in the default range of a query.
  openApiDocument: () => openApiDocument(config.schema, config.views),
});
