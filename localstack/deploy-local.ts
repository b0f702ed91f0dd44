import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ARCHITECTURES, definePipelineConfig } from '../functions/core/pipeline-config';
import { defineCommand, readCommandLine } from '../local/command-line';
import { LOCAL_TIMING, pipelineSettings } from '../local/local-config';
import { emulatorEnvironment } from './emulator-environment';

/**
 * `npm run deploy:local`: deploys the CDK app with `target=local` to the emulator that AWS_ENDPOINT_URL names
 * (default http://localhost:4566), bootstrapping first when the emulator has no CDKToolkit stack. The pipeline
 * runs with the local runtime's timing (one-minute epochs and batch runs), so a batch flip is seen in minutes.
 * `--architecture kappa` deploys the Kappa architecture; `--config FILE` takes the pipeline settings (schema, views,
 * ...) from a settings file instead of cdk.json, e.g. examples/web-requests.json; `--stack-name NAME` deploys a stack
 * of that name beside the default one; `-c KEY=VALUE` and any arguments after a second `--` go to `cdk deploy`
 * (e.g. `-c stage=prod`). `--help` lists them.
 */
const environment = emulatorEnvironment();
const root = join(__dirname, '..');

async function bootstrapped(): Promise<boolean> {
  const client = new CloudFormationClient({});
  try {
    const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: 'CDKToolkit' }));
    return (Stacks ?? []).some((stack) => !/DELETE_COMPLETE|ROLLBACK_COMPLETE|FAILED/.test(stack.StackStatus ?? ''));
  } catch (error) {
    if (error instanceof Error && /does not exist/i.test(error.message)) return false;
    throw new Error(`cannot reach CloudFormation at ${environment.AWS_ENDPOINT_URL}: ${String(error)}`, {
      cause: error,
    });
  } finally {
    client.destroy();
  }
}

function cdk(args: string[]): void {
  console.log(`> cdk ${args.join(' ')}`);
  const result = spawnSync('npx', ['cdk', ...args], { cwd: root, env: environment, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

async function main(): Promise<void> {
  // The SDK in this process reads the same variables as the CDK CLI it spawns.
  Object.assign(process.env, environment);
  const { architecture, settingsFile, stackName, cdkArgs } = deployArguments(process.argv.slice(2));
  const context = [
    '-c',
    'target=local',
    '-c',
    `pipeline=${JSON.stringify(localPipelineContext(architecture, settingsFile))}`,
    ...(stackName === undefined ? [] : ['-c', `stackName=${stackName}`]),
  ];
  const outputsFile = join(
    root,
    'cdk.out',
    stackName === undefined ? 'local-outputs.json' : `${stackName}-outputs.json`,
  );

  console.log(
    `Deploying to ${environment.AWS_ENDPOINT_URL} (account ${environment.CDK_DEFAULT_ACCOUNT}, ${environment.AWS_REGION})`,
  );
  if (!(await bootstrapped())) {
    cdk(['bootstrap', ...context, `aws://${environment.CDK_DEFAULT_ACCOUNT}/${environment.AWS_REGION}`]);
  }
  // `--method direct`: MiniStack's change sets report no changes when only outputs change.
  cdk([
    'deploy',
    '--all',
    '--require-approval',
    'never',
    '--method',
    'direct',
    '--outputs-file',
    outputsFile,
    ...context,
    ...cdkArgs,
  ]);
  console.log(`Stack outputs written to ${outputsFile}`);
}

export const DEPLOY_LOCAL_COMMAND = defineCommand({
  command: 'npm run deploy:local',
  summary:
    'Deploys the CDK app with `target=local` to the emulator that $AWS_ENDPOINT_URL names, bootstrapping it first ' +
    "when it has no CDKToolkit stack, with the local runtime's timing (one-minute epochs and batch runs).",
  options: {
    architecture: {
      type: 'string',
      value: ARCHITECTURES.join('|'),
      defaultText: "the settings' architecture",
      description: 'the Lambda or Kappa architecture',
    },
    config: {
      type: 'string',
      value: 'FILE',
      defaultText: "cdk.json's",
      description: 'the pipeline settings (schema, views, ...), e.g. examples/web-requests.json',
    },
    'stack-name': {
      type: 'string',
      value: 'NAME',
      defaultText: "the app's",
      description: 'deploy a stack of this name beside the default one',
    },
    context: {
      type: 'string',
      short: 'c',
      multiple: true,
      value: 'KEY=VALUE',
      description: 'a CDK context value, passed to `cdk deploy` (e.g. -c stage=prod); may be repeated',
    },
  },
  positionals: {
    usage: '[-- CDK_ARGS ...]',
    description:
      'further arguments for `cdk deploy`, after a second `--` (e.g. `npm run deploy:local -- -- --hotswap`)',
  },
  notes: ['The emulator is $AWS_ENDPOINT_URL (default http://localhost:4566), with test credentials unless set.'],
});

interface DeployArguments {
  readonly architecture: string | undefined;
  readonly settingsFile: string | undefined;
  readonly stackName: string | undefined;
  readonly cdkArgs: string[];
}

/** Our options, `-c KEY=VALUE` and any further arguments (after `--`) for `cdk deploy`. */
function deployArguments(args: readonly string[]): DeployArguments {
  const { values, positionals } = readCommandLine(DEPLOY_LOCAL_COMMAND, args);
  return {
    architecture: values.architecture,
    settingsFile: values.config,
    stackName: values['stack-name'],
    cdkArgs: [...values.context.flatMap((context) => ['-c', context]), ...positionals],
  };
}

/**
 * The pipeline settings (cdk.json's, or a settings file's) with the local runtime's timing on top, in the chosen
 * architecture. Validated here, so a bad schema or view fails before anything is deployed, naming its field.
 */
function localPipelineContext(architecture: string | undefined, settingsFile: string | undefined): object {
  const settings = {
    ...pipelineSettings(root, settingsFile),
    ...LOCAL_TIMING,
    ...(architecture === undefined ? {} : { architecture }),
  };
  definePipelineConfig(settings);
  return settings;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
