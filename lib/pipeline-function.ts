import { Duration } from 'aws-cdk-lib';
import { Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import { serializePipelineConfig, type PipelineConfig } from '../functions/core/pipeline-config';

/** Lambda's limit on the total size of a function's environment variables. */
const ENVIRONMENT_LIMIT_BYTES = 4096;

export interface PipelineFunctionProps {
  /** The handler file under functions/, e.g. 'speed/handler.ts'. */
  readonly entry: string;
  /** Powertools service name, also the `service` metric dimension the alarms match. */
  readonly service: string;
  readonly pipeline: PipelineConfig;
  readonly environment?: Record<string, string>;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** Modules left out of the bundle. @default none: the SDK is bundled */
  readonly externalModules?: string[];
  readonly reservedConcurrentExecutions?: number;
  /** Installed packages copied next to the bundle (native modules that esbuild cannot bundle). @default none */
  readonly copyModules?: string[];
}

/**
 * A pipeline handler as a Lambda function: Node.js 22, bundled locally with esbuild (no Docker), with the AWS SDK
 * inside the bundle so behaviour never depends on the runtime's copy, X-Ray tracing, and the Powertools settings.
 */
export class PipelineFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const environment = {
      PIPELINE_CONFIG: serializePipelineConfig(props.pipeline),
      POWERTOOLS_SERVICE_NAME: props.service,
      POWERTOOLS_METRICS_NAMESPACE: 'LambdaArchitecture',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      ...props.environment,
    };
    const size = Object.entries(environment).reduce((total, [key, value]) => total + key.length + value.length, 0);
    if (size > ENVIRONMENT_LIMIT_BYTES) {
      throw new Error(
        `${props.service}: the function environment is ${size} bytes, above Lambda's 4 KB limit; ` +
          'declare fewer or shorter views, or move PIPELINE_CONFIG to a file',
      );
    }
    super(scope, id, {
      entry: join(__dirname, '..', 'functions', props.entry),
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment,
      bundling: {
        forceDockerBundling: false,
        externalModules: props.externalModules ?? [],
        format: OutputFormat.CJS,
        minify: true,
        sourceMap: true,
        target: 'node22',
        // A plain copy from the project's node_modules: synth stays offline.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) =>
            (props.copyModules ?? []).map(
              (module) =>
                `mkdir -p "${outputDir}/node_modules" && cp -R "${inputDir}/node_modules/${module}" "${outputDir}/node_modules/"`,
            ),
        },
      },
    });
  }
}
