import { Match, type Template } from 'aws-cdk-lib/assertions';
import { synthesize } from './stack-fixture';

let lambda: Template;
let kappa: Template;
let kappaReport: ReturnType<typeof synthesize>['report'];

beforeAll(() => {
  lambda = synthesize().template;
  ({ template: kappa, report: kappaReport } = synthesize({ pipeline: { architecture: 'kappa' } }));
});

const replayFunction = {
  Timeout: 900,
  ReservedConcurrentExecutions: 1,
  Environment: {
    Variables: Match.objectLike({
      POWERTOOLS_SERVICE_NAME: 'replay',
      REALTIME_TABLE: Match.anyValue(),
      MANIFEST_TABLE: Match.anyValue(),
      MASTER_BUCKET: Match.anyValue(),
    }),
  },
};

describe('replay', () => {
  it('deploys a replay Lambda in both architectures, one run at a time, with its name as a stack output', () => {
    for (const template of [lambda, kappa]) {
      template.hasResourceProperties('AWS::Lambda::Function', replayFunction);
      template.hasOutput('ReplayFunctionName', {});
    }
  });

  it('Kappa mode synthesizes with cdk-nag clean and no batch job, Glue or Athena', () => {
    expect(kappaReport.pluginReports[0]).toMatchObject({ conclusion: 'success', violations: [] });
    kappa.resourceCountIs('AWS::Scheduler::Schedule', 0);
    kappa.resourceCountIs('AWS::Glue::Database', 0);
    kappa.resourceCountIs('AWS::Athena::WorkGroup', 0);
    kappa.hasOutput('Architecture', { Value: 'kappa' });
  });

  it('the speed layer reads the manifest table, to learn which generations to write', () => {
    lambda.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'speed', MANIFEST_TABLE: Match.anyValue() }),
      },
    });
  });
});
