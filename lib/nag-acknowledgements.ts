import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The cdk-nag AwsSolutions findings that do not apply to this pipeline, each with the reason. Every other finding
 * fails synth. Each is acknowledged on the stack, for all occurrences, since the reason holds for each.
 */
export const NAG_ACKNOWLEDGEMENTS: readonly { id: string; reason: string }[] = [
  {
    id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      'IAM4: AWSLambdaBasicExecutionRole only lets a function write its own CloudWatch logs, the narrowest policy for that.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    reason:
      'IAM4: API Gateway needs this account-level role to write the stage execution logs that APIG6 asks for; AWS offers no narrower policy.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    reason:
      'IAM5: the only wildcard resources are xray:PutTraceSegments and xray:PutTelemetryRecords for active tracing, which have no resource-level permissions.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-L1',
    reason:
      'L1: the functions are pinned to nodejs22.x, the runtime the project is built and tested for; moving to a newer runtime is a tested change, not a default.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-SQS3',
    reason:
      'SQS3: this queue is itself the dead-letter destination of the Kinesis event source mapping (its on-failure destination); nothing consumes it automatically.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-APIG3',
    reason:
      'APIG3: throttling is enforced by the stage and the usage plan; a WAF web ACL is an optional per-deployment add-on with its own cost.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-APIG4',
    reason:
      'APIG4: every method requires an API key bound to a usage plan, the auth mode chosen for this machine-to-machine API; there are no end-user identities to authorize.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-COG4',
    reason:
      'COG4: callers are producers and dashboards with API keys, not Cognito users; see the APIG4 acknowledgement.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Action::s3:Abort*]',
    reason:
      "IAM5: s3:Abort* comes from CDK's grantPut/grantReadWrite on a single bucket: Firehose, Athena and the rebuild function abort their own multipart uploads there.",
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Action::s3:DeleteObject*]',
    reason:
      'IAM5: s3:DeleteObject* comes from grantReadWrite on the Athena results and work buckets only, whose query results and engine files are overwritten and cleaned up; the master dataset denies deletes in production.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Action::s3:GetBucket*]',
    reason:
      "IAM5: s3:GetBucket* comes from CDK's grantRead on a single bucket (bucket location and versioning lookups).",
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Action::s3:GetObject*]',
    reason:
      "IAM5: s3:GetObject* comes from CDK's grantRead on a single bucket, whose every object the batch job or the rebuild function must read.",
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Action::s3:List*]',
    reason:
      "IAM5: s3:List* comes from CDK's grantRead on a single bucket: the engines list the master dataset and the rebuild function its result files.",
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::<BatchMasterDataset266AEF6E.Arn>/*]',
    reason:
      'IAM5: object-level access to every object of the master dataset bucket is the point: Firehose appends anywhere under its prefix and the batch job and the rebuild function read all of it.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::<BatchMasterDataset266AEF6E.Arn>/set-aside/*]',
    reason:
      'IAM5: the speed layer writes one object per batch of set-aside records under set-aside/, whose keys it names from the records; it can write nowhere else in the bucket.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::<BatchAthenaResultsC4BAFB8C.Arn>/*]',
    reason: 'IAM5: Athena writes the results of each query under a new key in this dedicated results bucket.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::<BatchWork5E5112C1.Arn>/*]',
    reason:
      'IAM5: the rebuild function has the engine write result files under a new key per job in this dedicated work bucket, then reads and deletes them.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::<BatchBatchJobC08DE3F3.Arn>:*]',
    reason:
      'IAM5: grantInvoke also allows the function versions and aliases (ARN:*); the scheduler invokes only this function.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::<BatchTransform82BC3436.Arn>:*]',
    reason:
      'IAM5: grantInvoke also allows the function versions and aliases (ARN:*); Firehose invokes only this transform.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-KDF1',
    reason:
      'KDF1: a delivery stream whose source is a Kinesis stream cannot enable its own server-side encryption; the data is encrypted in the source stream (KMS) and in the bucket (SSE-S3).',
  },
];

/** Findings of the rebuild schedule, which exists only when `rebuildScheduleDays` is set. */
export const REBUILD_SCHEDULE_NAG_ACKNOWLEDGEMENTS: readonly { id: string; reason: string }[] = [
  {
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::<RebuildFunction956AE4E4.Arn>:*]',
    reason:
      'IAM5: grantInvoke also allows the function versions and aliases (ARN:*); the scheduler invokes only the rebuild function.',
  },
];

export function acknowledgeNagFindings(scope: IConstruct, options: { readonly rebuildSchedule?: boolean } = {}): void {
  const acknowledgements = [
    ...NAG_ACKNOWLEDGEMENTS,
    ...(options.rebuildSchedule === true ? REBUILD_SCHEDULE_NAG_ACKNOWLEDGEMENTS : []),
  ];
  for (const acknowledgement of acknowledgements) Validations.of(scope).acknowledge(acknowledgement);
}
