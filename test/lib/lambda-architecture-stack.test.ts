import { Match, type Template } from 'aws-cdk-lib/assertions';
import { NAG_ACKNOWLEDGEMENTS, REBUILD_SCHEDULE_NAG_ACKNOWLEDGEMENTS } from '../../lib/nag-acknowledgements';
import { synthesize, type ValidationReport } from './stack-fixture';

let template: Template;
let report: ValidationReport;
let prod: Template;
/** A pipeline whose one view declares no baseline: no anomalies table, no scoring, no anomalies routes. */
let withoutBaseline: Template;

beforeAll(() => {
  ({ template, report } = synthesize());
  prod = synthesize({ stage: 'prod' }).template;
  withoutBaseline = synthesize({
    pipeline: { views: [{ name: 'plain', dimensions: ['deviceId'], granularity: 'hour' }] },
  }).template;
});

/** The statements of the IAM policies attached to the role of the pipeline function of a service. */
function statementsOf(stack: Template, service: string): { Action: string | string[]; Resource: unknown }[] {
  const [, fn] = Object.entries(stack.findResources('AWS::Lambda::Function')).find(
    ([, resource]) => resource.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === service,
  ) ?? [undefined, undefined];
  expect(fn).toBeDefined();
  const role = (fn!.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
  return Object.values(stack.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === role))
    .flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
}

const actionsOf = (statement: { Action: string | string[] }) => [statement.Action].flat();
const anomalyTableId = (stack: Template) =>
  Object.keys(stack.findResources('AWS::DynamoDB::Table')).find((id) => id.startsWith('ViewsAnomalies'));
/** The statements whose resources name the anomalies table. */
const onAnomalyTable = (stack: Template, service: string) =>
  statementsOf(stack, service).filter((statement) =>
    JSON.stringify(statement.Resource).includes(`"${anomalyTableId(stack)}"`),
  );

describe('the stack passes cdk-nag', () => {
  it('leaves no AwsSolutions finding unacknowledged', () => {
    const [plugin] = report.pluginReports;
    expect(plugin).toMatchObject({ pluginName: 'AwsSolutions', conclusion: 'success', violations: [] });
  });

  const suppressedIn = (validation: ValidationReport) =>
    new Set(validation.pluginReports[0].suppressedViolations.map((violation) => `AwsSolutions::${violation.ruleName}`));

  it('acknowledges only findings that occur, so no acknowledgement is stale', () => {
    const suppressed = suppressedIn(report);
    for (const { id, reason } of NAG_ACKNOWLEDGEMENTS) {
      expect(suppressed).toContain(id);
      expect(reason).toMatch(new RegExp(`^${id.split('-')[1].split('[')[0]}: `));
    }
  });

  it('with the rebuild schedule, passes too and acknowledges only its findings that occur', () => {
    const scheduled = synthesize({ pipeline: { rebuildScheduleDays: 1 } }).report;
    expect(scheduled.pluginReports[0]).toMatchObject({ conclusion: 'success', violations: [] });
    const suppressed = suppressedIn(scheduled);
    for (const { id, reason } of REBUILD_SCHEDULE_NAG_ACKNOWLEDGEMENTS) {
      expect(suppressed).toContain(id);
      expect(reason).toMatch(new RegExp(`^${id.split('-')[1].split('[')[0]}: `));
    }
    for (const { id } of REBUILD_SCHEDULE_NAG_ACKNOWLEDGEMENTS) expect(suppressedIn(report)).not.toContain(id);
  });
});

describe('message layer defaults', () => {
  it('encrypts the stream with KMS', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
  });
});

describe('speed layer defaults', () => {
  it('maps the stream to the consumer from TRIM_HORIZON, reporting item failures, bisecting, with bounded retries and age, one batch per shard', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86400,
      ParallelizationFactor: 1,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
  });

  it('lets the consumer set records aside under set-aside/ of the master bucket, and write nothing else there', () => {
    const consumer = Object.entries(template.findResources('AWS::Lambda::Function')).find(
      ([, resource]) => resource.Properties?.Environment?.Variables?.SET_ASIDE_BUCKET !== undefined,
    );
    expect(consumer).toBeDefined();
    const [consumerId, consumerResource] = consumer!;
    const role = (consumerResource.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
      (policy.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === role),
    );
    const s3Statements = policies
      .flatMap(
        (policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
      )
      .filter((statement) => [statement.Action].flat().some((action) => action.startsWith('s3:')));
    expect(s3Statements).toHaveLength(1);
    expect(
      [s3Statements[0].Action]
        .flat()
        .every((action) => action.startsWith('s3:PutObject') || action.startsWith('s3:Abort')),
    ).toBe(true);
    expect(JSON.stringify(s3Statements[0].Resource)).toContain('/set-aside/*');
    expect(consumerId).toMatch(/Speed/);
  });

  it('reads the manifest table, to learn which generations to write', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'speed', MANIFEST_TABLE: Match.anyValue() }),
      },
    });
  });

  it('scores readings when a view declares a baseline: reads the batch table, writes anomalies, knows the default bus', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'speed',
          ANOMALY_TABLE: { Ref: anomalyTableId(template) },
          BATCH_TABLE: Match.anyValue(),
          MANIFEST_TABLE: Match.anyValue(),
          EVENT_BUS_NAME: 'default',
        }),
      },
    });
    const anomalyActions = onAnomalyTable(template, 'speed').flatMap(actionsOf);
    expect(anomalyActions.sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    const batchTable = Object.keys(template.findResources('AWS::DynamoDB::Table')).find((id) =>
      id.startsWith('ViewsBatch'),
    );
    const batchActions = statementsOf(template, 'speed')
      .filter((statement) => JSON.stringify(statement.Resource).includes(`"${batchTable}"`))
      .flatMap(actionsOf);
    expect(batchActions).toEqual(expect.arrayContaining(['dynamodb:Query', 'dynamodb:GetItem']));
    expect(batchActions.filter((action) => /Put|Update|Delete|Write/.test(action))).toEqual([]);
  });

  it('lets the consumer put events on the default bus of its own account and region only', () => {
    const putEvents = statementsOf(template, 'speed').filter((statement) =>
      actionsOf(statement).includes('events:PutEvents'),
    );
    expect(putEvents).toHaveLength(1);
    expect(actionsOf(putEvents[0])).toEqual(['events:PutEvents']);
    expect(putEvents[0].Resource).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':events:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':event-bus/default',
        ],
      ],
    });
  });

  it('neither scores nor publishes when no view declares a baseline', () => {
    const variables = Object.values(withoutBaseline.findResources('AWS::Lambda::Function')).map(
      (fn) => (fn.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>,
    );
    for (const vars of variables) {
      expect(vars.ANOMALY_TABLE).toBeUndefined();
      expect(vars.EVENT_BUS_NAME).toBeUndefined();
    }
    expect(statementsOf(withoutBaseline, 'speed').flatMap(actionsOf)).not.toContain('events:PutEvents');
  });

  it('sends discarded batches to an encrypted, TLS-only queue', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('table defaults', () => {
  it('gives the realtime, batch, manifest, key directory and anomalies tables on-demand capacity, point-in-time recovery and encryption, and TTL to all but the directory', () => {
    const tables = template.findResources('AWS::DynamoDB::Table');
    expect(Object.keys(tables)).toHaveLength(5);
    expect(Object.keys(tables).some((id) => id.startsWith('ViewsAnomalies'))).toBe(true);
    for (const [id, table] of Object.entries(tables)) {
      // Directory entries are kept for ever: a key seen only by the batch layer must stay listed (DESIGN.md §10).
      const ttl = id.startsWith('ViewsKeyDirectory')
        ? {}
        : { TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } };
      expect(table.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        ...ttl,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      });
    }
  });

  it('adds the eventId de-dup table only when a view asks for it', () => {
    const withDedup = synthesize({
      pipeline: { views: [{ name: 'once', dimensions: ['deviceId'], granularity: 'minute', dedupeByEventId: true }] },
    }).template;
    expect(Object.keys(withDedup.findResources('AWS::DynamoDB::Table'))).toHaveLength(5);
  });

  it('adds the anomalies table only when a view declares a baseline', () => {
    const tableIds = Object.keys(withoutBaseline.findResources('AWS::DynamoDB::Table'));
    expect(tableIds).toHaveLength(4);
    expect(tableIds.some((id) => id.startsWith('ViewsAnomalies'))).toBe(false);
    expect(Object.keys(withoutBaseline.findOutputs('*'))).not.toContain('AnomalyTableName');
    expect(Object.keys(template.findOutputs('*'))).toContain('AnomalyTableName');
  });

  it('retains the tables in production and destroys them in dev', () => {
    for (const table of Object.values(prod.findResources('AWS::DynamoDB::Table')))
      expect(table.DeletionPolicy).toBe('Retain');
    for (const table of Object.values(template.findResources('AWS::DynamoDB::Table')))
      expect(table.DeletionPolicy).toBe('Delete');
  });
});

describe('function defaults', () => {
  it('runs every handler on nodejs22.x with active tracing and the Powertools settings', () => {
    // The pipeline's own functions; CDK adds provider functions of its own (bucket auto-delete, API account role).
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME !== undefined,
    );
    const services = functions.map((fn) => {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', TracingConfig: { Mode: 'Active' } });
      expect(fn.Properties.Environment.Variables).toMatchObject({
        POWERTOOLS_METRICS_NAMESPACE: 'LambdaArchitecture',
        PIPELINE_CONFIG: expect.any(String),
      });
      return fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME;
    });
    expect(services.sort()).toEqual(['batch', 'firehose-transform', 'ingest', 'rebuild', 'serving', 'speed']);
  });
});

describe('API defaults', () => {
  it('requires an API key on every method and validates requests', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    // GET /views, /views/{view}, /views/{view}/keys, /views/{view}/anomalies, /views/{view}/forecast, /openapi.json
    // and POST /events.
    expect(methods.length).toBe(7);
    for (const method of methods) {
      expect(method.Properties).toMatchObject({ ApiKeyRequired: true, RequestValidatorId: expect.anything() });
    }
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
  });

  it('serves /views/{view}/anomalies and /views/{view}/forecast only when a view declares a baseline', () => {
    const pathParts = (stack: Template) =>
      Object.values(stack.findResources('AWS::ApiGateway::Resource')).map((resource) => resource.Properties.PathPart);
    expect(pathParts(template)).toEqual(expect.arrayContaining(['anomalies', 'forecast']));
    expect(pathParts(withoutBaseline)).not.toContain('anomalies');
    expect(pathParts(withoutBaseline)).not.toContain('forecast');
    expect(Object.values(withoutBaseline.findResources('AWS::ApiGateway::Method'))).toHaveLength(5);
  });

  it('lets the query function list the anomalies table (Query only) and tells it the table', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'serving',
          ANOMALY_TABLE: { Ref: anomalyTableId(template) },
        }),
      },
    });
    expect(onAnomalyTable(template, 'serving').flatMap(actionsOf)).toEqual(['dynamodb:Query']);
  });

  it('throttles with a usage plan bound to the key, logs access, and traces with X-Ray', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 100, BurstLimit: 200 } });
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
      MethodSettings: Match.arrayWith([
        Match.objectLike({ LoggingLevel: 'ERROR', ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 }),
      ]),
    });
  });

  it('outputs the API URL, the key id with the command that fetches its value, and the stream name', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['ApiUrl', 'ApiKeyId', 'ApiKeyValueCommand', 'StreamName']),
    );
  });
});
