#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { appSettingsFromContext } from '../lib/app-context';
import { LambdaArchitectureStack } from '../lib/lambda-architecture-stack';

const app = new App();
const settings = appSettingsFromContext((key) => app.node.tryGetContext(key));
const stack = new LambdaArchitectureStack(app, `LambdaArchitecture-${settings.stage}`, {
  settings,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// `-c alarmTopicArn=arn:aws:sns:...` sends every alarm to an existing SNS topic.
const alarmTopicArn = app.node.tryGetContext('alarmTopicArn') as string | undefined;
if (alarmTopicArn !== undefined) {
  stack.addAlarmTopic(Topic.fromTopicArn(stack, 'AlarmTopic', alarmTopicArn));
}
// cdk-nag 3 runs as a CDK validation plugin: synth fails on any AwsSolutions finding that is not acknowledged.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
