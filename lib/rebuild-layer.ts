import { ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { CfnSchedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { createHash } from 'node:crypto';
import type { PipelineConfig } from '../functions/core/pipeline-config';
import { grantMasterDatasetQueries, type MasterDatasetQueries } from './master-dataset-queries';
import { DUCKDB_MODULES, PipelineFunction } from './pipeline-function';

/** Lambda's limit on a function name, and the characters it allows. */
const FUNCTION_NAME_MAX = 64;
const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const DAY_MS = 86_400_000;

export interface RebuildLayerProps {
  readonly pipeline: PipelineConfig;
  readonly realtimeTable: ITable;
  /** Rebuilds write a view's new base here, and scan it to expire the rows the new base replaces. */
  readonly batchTable: ITable;
  readonly manifestTable: ITable;
  /** The key directory, where rebuilds and replays record their keys before they flip. */
  readonly keyDirectoryTable: ITable;
  readonly masterBucket: IBucket;
  /** Where the engine puts its result files, which the function reads back and deletes. */
  readonly workBucket: IBucket;
  /**
   * Athena over the master dataset: the function queries it in the rebuild workgroup.
   * @default none: the function runs DuckDB over the master bucket (the emulator target)
   */
  readonly queries?: MasterDatasetQueries;
  /** The master dataset's prefix in the bucket. @default 'events/' */
  readonly masterPrefix?: string;
  /** Rejected records' prefix, never read. @default 'errors/' */
  readonly errorPrefix?: string;
  /**
   * The function's physical name: it invokes itself by it to continue a long job, which a generated name would
   * make a circular reference. @default `${stackName}-rebuild`, shortened with a hash to Lambda's 64 characters
   */
  readonly functionName?: string;
  /** Room for DuckDB on emulators and for the engine's result files read back in AWS. @default 3008 */
  readonly memorySize?: number;
  /**
   * Jobs of different views run side by side; two jobs of one view are refused by the manifest's condition.
   * @default 4
   */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * Rebuilds and replays (DESIGN.md §6): a Lambda that has the engine (Athena in AWS, DuckDB on emulators) recompute a
 * view from the master dataset into the work bucket, writes the result as a new batch base (`{"kind":"batch"}`) or a
 * new realtime generation (`{"kind":"realtime"}`, the Kappa replay), then flips the manifest to it. A job longer
 * than one invocation continues by invoking the function again, asynchronously, with the same event.
 * Started by `npm run replay -- --view X --stack NAME`, in both architectures; with `rebuildScheduleDays` set, the
 * Lambda architecture also rebuilds every view (`{"kind":"batch","view":"*"}`) on a schedule.
 */
export class RebuildLayer extends Construct {
  readonly rebuildFunction: PipelineFunction;
  /** The periodic rebuild of every view, when `rebuildScheduleDays` is set (Lambda architecture only). */
  readonly schedule?: CfnSchedule;

  constructor(scope: Construct, id: string, props: RebuildLayerProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const functionName = props.functionName ?? rebuildFunctionName(stack.stackName);
    if (!FUNCTION_NAME_PATTERN.test(functionName)) {
      throw new Error(
        `rebuild function name ${JSON.stringify(functionName)}: expected 1 to 64 letters, digits, hyphens or underscores`,
      );
    }
    const queries = props.queries;
    this.rebuildFunction = new PipelineFunction(this, 'Function', {
      entry: 'rebuild/handler.ts',
      service: 'rebuild',
      pipeline: props.pipeline,
      functionName,
      timeout: Duration.minutes(15),
      memorySize: props.memorySize ?? 3008,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions ?? 4,
      externalModules: DUCKDB_MODULES.external,
      copyModules: queries === undefined ? DUCKDB_MODULES.copied : [],
      environment: {
        REALTIME_TABLE: props.realtimeTable.tableName,
        BATCH_TABLE: props.batchTable.tableName,
        MANIFEST_TABLE: props.manifestTable.tableName,
        KEY_DIRECTORY_TABLE: props.keyDirectoryTable.tableName,
        WORK_BUCKET: props.workBucket.bucketName,
        MASTER_BUCKET: props.masterBucket.bucketName,
        MASTER_PREFIX: props.masterPrefix ?? 'events/',
        ERROR_PREFIX: props.errorPrefix ?? 'errors/',
        ...(queries === undefined
          ? { BATCH_ENGINE: 'duckdb' }
          : {
              BATCH_ENGINE: 'athena',
              ATHENA_WORKGROUP: queries.rebuildWorkGroup.name,
              ATHENA_DATABASE: queries.databaseName,
              ATHENA_TABLE: queries.tableName,
            }),
      },
    });
    const fn = this.rebuildFunction;
    // Read and write: idempotent writes read items back, and the replaced base or generation is scanned for expiry.
    props.realtimeTable.grantReadWriteData(fn);
    props.batchTable.grantReadWriteData(fn);
    props.manifestTable.grantReadWriteData(fn);
    // Conditional min/max updates only (key-directory-store.ts, recordSightings).
    props.keyDirectoryTable.grant(fn, 'dynamodb:UpdateItem');
    props.masterBucket.grantRead(fn);
    props.workBucket.grantReadWrite(fn);
    if (queries !== undefined) grantMasterDatasetQueries(fn, queries, queries.rebuildWorkGroup);
    // Built from the name, not from the function's ARN attribute, which its own role's policy cannot reference.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [
          stack.formatArn({
            service: 'lambda',
            resource: 'function',
            resourceName: functionName,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );

    const intervalMs = props.pipeline.rebuildIntervalMs;
    // Kappa mode has no batch views to compact; its replays are started on demand.
    if (intervalMs !== null && props.pipeline.architecture === 'lambda') {
      const schedulerRole = new Role(this, 'SchedulerRole', {
        assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
      });
      fn.grantInvoke(schedulerRole);
      this.schedule = new CfnSchedule(this, 'Schedule', {
        description: 'Rebuilds every view from the master dataset, compacting its batch windows into a new base',
        scheduleExpression: ScheduleExpression.rate(Duration.days(Math.max(1, Math.round(intervalMs / DAY_MS))))
          .expressionString,
        flexibleTimeWindow: { mode: 'OFF' },
        target: {
          arn: fn.functionArn,
          roleArn: schedulerRole.roleArn,
          input: JSON.stringify({ kind: 'batch', view: '*' }),
          retryPolicy: { maximumRetryAttempts: 0 },
        },
      });
    }
  }
}

/** `${stackName}-rebuild`, with a long stack name cut and a hash of it added so that two stacks never share it. */
export function rebuildFunctionName(stackName: string): string {
  if (Token.isUnresolved(stackName)) {
    throw new Error('the rebuild function is named after the stack: give the stack a literal name');
  }
  const suffix = '-rebuild';
  const base = stackName.replace(/[^A-Za-z0-9_-]/g, '-');
  if (base.length + suffix.length <= FUNCTION_NAME_MAX) return `${base}${suffix}`;
  const hash = createHash('sha256').update(stackName).digest('hex').slice(0, 8);
  return `${base.slice(0, FUNCTION_NAME_MAX - suffix.length - hash.length - 1)}-${hash}${suffix}`;
}
