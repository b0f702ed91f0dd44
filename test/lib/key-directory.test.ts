import type { Template } from 'aws-cdk-lib/assertions';
import { synthesize, type ValidationReport } from './stack-fixture';

let template: Template;
let report: ValidationReport;

beforeAll(() => {
  ({ template, report } = synthesize());
});

type Resource = { Properties: Record<string, unknown> };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const functionsByService = (): Map<string, Resource & { id: string }> => {
  const functions = new Map<string, Resource & { id: string }>();
  for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
    const variables = (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
    const service = variables?.POWERTOOLS_SERVICE_NAME;
    if (typeof service === 'string') functions.set(service, { id, ...(fn as Resource) });
  }
  return functions;
};

const directoryTableId = (): string => {
  const ids = Object.keys(template.findResources('AWS::DynamoDB::Table')).filter((id) => id.includes('KeyDirectory'));
  expect(ids).toHaveLength(1);
  return ids[0];
};

/** Whether a policy resource (an ARN, a join, a list of them) names the table. */
const namesTable = (resource: unknown, tableId: string): boolean => JSON.stringify(resource).includes(`"${tableId}"`);

/** The actions each function's role is granted on the key directory table. */
const directoryActionsOf = (roleId: string, tableId: string): string[] =>
  Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((statement) => namesTable(statement.Resource, tableId))
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .sort();

const roleOf = (fn: Resource) => (fn.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];

describe('the key directory table in the stack', () => {
  it('has the key schema, billing, encryption and recovery of the other tables, and no TTL', () => {
    const table = template.findResources('AWS::DynamoDB::Table')[directoryTableId()].Properties;
    expect(table).toMatchObject({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(table.TimeToLiveSpecification).toBeUndefined();
  });

  it('is named to the speed, batch, rebuild and serving functions by KEY_DIRECTORY_TABLE', () => {
    const tableId = directoryTableId();
    const functions = functionsByService();
    for (const service of ['speed', 'batch', 'rebuild', 'serving']) {
      const fn = functions.get(service);
      expect(fn).toBeDefined();
      const variables = (fn?.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect({ service, table: variables.KEY_DIRECTORY_TABLE }).toEqual({ service, table: { Ref: tableId } });
    }
  });

  it('grants each function only what it does there: the speed layer reads keys and puts new ones, batch jobs update, serving queries', () => {
    const tableId = directoryTableId();
    const expected: Record<string, string[]> = {
      speed: ['dynamodb:BatchGetItem', 'dynamodb:PutItem'],
      batch: ['dynamodb:UpdateItem'],
      rebuild: ['dynamodb:UpdateItem'],
      serving: ['dynamodb:Query'],
    };
    for (const [service, fn] of functionsByService()) {
      const actions = directoryActionsOf(roleOf(fn), tableId);
      expect({ service, actions }).toEqual({ service, actions: expected[service] ?? [] });
    }
    // Nobody may Scan it: listings are Queries of a view's partition.
    const everyAction = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
      .filter((statement) => namesTable(statement.Resource, tableId))
      .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]));
    expect(everyAction).not.toContain('dynamodb:Scan');
    expect(everyAction.some((action) => action.endsWith('*'))).toBe(false);
  });

  it('keeps cdk-nag clean', () => {
    expect(report.pluginReports[0]).toMatchObject({
      pluginName: 'AwsSolutions',
      conclusion: 'success',
      violations: [],
    });
  });
});
