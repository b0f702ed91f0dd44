import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { LambdaArchitectureStack } from '../../lib/lambda-architecture-stack';
import { synthesize } from './stack-fixture';

let template: Template;
let kappa: Template;

beforeAll(() => {
  template = synthesize().template;
  kappa = synthesize({ pipeline: { architecture: 'kappa' } }).template;
});

const alarmsNamed = (stack: Template, metricName: string) =>
  Object.values(stack.findResources('AWS::CloudWatch::Alarm')).filter(
    (alarm) => alarm.Properties.MetricName === metricName,
  );

describe('alarms and dashboard', () => {
  it("alarms on iterator age, on each function's errors, on discarded batches, on archive freshness and on API 5xx", () => {
    expect(alarmsNamed(template, 'IteratorAge')).toHaveLength(1);
    expect(alarmsNamed(template, 'Errors')).toHaveLength(6);
    expect(alarmsNamed(template, 'ApproximateNumberOfMessagesVisible')).toHaveLength(1);
    expect(alarmsNamed(template, 'DeliveryToS3.DataFreshness')).toHaveLength(1);
    expect(alarmsNamed(template, '5XXError')).toHaveLength(1);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it("alarms on the rebuild function's errors in both architectures", () => {
    for (const stack of [template, kappa]) {
      const [rebuild] = Object.entries(stack.findResources('AWS::Lambda::Function')).find(
        ([, fn]) => fn.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'rebuild',
      ) ?? [''];
      stack.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: rebuild } }],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        AlarmDescription: 'The rebuild function is failing.',
      });
    }
  });

  it("graphs each batch run's bytes scanned, view rows, windows flipped and window length on the dashboard", () => {
    // The body is a Fn::Join of JSON text around references; the metrics are in its literal parts.
    const bodyOf = (stack: Template) => {
      const body = Object.values(stack.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody as
        string | { 'Fn::Join': [string, unknown[]] };
      const parts = typeof body === 'string' ? [body] : body['Fn::Join'][1];
      return parts.filter((part) => typeof part === 'string').join('');
    };
    for (const metricName of ['BatchBytesScanned', 'BatchViewRows', 'BatchWindowsFlipped', 'BatchWindowSeconds']) {
      expect(bodyOf(template)).toContain(`["LambdaArchitecture","${metricName}","service","batch"`);
      expect(bodyOf(kappa)).not.toContain(metricName);
    }
  });

  it('alarms on any record or batch row set aside, in the layers that have them', () => {
    for (const [metricName, service] of [
      ['RecordsSetAside', 'speed'],
      ['BatchRowsSetAside', 'batch'],
    ]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'LambdaArchitecture',
        MetricName: metricName,
        Dimensions: [{ Name: 'service', Value: service }],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        Statistic: 'Sum',
      });
    }
    expect(alarmsNamed(kappa, 'RecordsSetAside')).toHaveLength(1);
    expect(alarmsNamed(kappa, 'BatchRowsSetAside')).toHaveLength(0);
  });

  it('alarms when the speed layer recorded any anomaly in 5 minutes, only when a view declares a baseline', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'LambdaArchitecture',
      MetricName: 'AnomaliesRecorded',
      Dimensions: [{ Name: 'service', Value: 'speed' }],
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      Period: 300,
      Statistic: 'Sum',
      TreatMissingData: 'notBreaching',
    });
    const plain = synthesize({
      pipeline: { views: [{ name: 'plain', dimensions: ['deviceId'], granularity: 'hour' }] },
    }).template;
    expect(alarmsNamed(plain, 'AnomaliesRecorded')).toHaveLength(0);
  });

  it('alarms when no batch run succeeded for half the realtime retention, counting missing data as breaching', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'LambdaArchitecture',
      MetricName: 'BatchRunSucceeded',
      Dimensions: [{ Name: 'service', Value: 'batch' }],
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      Period: 3600,
      EvaluationPeriods: 24,
      TreatMissingData: 'breaching',
    });
    expect(alarmsNamed(kappa, 'BatchRunSucceeded')).toHaveLength(0);
  });

  it('sends every alarm to the SNS topic when one is given', () => {
    const app = new App();
    const stack = new LambdaArchitectureStack(app, 'WithTopic', {
      settings: { stage: 'dev', target: 'aws', pipeline: definePipelineConfig() },
    });
    stack.addAlarmTopic(Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:us-east-1:111111111111:alarms'));
    const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms)
      expect(alarm.Properties.AlarmActions).toEqual(['arn:aws:sns:us-east-1:111111111111:alarms']);
  });
});
