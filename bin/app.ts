#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { appSettingsFromContext } from '../lib/app-context';
import { LambdaArchitectureStack } from '../lib/lambda-architecture-stack';

const app = new App();
const settings = appSettingsFromContext((key) => app.node.tryGetContext(key));
new LambdaArchitectureStack(app, `LambdaArchitecture-${settings.stage}`, {
  settings,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// cdk-nag 3 runs as a CDK validation plugin: synth fails on any AwsSolutions finding that is not acknowledged.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
