import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import { AnyPrincipal, Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { CfnDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import { LogGroup, LogStream, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { CfnSchedule } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { masterDatasetGlueTable } from '../functions/core/glue-table';
import type { PipelineConfig } from '../functions/core/pipeline-config';
import { grantMasterDatasetQueries, type MasterDatasetQueries } from './master-dataset-queries';
import { DUCKDB_MODULES, PipelineFunction } from './pipeline-function';

const MASTER_PREFIX = 'events/';
const ERROR_PREFIX = 'errors/';
/** The Glue table of the master dataset. */
const EVENTS_TABLE = 'events';

export interface BatchLayerProps {
  readonly pipeline: PipelineConfig;
  readonly stream: IStream;
  readonly batchTable: ITable;
  readonly manifestTable: ITable;
  /** The key directory, where each window records its keys' first and last arrivals before it flips. */
  readonly keyDirectoryTable: ITable;
  readonly stage: 'dev' | 'prod';
  /** `local` leaves out what LocalStack and MiniStack cannot create (Glue, Athena, Firehose log streams) and runs DuckDB. */
  readonly target: 'aws' | 'local';
  /** Firehose buffer size; dynamic partitioning needs at least 64. @default 64 */
  readonly bufferSizeMiB?: number;
  /** Firehose CloudWatch error logging. @default true */
  readonly firehoseLogging?: boolean;
  /** How long the engine's result files of rebuilds and replays stay in the work bucket. @default 7 days */
  readonly workExpiration?: Duration;
}

/**
 * The batch layer: Firehose archives the stream through the transform into the append-only master dataset, and
 * (in the Lambda architecture) a scheduled batch job computes each arrival window's views with Athena over the Glue
 * table (DESIGN.md §6). In Kappa mode there is no batch job: the archive is the log that replays read. In both, the
 * Glue table, the rebuild workgroup and the work bucket serve the engine-computed rebuilds and replays.
 */
export class BatchLayer extends Construct {
  readonly masterBucket: Bucket;
  readonly accessLogsBucket: Bucket;
  /** Where rebuilds and replays have the engine put its result files; they expire after `workExpiration`. */
  readonly workBucket: Bucket;
  readonly transformFunction: PipelineFunction;
  readonly deliveryStream: CfnDeliveryStream;
  /** The Glue table and Athena workgroups over the master dataset, on target `aws` (DuckDB reads S3 directly). */
  readonly queries?: MasterDatasetQueries;
  readonly batchFunction?: PipelineFunction;

  constructor(scope: Construct, id: string, props: BatchLayerProps) {
    super(scope, id);
    const production = props.stage === 'prod';
    const removal = production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const bucketDefaults = {
      // S3-managed keys: Firehose, Athena and the batch job read and write without key grants or per-request KMS cost.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      removalPolicy: removal,
      // The auto-delete custom resource runs on the Lambda runtime's own SDK, which emulators' local executors lack;
      // an emulator's buckets go away with the emulator.
      autoDeleteObjects: !production && props.target === 'aws',
    };
    this.accessLogsBucket = new Bucket(this, 'AccessLogs', {
      ...bucketDefaults,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
    });
    this.masterBucket = new Bucket(this, 'MasterDataset', {
      ...bucketDefaults,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'master-dataset/',
    });
    this.workBucket = new Bucket(this, 'Work', {
      ...bucketDefaults,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'work/',
      // Result files are intermediate: a rebuild reads them within its run, and a resumed one within hours.
      lifecycleRules: [{ expiration: props.workExpiration ?? Duration.days(7) }],
    });

    this.transformFunction = new PipelineFunction(this, 'Transform', {
      entry: 'firehose-transform/handler.ts',
      service: 'firehose-transform',
      pipeline: props.pipeline,
      timeout: Duration.minutes(1),
    });
    const firehoseRole = new Role(this, 'FirehoseRole', { assumedBy: new ServicePrincipal('firehose.amazonaws.com') });
    props.stream.grantRead(firehoseRole);
    // Firehose puts and lists objects; it never deletes.
    this.masterBucket.grantPut(firehoseRole);
    this.masterBucket.grantRead(firehoseRole);
    this.transformFunction.grantInvoke(firehoseRole);

    // The master dataset is append-only: nobody but Firehose writes to it, and in production nobody deletes from it.
    // (In dev the bucket is destroyable by design, so the delete deny would only block its own teardown.)
    this.masterBucket.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.masterBucket.arnForObjects('*')],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': firehoseRole.roleArn } },
      }),
    );
    if (production) {
      this.masterBucket.addToResourcePolicy(
        new PolicyStatement({
          effect: Effect.DENY,
          principals: [new AnyPrincipal()],
          actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutLifecycleConfiguration'],
          resources: [this.masterBucket.bucketArn, this.masterBucket.arnForObjects('*')],
        }),
      );
    }

    const logging = (props.firehoseLogging ?? true) && props.target === 'aws';
    const logGroup = logging
      ? new LogGroup(this, 'FirehoseLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: removal })
      : undefined;
    const logStream =
      logGroup === undefined
        ? undefined
        : new LogStream(this, 'FirehoseLogStream', { logGroup, removalPolicy: removal });
    logGroup?.grantWrite(firehoseRole);
    const bufferInterval = Math.max(0, Math.min(900, Math.round(props.pipeline.bufferIntervalMs / 1000)));
    this.deliveryStream = new CfnDeliveryStream(this, 'Archive', {
      deliveryStreamType: 'KinesisStreamAsSource',
      kinesisStreamSourceConfiguration: { kinesisStreamArn: props.stream.streamArn, roleArn: firehoseRole.roleArn },
      extendedS3DestinationConfiguration: {
        bucketArn: this.masterBucket.bucketArn,
        roleArn: firehoseRole.roleArn,
        prefix: `${MASTER_PREFIX}dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/`,
        errorOutputPrefix: `${ERROR_PREFIX}!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/`,
        compressionFormat: 'GZIP',
        bufferingHints: { intervalInSeconds: bufferInterval, sizeInMBs: Math.max(64, props.bufferSizeMiB ?? 64) },
        dynamicPartitioningConfiguration: { enabled: true, retryOptions: { durationInSeconds: 300 } },
        processingConfiguration: {
          enabled: true,
          processors: [
            {
              type: 'Lambda',
              parameters: [
                { parameterName: 'LambdaArn', parameterValue: this.transformFunction.functionArn },
                { parameterName: 'BufferSizeInMBs', parameterValue: '1' },
                { parameterName: 'BufferIntervalInSeconds', parameterValue: String(Math.max(bufferInterval, 60)) },
              ],
            },
          ],
        },
        cloudWatchLoggingOptions:
          logGroup === undefined || logStream === undefined
            ? { enabled: false }
            : { enabled: true, logGroupName: logGroup.logGroupName, logStreamName: logStream.logStreamName },
      },
    });
    // Firehose checks its permissions when the stream is created: the role's policy must exist first.
    this.deliveryStream.node.addDependency(firehoseRole);

    if (props.target === 'aws') this.queries = this.athena(props, removal, bucketDefaults);
    if (props.pipeline.architecture === 'lambda') this.batchFunction = this.batchJob(props);
  }

  private batchJob(props: BatchLayerProps): PipelineFunction {
    const athena = this.queries;
    const batchWorkGroup = athena?.batchWorkGroup;
    const batchFunction = new PipelineFunction(this, 'BatchJob', {
      entry: 'batch/handler.ts',
      service: 'batch',
      pipeline: props.pipeline,
      timeout: Duration.minutes(15),
      memorySize: 2048,
      // Runs must not overlap: the schedule may fire again while a slow run is still writing.
      reservedConcurrentExecutions: 1,
      externalModules: DUCKDB_MODULES.external,
      copyModules: athena === undefined ? DUCKDB_MODULES.copied : [],
      environment: {
        BATCH_TABLE: props.batchTable.tableName,
        MANIFEST_TABLE: props.manifestTable.tableName,
        KEY_DIRECTORY_TABLE: props.keyDirectoryTable.tableName,
        ...(athena === undefined || batchWorkGroup === undefined
          ? { BATCH_ENGINE: 'duckdb', MASTER_BUCKET: this.masterBucket.bucketName, MASTER_PREFIX, ERROR_PREFIX }
          : {
              BATCH_ENGINE: 'athena',
              ATHENA_WORKGROUP: batchWorkGroup.name,
              ATHENA_DATABASE: athena.databaseName,
              ATHENA_TABLE: athena.tableName,
            }),
      },
    });
    props.batchTable.grantWriteData(batchFunction);
    props.manifestTable.grantReadWriteData(batchFunction);
    // Conditional min/max updates only (key-directory-store.ts, recordSightings).
    props.keyDirectoryTable.grant(batchFunction, 'dynamodb:UpdateItem');
    this.masterBucket.grantRead(batchFunction);
    if (athena !== undefined && batchWorkGroup !== undefined)
      grantMasterDatasetQueries(batchFunction, athena, batchWorkGroup);

    const schedulerRole = new Role(this, 'SchedulerRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
    });
    batchFunction.grantInvoke(schedulerRole);
    new CfnSchedule(this, 'Schedule', {
      description: 'Recomputes the batch views from the master dataset',
      scheduleExpression: `rate(${Math.max(1, Math.round(props.pipeline.batchIntervalMs / 60_000))} minutes)`,
      flexibleTimeWindow: { mode: 'OFF' },
      target: {
        arn: batchFunction.functionArn,
        roleArn: schedulerRole.roleArn,
        retryPolicy: { maximumRetryAttempts: 0 },
      },
    });
    return batchFunction;
  }

  /**
   * The Glue table of the master dataset (partition projection, no crawler) and the Athena workgroups: the batch
   * windows' (Lambda architecture) and the rebuilds' and replays', each with the scan cutoff of its settings.
   */
  private athena(props: BatchLayerProps, removal: RemovalPolicy, bucketDefaults: object): MasterDatasetQueries {
    const stack = Stack.of(this);
    const database = new CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: `${stack.stackName.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_master` },
    });
    const input = masterDatasetGlueTable({
      name: EVENTS_TABLE,
      bucket: this.masterBucket.bucketName,
      prefix: MASTER_PREFIX,
      schema: props.pipeline.schema,
    });
    const table = new CfnTable(this, 'EventsTable', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: database.ref,
      tableInput: {
        name: input.Name,
        tableType: input.TableType,
        parameters: input.Parameters,
        partitionKeys: input.PartitionKeys.map(toGlueColumn),
        storageDescriptor: {
          columns: input.StorageDescriptor.Columns.map(toGlueColumn),
          location: input.StorageDescriptor.Location,
          inputFormat: input.StorageDescriptor.InputFormat,
          outputFormat: input.StorageDescriptor.OutputFormat,
          serdeInfo: {
            serializationLibrary: input.StorageDescriptor.SerdeInfo.SerializationLibrary,
            parameters: input.StorageDescriptor.SerdeInfo.Parameters,
          },
        },
      },
    });
    table.addResourceDependency(database);
    const results = new Bucket(this, 'AthenaResults', {
      ...bucketDefaults,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'athena-results/',
      lifecycleRules: [{ expiration: Duration.days(7) }],
    });
    // The handlers plan their queries with the same settings (PIPELINE_CONFIG), so the cutoffs come only from there.
    const workGroup = (id: string, suffix: string, bytesScannedCutoffPerQuery: number) =>
      new CfnWorkGroup(this, id, {
        name: `${stack.stackName}-${suffix}`,
        recursiveDeleteOption: removal === RemovalPolicy.DESTROY,
        workGroupConfiguration: {
          enforceWorkGroupConfiguration: true,
          publishCloudWatchMetricsEnabled: true,
          bytesScannedCutoffPerQuery,
          resultConfiguration: {
            outputLocation: `s3://${results.bucketName}/`,
            encryptionConfiguration: { encryptionOption: 'SSE_S3' },
          },
        },
      });
    return {
      databaseName: database.ref,
      tableName: EVENTS_TABLE,
      resultsBucket: results,
      batchWorkGroup:
        props.pipeline.architecture === 'lambda'
          ? workGroup('WorkGroup', 'batch', props.pipeline.batchScanCutoffBytes)
          : undefined,
      rebuildWorkGroup: workGroup('RebuildWorkGroup', 'rebuild', props.pipeline.rebuildScanCutoffBytes),
    };
  }
}

function toGlueColumn(column: { readonly Name: string; readonly Type: string }) {
  return { name: column.Name, type: column.Type };
}
