#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { appSettingsFromContext, type AppSettings } from '../lib/app-context';
import { LambdaArchitectureStack } from '../lib/lambda-architecture-stack';

const app = new App();
const settings = settingsOrExit(app);
// `-c stackName=...` deploys a second pipeline beside the first (the e2e tier's web-requests stack does).
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? `LambdaArchitecture-${settings.stage}`;
if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
  console.error(
    `context stackName: expected letters, digits and -, starting with a letter, got ${JSON.stringify(stackName)}`,
  );
  process.exit(1);
}
const stack = new LambdaArchitectureStack(app, stackName, {
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

/**
 * The app's settings, or the end of synth with one line per problem (each naming its setting or field): a bad
 * schema or view declaration is the user's to fix, and a stack trace would only bury what to fix.
 */
function settingsOrExit(scope: App): AppSettings {
  try {
    return appSettingsFromContext((key) => scope.node.tryGetContext(key));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
