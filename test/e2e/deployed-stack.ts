import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** Where the stack runs. The suite's checks are the same everywhere; only the known gaps differ. */
export type Target = 'aws' | 'ministack' | 'localstack' | 'other-emulator';

export interface PipelineTiming {
  readonly epochLengthMs: number;
  readonly bufferIntervalMs: number;
  readonly safetyMarginMs: number;
  readonly batchIntervalMs: number;
}

/** What the suite knows of the deployment: only what the stack's outputs and the API say. */
export interface DeployedStack {
  readonly stackName: string;
  readonly target: Target;
  /** The API's base URL, without a trailing slash. */
  readonly apiBase: string;
  readonly apiKey: string;
  readonly streamName: string;
  readonly timing: PipelineTiming;
  readonly architecture: 'lambda' | 'kappa';
  /** The rebuild Lambda (`RebuildFunctionName`): `{"kind":"batch","view":X}` rebuilds a view's batch base. */
  readonly rebuildFunctionName: string;
  /** Where a view's batch state is (`ManifestTableName`): the served base and cutoff, a rebuild in progress. */
  readonly manifestTableName: string;
  /** Where rebuilds have the engine put its result files (`WorkBucketName`). */
  readonly workBucketName: string;
}

/**
 * Finds the deployed stack (STACK_NAME, default `LambdaArchitecture-dev`) with CloudFormation DescribeStacks in
 * whatever account the SDK's environment names. With AWS_ENDPOINT_URL set, the API is reached through the
 * emulator's `/_aws/execute-api/{apiId}/{stage}` route, which LocalStack and MiniStack both serve, because the
 * `execute-api` host name in the stack output does not resolve offline.
 */
export async function findDeployedStack(environment: NodeJS.ProcessEnv = process.env): Promise<DeployedStack> {
  const stackName = environment.STACK_NAME ?? 'LambdaArchitecture-dev';
  const cloudFormation = new CloudFormationClient({});
  const apiGateway = new APIGatewayClient({});
  try {
    const { Stacks } = await cloudFormation
      .send(new DescribeStacksCommand({ StackName: stackName }))
      .catch((error: unknown) => {
        throw new Error(
          `no deployed stack ${stackName} (${String(error)}): deploy one with \`npm run deploy:local\` or \`npm run deploy\``,
        );
      });
    const outputs = new Map((Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
    const output = (key: string): string => {
      const value = outputs.get(key);
      if (value === undefined) throw new Error(`stack ${stackName} has no output ${key}: redeploy it`);
      return value;
    };
    const apiUrl = new URL(output('ApiUrl'));
    const [apiId] = apiUrl.hostname.split('.');
    const stage = apiUrl.pathname.replace(/^\/|\/$/g, '');
    const endpoint = environment.AWS_ENDPOINT_URL?.replace(/\/$/, '');
    const apiBase =
      endpoint === undefined ? apiUrl.href.replace(/\/$/, '') : `${endpoint}/_aws/execute-api/${apiId}/${stage}`;
    const { value } = await apiGateway.send(new GetApiKeyCommand({ apiKey: output('ApiKeyId'), includeValue: true }));
    if (value === undefined) throw new Error(`API key ${output('ApiKeyId')} has no value`);
    return {
      stackName,
      target: endpoint === undefined ? 'aws' : await emulatorAt(endpoint),
      apiBase,
      apiKey: value,
      streamName: output('StreamName'),
      timing: JSON.parse(output('PipelineTiming')) as PipelineTiming,
      architecture: output('Architecture') === 'kappa' ? 'kappa' : 'lambda',
      rebuildFunctionName: output('RebuildFunctionName'),
      manifestTableName: output('ManifestTableName'),
      workBucketName: output('WorkBucketName'),
    };
  } finally {
    cloudFormation.destroy();
    apiGateway.destroy();
  }
}

/** Each emulator answers its own health route. */
async function emulatorAt(endpoint: string): Promise<Target> {
  const answers = async (path: string) =>
    fetch(`${endpoint}${path}`)
      .then((response) => response.ok)
      .catch(() => false);
  if (await answers('/_ministack/health')) return 'ministack';
  if (await answers('/_localstack/health')) return 'localstack';
  return 'other-emulator';
}

/**
 * How long until a batch run has taken over everything that arrived by `arrivedBy`: the end of its arrival epoch,
 * plus the buffer and margin the cutoff waits for, plus up to two schedule intervals (the run that starts just
 * too early, then the next), plus a minute for the run itself.
 */
export function flipCoveringWithinMs(timing: PipelineTiming, arrivedBy: number): number {
  const epochEnd = Math.ceil((arrivedBy + 1) / timing.epochLengthMs) * timing.epochLengthMs;
  return epochEnd - arrivedBy + timing.bufferIntervalMs + timing.safetyMarginMs + 2 * timing.batchIntervalMs + 60_000;
}

/** The cutoff a batch version must have reached to include everything that arrived by `arrivedBy`. */
export function cutoffCovering(timing: PipelineTiming, arrivedBy: number): number {
  return Math.ceil((arrivedBy + 1) / timing.epochLengthMs) * timing.epochLengthMs;
}
