import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCAL_TIMING } from '../local/local-config';
import { emulatorEnvironment } from './emulator-environment';

/**
 * `npm run deploy:local`: deploys the CDK app with `target=local` to the emulator that AWS_ENDPOINT_URL names
 * (default http://localhost:4566), bootstrapping first when the emulator has no CDKToolkit stack. The pipeline
 * runs with the local runtime's timing (one-minute epochs and batch runs), so a batch flip is seen in minutes.
 * `--architecture kappa` deploys the Kappa architecture; other arguments go to `cdk deploy` (e.g. `-c stage=prod`).
 */
const environment = emulatorEnvironment();
const root = join(__dirname, '..');
const outputsFile = join(root, 'cdk.out', 'local-outputs.json');

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
  const { architecture, cdkArgs } = splitArguments(process.argv.slice(2));
  const context = ['-c', 'target=local', '-c', `pipeline=${JSON.stringify(localPipelineContext(architecture))}`];

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

/** `--architecture X` (or `--architecture=X`) is ours; everything else goes to `cdk deploy`. */
function splitArguments(args: readonly string[]): { architecture: string; cdkArgs: string[] } {
  let architecture = 'lambda';
  const cdkArgs: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index];
    if (arg === '--architecture') architecture = args[(index += 1)] ?? '';
    else if (arg.startsWith('--architecture=')) architecture = arg.slice('--architecture='.length);
    else cdkArgs.push(arg);
  }
  return { architecture, cdkArgs };
}

/** cdk.json's pipeline context with the local runtime's timing on top, in the chosen architecture. */
function localPipelineContext(architecture: string): object {
  const cdkJson = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { context: { pipeline: object } };
  return { ...cdkJson.context.pipeline, ...LOCAL_TIMING, architecture };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
