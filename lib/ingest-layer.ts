import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import type { PipelineConfig } from '../functions/core/pipeline-config';
import { PipelineFunction } from './pipeline-function';

export interface IngestLayerProps {
  readonly pipeline: PipelineConfig;
  readonly removalPolicy: RemovalPolicy;
  /** Provisioned shards; on-demand when omitted. @default on-demand */
  readonly shardCount?: number;
  /** How long the stream keeps records; replays beyond it read the master dataset. @default 7 days */
  readonly retentionPeriod?: Duration;
}

/**
 * The message layer: the Kinesis stream and the POST /events function. The stream is KMS-encrypted with the
 * AWS-managed aws/kinesis key (cdk-nag KDS3): producers and consumers need no key grants, and Firehose can read it.
 */
export class IngestLayer extends Construct {
  readonly stream: Stream;
  readonly ingestFunction: PipelineFunction;

  constructor(scope: Construct, id: string, props: IngestLayerProps) {
    super(scope, id);
    this.stream = new Stream(this, 'Events', {
      encryption: StreamEncryption.MANAGED,
      retentionPeriod: props.retentionPeriod ?? Duration.days(7),
      ...(props.shardCount === undefined ? { streamMode: StreamMode.ON_DEMAND } : { shardCount: props.shardCount }),
      removalPolicy: props.removalPolicy,
    });
    this.ingestFunction = new PipelineFunction(this, 'Ingest', {
      entry: 'ingest/handler.ts',
      service: 'ingest',
      pipeline: props.pipeline,
      environment: { STREAM_NAME: this.stream.streamName },
    });
    this.stream.grantWrite(this.ingestFunction);
  }
}
