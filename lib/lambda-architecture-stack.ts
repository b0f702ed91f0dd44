import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { AppSettings } from './app-context';
import { BatchLayer } from './batch-layer';
import { IngestLayer } from './ingest-layer';
import { Monitoring } from './monitoring';
import { acknowledgeNagFindings } from './nag-acknowledgements';
import { RebuildLayer } from './rebuild-layer';
import { ServingLayer } from './serving-layer';
import { SpeedLayer } from './speed-layer';
import { ViewTables } from './view-tables';

export interface LambdaArchitectureStackProps extends StackProps {
  readonly settings: AppSettings;
  /** An SNS topic that receives every alarm. @default no alarm actions */
  readonly alarmTopic?: ITopic;
}

/**
 * The pipeline in one stack: the message, speed, batch and serving layers over shared view tables, the rebuilds and
 * replays, and the alarms and dashboard over them.
 */
export class LambdaArchitectureStack extends Stack {
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: LambdaArchitectureStackProps) {
    super(scope, id, props);
    const { pipeline, stage, target } = props.settings;
    const removalPolicy = stage === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    const tables = new ViewTables(this, 'Views', {
      removalPolicy,
      deduplication: pipeline.views.some((view) => view.dedupeByEventId),
      anomalies: pipeline.views.some((view) => view.baseline !== undefined),
    });
    const ingest = new IngestLayer(this, 'Ingest', { pipeline, removalPolicy });
    const serving = new ServingLayer(this, 'Serving', {
      pipeline,
      realtimeTable: tables.realtime,
      batchTable: tables.batch,
      manifestTable: tables.manifest,
      keyDirectoryTable: tables.keyDirectory,
      anomalyTable: tables.anomalies,
      ingestFunction: ingest.ingestFunction,
      removalPolicy,
    });

    const batch = new BatchLayer(this, 'Batch', {
      pipeline,
      stream: ingest.stream,
      batchTable: tables.batch,
      manifestTable: tables.manifest,
      keyDirectoryTable: tables.keyDirectory,
      stage,
      target,
    });
    const speed = new SpeedLayer(this, 'Speed', {
      pipeline,
      stream: ingest.stream,
      realtimeTable: tables.realtime,
      manifestTable: tables.manifest,
      dedupTable: tables.dedup,
      keyDirectoryTable: tables.keyDirectory,
      setAsideBucket: batch.masterBucket,
      ...(tables.anomalies === undefined ? {} : { anomalies: { table: tables.anomalies, batchTable: tables.batch } }),
    });
    const rebuild = new RebuildLayer(this, 'Rebuild', {
      pipeline,
      realtimeTable: tables.realtime,
      batchTable: tables.batch,
      manifestTable: tables.manifest,
      keyDirectoryTable: tables.keyDirectory,
      masterBucket: batch.masterBucket,
      workBucket: batch.workBucket,
      queries: batch.queries,
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      pipeline,
      consumer: speed.consumer,
      functions: {
        ingest: ingest.ingestFunction,
        speed: speed.consumer,
        transform: batch.transformFunction,
        serving: serving.queryFunction,
        rebuild: rebuild.rebuildFunction,
        ...(batch.batchFunction === undefined ? {} : { batch: batch.batchFunction }),
      },
      onFailureQueue: speed.onFailureQueue,
      deliveryStream: batch.deliveryStream,
      api: serving.api,
      batchFunction: batch.batchFunction,
    });
    if (props.alarmTopic !== undefined) this.addAlarmTopic(props.alarmTopic);
    acknowledgeNagFindings(this, { rebuildSchedule: rebuild.schedule !== undefined });

    new CfnOutput(this, 'Architecture', { value: pipeline.architecture });
    // Clients that wait for a batch run (the end-to-end suite, operators' scripts) need to know how long one takes.
    new CfnOutput(this, 'PipelineTiming', {
      value: JSON.stringify({
        epochLengthMs: pipeline.epochLengthMs,
        bufferIntervalMs: pipeline.bufferIntervalMs,
        safetyMarginMs: pipeline.safetyMarginMs,
        batchIntervalMs: pipeline.batchIntervalMs,
      }),
    });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'ApiUrl', { value: serving.api.url });
    new CfnOutput(this, 'ApiKeyId', { value: serving.apiKey.keyId });
    new CfnOutput(this, 'ApiKeyValueCommand', {
      value: `aws apigateway get-api-key --api-key ${serving.apiKey.keyId} --include-value --query value --output text`,
    });
    new CfnOutput(this, 'StreamName', { value: ingest.stream.streamName });
    new CfnOutput(this, 'RealtimeTableName', { value: tables.realtime.tableName });
    new CfnOutput(this, 'BatchTableName', { value: tables.batch.tableName });
    new CfnOutput(this, 'ManifestTableName', { value: tables.manifest.tableName });
    new CfnOutput(this, 'KeyDirectoryTableName', { value: tables.keyDirectory.tableName });
    if (tables.anomalies !== undefined) new CfnOutput(this, 'AnomalyTableName', { value: tables.anomalies.tableName });
    new CfnOutput(this, 'OnFailureQueueUrl', { value: speed.onFailureQueue.queueUrl });
    new CfnOutput(this, 'MasterBucketName', { value: batch.masterBucket.bucketName });
    new CfnOutput(this, 'WorkBucketName', { value: batch.workBucket.bucketName });
    new CfnOutput(this, 'RebuildFunctionName', { value: rebuild.rebuildFunction.functionName });
    // The same function, under the name `npm run replay -- --stack` has always looked up.
    new CfnOutput(this, 'ReplayFunctionName', { value: rebuild.rebuildFunction.functionName });
    if (batch.batchFunction !== undefined)
      new CfnOutput(this, 'BatchFunctionName', { value: batch.batchFunction.functionName });
  }

  /** Sends every alarm of the pipeline to the topic. */
  addAlarmTopic(topic: ITopic): void {
    for (const alarm of this.monitoring.alarms) alarm.addAlarmAction(new SnsAction(topic));
  }
}
