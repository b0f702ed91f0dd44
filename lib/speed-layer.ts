import { Duration, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SET_ASIDE_PREFIX } from '../functions/core/set-aside-layout';
import type { PipelineConfig } from '../functions/core/pipeline-config';
import { PipelineFunction } from './pipeline-function';

/** The bus anomaly events are put on: the account's default bus, where any rule of the account can route them. */
export const ANOMALY_EVENT_BUS = 'default';

export interface SpeedLayerProps {
  readonly pipeline: PipelineConfig;
  readonly stream: IStream;
  readonly realtimeTable: ITable;
  /** Where the consumer reads which generation of each view to write (and, during a replay, the next one too). */
  readonly manifestTable: ITable;
  readonly dedupTable?: ITable;
  /** The key directory, where the consumer records keys it has not seen before their realtime items. */
  readonly keyDirectoryTable: ITable;
  /**
   * Where the consumer sets aside records the realtime table refuses for their content (under `set-aside/`), so
   * that one record never stops a shard: the master dataset's bucket.
   */
  readonly setAsideBucket: IBucket;
  /**
   * Scoring (DESIGN.md §12), when a view declares a baseline: the consumer reads each key's baseline from the batch
   * and realtime tables by the serving rule, records anomalies in this table and publishes them to the account's
   * default event bus.
   */
  readonly anomalies?: { readonly table: ITable; readonly batchTable: ITable };
  /** Records per invocation. @default 500 */
  readonly batchSize?: number;
  /** How long to gather a batch. @default 1 second */
  readonly maxBatchingWindow?: Duration;
  /** Retries of a failing batch before it is sent to the on-failure queue. @default 10 */
  readonly retryAttempts?: number;
  /** Records older than this are sent to the on-failure queue unprocessed. @default 1 day */
  readonly maxRecordAge?: Duration;
}

/** The speed layer: the consumer function on the stream, writing realtime views, and its on-failure queue. */
export class SpeedLayer extends Construct {
  readonly consumer: PipelineFunction;
  readonly onFailureQueue: Queue;

  constructor(scope: Construct, id: string, props: SpeedLayerProps) {
    super(scope, id);
    this.consumer = new PipelineFunction(this, 'Consumer', {
      entry: 'speed/handler.ts',
      service: 'speed',
      pipeline: props.pipeline,
      timeout: Duration.minutes(1),
      environment: {
        REALTIME_TABLE: props.realtimeTable.tableName,
        MANIFEST_TABLE: props.manifestTable.tableName,
        ...(props.dedupTable === undefined ? {} : { DEDUP_TABLE: props.dedupTable.tableName }),
        SET_ASIDE_BUCKET: props.setAsideBucket.bucketName,
        KEY_DIRECTORY_TABLE: props.keyDirectoryTable.tableName,
        ...(props.anomalies === undefined
          ? {}
          : {
              ANOMALY_TABLE: props.anomalies.table.tableName,
              BATCH_TABLE: props.anomalies.batchTable.tableName,
              EVENT_BUS_NAME: ANOMALY_EVENT_BUS,
            }),
      },
    });
    props.setAsideBucket.grantPut(this.consumer, `${SET_ASIDE_PREFIX}*`);
    props.realtimeTable.grantReadWriteData(this.consumer);
    props.manifestTable.grantReadData(this.consumer);
    props.dedupTable?.grantReadWriteData(this.consumer);
    // Which keys exist, then a conditional put of the missing ones (key-directory-store.ts): nothing else.
    props.keyDirectoryTable.grant(this.consumer, 'dynamodb:BatchGetItem', 'dynamodb:PutItem');
    if (props.anomalies !== undefined) {
      // Baselines are read by the serving rule: the batch rows (and the manifest, granted above) with the realtime items.
      props.anomalies.batchTable.grantReadData(this.consumer);
      // Conditional puts, a consistent read of the notified flag, and setting it (anomaly-store.ts): nothing else.
      props.anomalies.table.grant(this.consumer, 'dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem');
      // Anomaly events go to the default bus of the stack's own account and region, and nowhere else.
      const stack = Stack.of(this);
      this.consumer.addToRolePolicy(
        new PolicyStatement({
          actions: ['events:PutEvents'],
          resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: ANOMALY_EVENT_BUS })],
        }),
      );
    }
    this.onFailureQueue = new Queue(this, 'OnFailure', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.consumer.addEventSource(
      new KinesisEventSource(props.stream, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: props.batchSize ?? 500,
        maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(1),
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: props.retryAttempts ?? 10,
        maxRecordAge: props.maxRecordAge ?? Duration.days(1),
        onFailure: new SqsDlq(this.onFailureQueue),
        // One batch in flight per shard: the watermark protocol (DESIGN.md §4) is exact with one writer per shard.
        parallelizationFactor: 1,
      }),
    );
  }
}
