import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { PipelineConfig } from '../functions/core/pipeline-config';
import { PipelineFunction } from './pipeline-function';

export interface ReplayLayerProps {
  readonly pipeline: PipelineConfig;
  readonly realtimeTable: ITable;
  readonly manifestTable: ITable;
  readonly masterBucket: IBucket;
  /** The master dataset's prefix in the bucket. @default 'events/' */
  readonly masterPrefix?: string;
  /** Rejected records' prefix, never read. @default 'errors/' */
  readonly errorPrefix?: string;
  /** The replay holds the distinct records below the hand-off in memory. @default 3008 */
  readonly memorySize?: number;
}

/**
 * The replay: a Lambda that rebuilds one view into a new realtime generation from the master dataset, with the
 * live consumer writing into it from a hand-off time, then flips the manifest (functions/replay/replay-job.ts).
 * Started by `npm run replay -- --view X --stack NAME`, in both architectures; invoked again, it resumes.
 */
export class ReplayLayer extends Construct {
  readonly replayFunction: PipelineFunction;

  constructor(scope: Construct, id: string, props: ReplayLayerProps) {
    super(scope, id);
    this.replayFunction = new PipelineFunction(this, 'Replay', {
      entry: 'replay/handler.ts',
      service: 'replay',
      pipeline: props.pipeline,
      timeout: Duration.minutes(15),
      memorySize: props.memorySize ?? 3008,
      // Two replays of one view are refused by the manifest's condition; one at a time keeps the table's load low.
      reservedConcurrentExecutions: 1,
      environment: {
        REALTIME_TABLE: props.realtimeTable.tableName,
        MANIFEST_TABLE: props.manifestTable.tableName,
        MASTER_BUCKET: props.masterBucket.bucketName,
        MASTER_PREFIX: props.masterPrefix ?? 'events/',
        ERROR_PREFIX: props.errorPrefix ?? 'errors/',
      },
    });
    // Read and write: the backfill's conditional writes read items back, and the old generation is scanned for expiry.
    props.realtimeTable.grantReadWriteData(this.replayFunction);
    props.manifestTable.grantReadWriteData(this.replayFunction);
    props.masterBucket.grantRead(this.replayFunction);
  }
}
