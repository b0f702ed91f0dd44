import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { EventBridgeAnomalyNotifier } from '../adapters/anomaly-notifier';
import { AnomalyStore } from '../adapters/anomaly-store';
import { createDynamoDbClient, createEventBridgeClient, createS3Client } from '../adapters/aws-clients';
import { BaselineReader, hasBaseline } from '../adapters/baseline-reader';
import { SetAsideStore } from '../adapters/set-aside-store';
import { GenerationDirectory } from '../adapters/generation-directory';
import { KeyDirectoryStore } from '../adapters/key-directory-store';
import { pipelineConfigVariable, readEnvironment, requiredVariable } from '../adapters/handler-environment';
import { ViewReader } from '../adapters/view-reader';
import type { AnomalyScoringDependencies } from './anomaly-scoring';
import { createSpeedHandler } from './speed-handler';

const environment = readEnvironment(
  z.object({
    PIPELINE_CONFIG: pipelineConfigVariable,
    REALTIME_TABLE: requiredVariable('the realtime views table name'),
    DEDUP_TABLE: z.string().min(1).optional(),
    MANIFEST_TABLE: requiredVariable('the manifest table name (the generation each view is written to)'),
    SET_ASIDE_BUCKET: requiredVariable('the bucket where records the realtime table refuses are set aside'),
    KEY_DIRECTORY_TABLE: requiredVariable('the key directory table name'),
    // Read only when a view declares a baseline (anomaly scoring, DESIGN.md §12).
    ANOMALY_TABLE: z.string().min(1).optional(),
    BATCH_TABLE: z.string().min(1).optional(),
    EVENT_BUS_NAME: z.string().min(1).default('default'),
  }),
);
const config = environment.PIPELINE_CONFIG;

const logger = new Logger({ serviceName: 'speed' });
const metrics = new Metrics({ serviceName: 'speed', namespace: 'LambdaArchitecture' });

/** The speed layer's Lambda, on the Kinesis event source mapping (ReportBatchItemFailures on). */
// The stores retry throttling and transient errors themselves; SDK retries on top would multiply attempts.
const dynamodb = createDynamoDbClient({ maxAttempts: 1 });
const generations = new GenerationDirectory({
  client: createDynamoDbClient(),
  manifestTable: environment.MANIFEST_TABLE,
});

export const handler = createSpeedHandler({
  config,
  dynamodb,
  generations,
  realtimeTable: environment.REALTIME_TABLE,
  dedupTable: environment.DEDUP_TABLE,
  // One store per container: its cache of known keys is what keeps the directory at one write per new key.
  keyDirectory: new KeyDirectoryStore({ client: dynamodb, tableName: environment.KEY_DIRECTORY_TABLE }),
  setAside: new SetAsideStore({ s3: createS3Client({ maxAttempts: 1 }), bucket: environment.SET_ASIDE_BUCKET }),
  anomalies: anomalyScoring(),
  logger,
  metrics,
});

/**
 * Scoring, when some view declares a baseline: built once per container, so that its baseline cache serves every
 * batch the container handles. The baseline reads are the serving layer's (SDK retries on: reads are idempotent,
 * and the reader has no retry policy of its own).
 */
function anomalyScoring(): AnomalyScoringDependencies | undefined {
  const scored = config.views.filter(hasBaseline).map((view) => view.name);
  if (scored.length === 0) return undefined;
  const needs = (variable: string, what: string) =>
    new Error(`views ${scored.join(', ')} declare a baseline: the speed layer needs ${variable} (${what})`);
  const anomalyTable = environment.ANOMALY_TABLE;
  if (anomalyTable === undefined) throw needs('ANOMALY_TABLE', 'the anomalies table name');
  // Kappa mode has no batch views: the baseline is the realtime views' alone.
  const batchTable = environment.BATCH_TABLE ?? (config.architecture === 'kappa' ? '' : undefined);
  if (batchTable === undefined) throw needs('BATCH_TABLE', 'the batch views table name, which baselines read');
  const reads = createDynamoDbClient();
  return {
    baselines: new BaselineReader({
      reader: new ViewReader({
        client: reads,
        realtimeTable: environment.REALTIME_TABLE,
        batchTable,
        manifestTable: environment.MANIFEST_TABLE,
      }),
      architecture: config.architecture,
      generations,
    }),
    store: new AnomalyStore({ client: dynamodb, tableName: anomalyTable }),
    notifier: new EventBridgeAnomalyNotifier({
      client: createEventBridgeClient({ maxAttempts: 1 }),
      eventBusName: environment.EVENT_BUS_NAME,
    }),
  };
}
