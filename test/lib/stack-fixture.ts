import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { definePipelineConfig, type PipelineSettingsInput } from '../../functions/core/pipeline-config';
import type { Stage, Target } from '../../lib/app-context';
import { LambdaArchitectureStack } from '../../lib/lambda-architecture-stack';

export interface ValidationReport {
  pluginReports: {
    pluginName: string;
    conclusion: string;
    violations: unknown[];
    suppressedViolations: { ruleName: string }[];
  }[];
}

/**
 * Synthesizes the stack once, as bin/app.ts does (with cdk-nag's AwsSolutions checks), and returns its template
 * and the validation report. Bundling runs here, locally with esbuild: no network and no Docker.
 */
export function synthesize(options: { stage?: Stage; target?: Target; pipeline?: PipelineSettingsInput } = {}) {
  const app = new App();
  const stack = new LambdaArchitectureStack(app, 'Test', {
    settings: {
      stage: options.stage ?? 'dev',
      target: options.target ?? 'aws',
      pipeline: definePipelineConfig(options.pipeline ?? {}),
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  const report = JSON.parse(
    readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'),
  ) as ValidationReport;
  return { template: Template.fromStack(stack), report };
}
