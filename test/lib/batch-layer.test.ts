import { Match, type Template } from 'aws-cdk-lib/assertions';
import { synthesize } from './stack-fixture';

let template: Template;
let prod: Template;
let local: Template;
let kappa: Template;
let cutoffs: Template;

beforeAll(() => {
  template = synthesize().template;
  prod = synthesize({ stage: 'prod' }).template;
  local = synthesize({ target: 'local' }).template;
  kappa = synthesize({ pipeline: { architecture: 'kappa' } }).template;
  cutoffs = synthesize({ pipeline: { batchScanCutoffGiB: 2, rebuildScanCutoffGiB: 50.5 } }).template;
});

const GiB = 1024 ** 3;

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
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 4);
    prod.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});

describe('work bucket', () => {
  const workBucketOf = (stack: Template) =>
    Object.entries(stack.findResources('AWS::S3::Bucket')).find(
      ([, bucket]) => bucket.Properties?.LoggingConfiguration?.LogFilePrefix === 'work/',
    );

  it('is encrypted, blocks public access, logs access and expires the engine files after 7 days', () => {
    expect(workBucketOf(template)?.[1].Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: { DestinationBucketName: { Ref: expect.stringMatching(/^BatchAccessLogs/) } },
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 7, Status: 'Enabled' }] },
    });
  });

  it('denies non-TLS access', () => {
    const [id] = workBucketOf(template) ?? [];
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('is retained in production and emptied and destroyed in dev', () => {
    expect(workBucketOf(prod)?.[1].DeletionPolicy).toBe('Retain');
    expect(workBucketOf(template)?.[1].DeletionPolicy).toBe('Delete');
    const [id] = workBucketOf(template) ?? [];
    template.hasResourceProperties('Custom::S3AutoDeleteObjects', { BucketName: { Ref: id } });
  });

  it('exists on both targets and in both architectures: Kappa replays use it too', () => {
    expect(workBucketOf(local)).toBeDefined();
    expect(workBucketOf(kappa)).toBeDefined();
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
    expect(Object.keys(template.findResources('Custom::S3AutoDeleteObjects'))).toHaveLength(4);
  });

  it('queries only in the batch workgroup', () => {
    const athena = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string[]; Resource: unknown }[])
      .filter((statement) => [statement.Action].flat().includes('athena:StartQueryExecution'))
      .map((statement) => JSON.stringify(statement.Resource));
    expect(athena).toHaveLength(2);
    expect(athena.filter((resource) => resource.includes(':workgroup/Test-batch"'))).toHaveLength(1);
    expect(athena.filter((resource) => resource.includes(':workgroup/Test-rebuild"'))).toHaveLength(1);
  });

  it('is left out in Kappa mode with its schedule and workgroup, while Firehose still archives the log for replays', () => {
    kappa.resourceCountIs('AWS::Scheduler::Schedule', 0);
    kappa.resourceCountIs('AWS::Athena::WorkGroup', 1);
    kappa.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'Test-rebuild' });
    kappa.resourceCountIs('AWS::Glue::Table', 1);
    kappa.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
  });
});

describe('Athena workgroups', () => {
  const cutoffOf = (stack: Template, name: string) => {
    const found = Object.values(stack.findResources('AWS::Athena::WorkGroup')).filter(
      (workgroup) => workgroup.Properties.Name === name,
    );
    expect(found).toHaveLength(1);
    return found[0].Properties.WorkGroupConfiguration.BytesScannedCutoffPerQuery as number;
  };

  it("stop a batch window's query above batchScanCutoffGiB and a rebuild's above rebuildScanCutoffGiB: 10 and 1000 GiB by default", () => {
    expect(cutoffOf(template, 'Test-batch')).toBe(10 * GiB);
    expect(cutoffOf(template, 'Test-rebuild')).toBe(1000 * GiB);
  });

  it('follow the settings when they are changed', () => {
    expect(cutoffOf(cutoffs, 'Test-batch')).toBe(2 * GiB);
    expect(cutoffOf(cutoffs, 'Test-rebuild')).toBe(Math.round(50.5 * GiB));
  });

  it('both enforce their settings, publish metrics and keep encrypted results in the results bucket', () => {
    const configurations = Object.values(template.findResources('AWS::Athena::WorkGroup')).map(
      (workgroup) => workgroup.Properties.WorkGroupConfiguration,
    );
    expect(configurations).toHaveLength(2);
    for (const configuration of configurations) {
      expect(configuration).toMatchObject({
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: expect.stringMatching(/^BatchAthenaResults/) }, '/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      });
    }
  });
});
