import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { AppSettings } from './app-context';

export interface LambdaArchitectureStackProps extends StackProps {
  readonly settings: AppSettings;
}

/**
 * The whole pipeline in one stack. The layers' constructs are composed here as they land; until then the stack
 * only states the configuration it was synthesized with.
 */
export class LambdaArchitectureStack extends Stack {
  constructor(scope: Construct, id: string, props: LambdaArchitectureStackProps) {
    super(scope, id, props);
    const { pipeline } = props.settings;
    new CfnOutput(this, 'Architecture', { value: pipeline.architecture });
    new CfnOutput(this, 'Views', { value: pipeline.views.map((view) => view.name).join(',') });
  }
}
