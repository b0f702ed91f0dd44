import { Match, type Template } from 'aws-cdk-lib/assertions';
import { synthesize } from './stack-fixture';

let template: Template;
let prod: Template;
let local: Template;
let kappa: Template;

beforeAll(() => {
  template = synthesize().template;
  prod = synthesize({ stage: 'prod' }).template;
  local = synthesize({ target: 'local' }).template;
  kappa = synthesize({ pipeline: { architecture: 'kappa' } }).template;
});

const masterBucketOf = (stack: Template) =>
  Object.values(stack.findResources('AWS::S3::Bucket')).find(
    (bucket) => bucket.Properties?.VersioningConfiguration !== undefined,
  );

describe('master dataset bucket', () => {
  it('is versioned, encrypted, blocks public access and logs access to a separate bucket', () => {
    expect(masterBucketOf(template)?.Properties).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: { DestinationBucketName: expect.anything(), LogFilePrefix: 'master-dataset/' },
    });
  });

  it('denies non-TLS access and writes by anyone but Firehose, and in production denies deletes', () => {
    const statementsOf = (stack: Template) =>
      Object.values(stack.findResources('AWS::S3::BucketPolicy')).flatMap(
        (policy) => policy.Properties.PolicyDocument.Statement as Record<string, unknown>[],
      );
    const denies = (stack: Template) => statementsOf(stack).filter((statement) => statement.Effect === 'Deny');
    expect(denies(template)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({
          Action: 's3:PutObject',
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': expect.anything() } },
        }),
      ]),
    );
    expect(denies(prod)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutLifecycleConfiguration'],
        }),
      ]),
    );
  });

  it('is retained in production and destroyable in dev', () => {
    expect(masterBucketOf(prod)?.DeletionPolicy).toBe('Retain');
    expect(masterBucketOf(template)?.DeletionPolicy).toBe('Delete');
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 3);
    prod.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});

describe('Firehose', () => {
  it('reads the stream, transforms with the Lambda, partitions dynamically by its keys, compresses with GZIP and has an error prefix', () => {
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: { KinesisStreamARN: Match.anyValue(), RoleARN: Match.anyValue() },
      ExtendedS3DestinationConfiguration: Match.objectLike({
        Prefix: 'events/dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/',
        ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/',
        CompressionFormat: 'GZIP',
        BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
        DynamicPartitioningConfiguration: { Enabled: true, RetryOptions: { DurationInSeconds: 300 } },
        ProcessingConfiguration: { Enabled: true, Processors: [Match.objectLike({ Type: 'Lambda' })] },
        CloudWatchLoggingOptions: Match.objectLike({ Enabled: true }),
      }),
    });
  });

  it('leaves out its CloudWatch log stream on the emulator target', () => {
    local.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      ExtendedS3DestinationConfiguration: Match.objectLike({ CloudWatchLoggingOptions: { Enabled: false } }),
    });
    local.resourceCountIs('AWS::Logs::LogStream', 0);
  });
});

describe('batch job', () => {
  it('registers the master dataset in Glue with partition projection, and an Athena workgroup that enforces its settings', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Parameters: Match.objectLike({
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.hour.type': 'integer',
        }),
        PartitionKeys: [
          { Name: 'dt', Type: 'string' },
          { Name: 'hour', Type: 'string' },
        ],
      }),
    });
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        ResultConfiguration: {
          OutputLocation: Match.anyValue(),
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      }),
    });
  });

  it('runs on an EventBridge Scheduler schedule, one run at a time, with Athena in AWS and DuckDB on emulators', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(60 minutes)',
      FlexibleTimeWindow: { Mode: 'OFF' },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 1,
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'batch', BATCH_ENGINE: 'athena' }) },
    });
    local.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'batch', BATCH_ENGINE: 'duckdb' }) },
    });
    local.resourceCountIs('AWS::Glue::Table', 0);
    local.resourceCountIs('AWS::Athena::WorkGroup', 0);
  });

  it('on emulators, deploys no custom resource, whose handler would need the Lambda runtime SDK that emulators lack', () => {
    expect(Object.keys(local.findResources('Custom::S3AutoDeleteObjects'))).toEqual([]);
    expect(Object.keys(template.findResources('Custom::S3AutoDeleteObjects'))).toHaveLength(3);
  });

  it('is left out in Kappa mode, with Glue and Athena, while Firehose still archives the log', () => {
    kappa.resourceCountIs('AWS::Scheduler::Schedule', 0);
    kappa.resourceCountIs('AWS::Glue::Table', 0);
    kappa.resourceCountIs('AWS::Athena::WorkGroup', 0);
    kappa.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
  });
});
