import { Match, type Template } from 'aws-cdk-lib/assertions';
import { rebuildFunctionName } from '../../lib/rebuild-layer';
import { synthesize, type ValidationReport } from './stack-fixture';

let lambda: Template;
let scheduled: Template;
let scheduledReport: ValidationReport;
let kappa: Template;
let kappaReport: ValidationReport;
let local: Template;

beforeAll(() => {
  lambda = synthesize().template;
  ({ template: scheduled, report: scheduledReport } = synthesize({ pipeline: { rebuildScheduleDays: 7 } }));
  // Kappa mode with the schedule setting: it has no batch views to compact, so the setting adds nothing.
  ({ template: kappa, report: kappaReport } = synthesize({
    pipeline: { architecture: 'kappa', rebuildScheduleDays: 7 },
  }));
  local = synthesize({ target: 'local' }).template;
});

type Resource = { Properties: Record<string, unknown> & { Environment?: { Variables: Record<string, unknown> } } };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const rebuildFunctionOf = (stack: Template): [string, Resource] => {
  const found = Object.entries(stack.findResources('AWS::Lambda::Function')).filter(
    ([, fn]) => fn.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'rebuild',
  );
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
};

const rebuildStatementsOf = (stack: Template): Statement[] => {
  const [, fn] = rebuildFunctionOf(stack);
  const role = (fn.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
  return Object.values(stack.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === role))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
};

const actionsOf = (statement: Statement) => [statement.Action].flat();
const logicalIdOf = (stack: Template, type: string, match: (properties: Record<string, unknown>) => boolean) => {
  const ids = Object.entries(stack.findResources(type))
    .filter(([, resource]) => match(resource.Properties ?? {}))
    .map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0];
};
const workBucketId = (stack: Template) =>
  logicalIdOf(
    stack,
    'AWS::S3::Bucket',
    (properties) => (properties.LoggingConfiguration as { LogFilePrefix?: string })?.LogFilePrefix === 'work/',
  );
const tableId = (stack: Template, name: string) =>
  Object.keys(stack.findResources('AWS::DynamoDB::Table')).find((id) => id.startsWith(`Views${name}`));

describe('rebuild function', () => {
  it('runs in both architectures for 15 minutes with 3008 MB, four jobs at a time, named after the stack', () => {
    for (const stack of [lambda, kappa, local]) {
      const [id, fn] = rebuildFunctionOf(stack);
      expect(fn.Properties).toMatchObject({
        FunctionName: 'Test-rebuild',
        Timeout: 900,
        MemorySize: 3008,
        ReservedConcurrentExecutions: 4,
      });
      // `npm run replay -- --stack` reads ReplayFunctionName: it names the same function.
      stack.hasOutput('RebuildFunctionName', { Value: { Ref: id } });
      stack.hasOutput('ReplayFunctionName', { Value: { Ref: id } });
      stack.hasOutput('WorkBucketName', { Value: { Ref: workBucketId(stack) } });
    }
  });

  it('is told its tables, buckets and prefixes, and queries the rebuild workgroup with Athena in AWS', () => {
    const [, fn] = rebuildFunctionOf(lambda);
    expect(fn.Properties.Environment?.Variables).toMatchObject({
      PIPELINE_CONFIG: expect.any(String),
      REALTIME_TABLE: { Ref: tableId(lambda, 'Realtime') },
      BATCH_TABLE: { Ref: tableId(lambda, 'Batch') },
      MANIFEST_TABLE: { Ref: tableId(lambda, 'Manifest') },
      WORK_BUCKET: { Ref: workBucketId(lambda) },
      MASTER_BUCKET: { Ref: expect.stringMatching(/^BatchMasterDataset/) },
      MASTER_PREFIX: 'events/',
      ERROR_PREFIX: 'errors/',
      BATCH_ENGINE: 'athena',
      ATHENA_WORKGROUP: 'Test-rebuild',
      ATHENA_DATABASE: { Ref: expect.stringMatching(/^BatchDatabase/) },
      ATHENA_TABLE: 'events',
    });
  });

  it('runs DuckDB over the master bucket on emulators, with no Athena settings', () => {
    const variables = rebuildFunctionOf(local)[1].Properties.Environment?.Variables ?? {};
    expect(variables).toMatchObject({ BATCH_ENGINE: 'duckdb', WORK_BUCKET: expect.anything() });
    expect(Object.keys(variables).filter((name) => name.startsWith('ATHENA_'))).toEqual([]);
  });

  it('in Kappa mode, is told the batch table too, and computes replays with Athena in the rebuild workgroup', () => {
    const [, fn] = rebuildFunctionOf(kappa);
    expect(fn.Properties.Environment?.Variables).toMatchObject({
      BATCH_TABLE: { Ref: tableId(kappa, 'Batch') },
      REALTIME_TABLE: { Ref: tableId(kappa, 'Realtime') },
      BATCH_ENGINE: 'athena',
      ATHENA_WORKGROUP: 'Test-rebuild',
    });
  });

  it('may invoke itself, and only itself, by an ARN built from its name, which no circular reference can break', () => {
    const invokes = rebuildStatementsOf(lambda).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('lambda:')),
    );
    expect(invokes).toHaveLength(1);
    expect(invokes[0]).toMatchObject({ Effect: 'Allow', Action: 'lambda:InvokeFunction' });
    const resource = invokes[0].Resource as { 'Fn::Join': [string, unknown[]] };
    const parts = resource['Fn::Join'][1];
    expect(parts[parts.length - 1]).toBe(':function:Test-rebuild');
    expect(JSON.stringify(resource)).not.toMatch(/RebuildFunction|\*/);
  });

  it('reads the master dataset, reads, writes and deletes in the work bucket, and queries only in the rebuild workgroup', () => {
    const statements = rebuildStatementsOf(lambda);
    const onBucket = (prefix: RegExp) =>
      statements.filter((statement) => prefix.test(JSON.stringify(statement.Resource))).flatMap(actionsOf);
    const master = onBucket(/BatchMasterDataset/);
    expect(master.sort()).toEqual(['s3:GetBucket*', 's3:GetObject*', 's3:List*']);
    expect(onBucket(/BatchWork/)).toEqual(
      expect.arrayContaining(['s3:GetObject*', 's3:PutObject', 's3:DeleteObject*']),
    );
    for (const table of ['Realtime', 'Batch', 'Manifest']) {
      const actions = statements
        .filter((statement) => JSON.stringify(statement.Resource).includes(`"${tableId(lambda, table)}"`))
        .flatMap(actionsOf);
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:Query', 'dynamodb:Scan', 'dynamodb:PutItem']));
    }
    const athena = statements.filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('athena:')),
    );
    expect(athena).toHaveLength(1);
    expect(JSON.stringify(athena[0].Resource)).toMatch(/:workgroup\/Test-rebuild"/);
    const glue = statements.find((statement) => actionsOf(statement).includes('glue:GetTable'));
    expect(glue?.Action).toEqual(['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions']);
  });
});

describe('rebuild schedule', () => {
  const rebuildSchedules = (stack: Template) =>
    Object.values(stack.findResources('AWS::Scheduler::Schedule')).filter(
      (schedule) => schedule.Properties.Target.Input !== undefined,
    );

  it('is absent by default: rebuilds run on demand', () => {
    expect(rebuildSchedules(lambda)).toEqual([]);
    lambda.resourceCountIs('AWS::Scheduler::Schedule', 1);
  });

  it('rebuilds every view at the rate of rebuildScheduleDays, with a role that may invoke the rebuild function', () => {
    const [id] = rebuildFunctionOf(scheduled);
    const schedules = rebuildSchedules(scheduled);
    expect(schedules).toHaveLength(1);
    expect(schedules[0].Properties).toMatchObject({
      ScheduleExpression: 'rate(7 days)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: { 'Fn::GetAtt': [id, 'Arn'] }, RoleArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } },
    });
    expect(JSON.parse(schedules[0].Properties.Target.Input as string)).toEqual({ kind: 'batch', view: '*' });
    const role = (schedules[0].Properties.Target.RoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    scheduled.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: role }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: 'lambda:InvokeFunction',
            Resource: Match.arrayWith([{ 'Fn::GetAtt': [id, 'Arn'] }]),
          }),
        ],
      },
    });
    expect(scheduledReport.pluginReports[0]).toMatchObject({ conclusion: 'success', violations: [] });
  });

  it('is left out in Kappa mode, which has no batch views to compact, even when set', () => {
    kappa.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });
});

describe('Kappa mode', () => {
  it('synthesizes cdk-nag clean, with no batch job but the rebuild function, the work bucket, Glue and the rebuild workgroup', () => {
    expect(kappaReport.pluginReports[0]).toMatchObject({ conclusion: 'success', violations: [] });
    kappa.hasOutput('Architecture', { Value: 'kappa' });
    expect(Object.keys(kappa.findOutputs('BatchFunctionName'))).toEqual([]);
    const services = Object.values(kappa.findResources('AWS::Lambda::Function')).map(
      (fn) => fn.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME,
    );
    expect(services).toContain('rebuild');
    expect(services).not.toContain('batch');
    workBucketId(kappa);
    kappa.resourceCountIs('AWS::Glue::Table', 1);
    kappa.resourceCountIs('AWS::Athena::WorkGroup', 1);
    kappa.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'Test-rebuild' });
  });
});

describe('rebuildFunctionName', () => {
  it('is the stack name with -rebuild while that fits in 64 characters', () => {
    expect(rebuildFunctionName('LambdaArchitecture-dev')).toBe('LambdaArchitecture-dev-rebuild');
    expect(rebuildFunctionName('a'.repeat(56))).toBe(`${'a'.repeat(56)}-rebuild`);
  });

  it('cuts a longer stack name and adds a hash of it, so that two long names sharing a prefix stay distinct', () => {
    const one = rebuildFunctionName(`${'a'.repeat(100)}-one`);
    const two = rebuildFunctionName(`${'a'.repeat(100)}-two`);
    for (const name of [one, two]) {
      expect(name).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(name).toHaveLength(64);
      expect(name.endsWith('-rebuild')).toBe(true);
    }
    expect(one).not.toBe(two);
  });
});
