/**
 * `npm run replay -- --view NAME [--url http://127.0.0.1:3000]`: rebuilds a view from the master dataset into a
 * new realtime generation and flips to it, against the pipeline `npm start` runs. It runs the replay job in this
 * process, against the local emulators, printing its progress; Ctrl-C stops it, and running it again resumes.
 *
 * `npm run replay -- --view NAME --stack LambdaArchitecture-dev`: the same against a deployed stack. It invokes
 * the stack's replay Lambda and follows the view's generation state in the manifest table until the flip.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { parseArgs } from 'node:util';
import { GenerationDirectory } from '../functions/adapters/generation-directory';
import { deserializePipelineConfig } from '../functions/core/pipeline-config';
import type { ReplayProgress } from '../functions/replay/replay-job';
import { emulatorClientConfig } from './emulators';
import { buildLocalReplay } from './local-handlers';
import { LOCAL_RESOURCES } from './local-runtime';

const { values } = parseArgs({
  options: {
    view: { type: 'string' },
    url: { type: 'string', default: 'http://127.0.0.1:3000' },
    stack: { type: 'string' },
  },
});

function describe(progress: ReplayProgress): string {
  const handoff = new Date(progress.handoffMs).toISOString();
  switch (progress.phase) {
    case 'started':
      return `started generation ${progress.generation}; the live consumer writes into it from ${handoff}`;
    case 'resumed':
      return `resuming generation ${progress.generation} (hand-off ${handoff})`;
    case 'waiting-for-archive':
      return 'waiting for Firehose to archive everything that arrived before the hand-off';
    case 'backfilling':
      return `backfilling from the master dataset: ${progress.itemsWritten ?? 0} of ${progress.itemsTotal ?? '?'} items`;
    case 'flipped':
      return `flipped: generation ${progress.generation} is served`;
    case 'expired':
      return 'the previous generation expires in 10 minutes';
  }
}

async function replayLocally(view: string, url: string): Promise<void> {
  const response = await fetch(`${url}/_local/status`).catch((error: unknown) => {
    throw new Error(`no local pipeline at ${url} (${String(error)}): start it with \`npm start\``);
  });
  const status = (await response.json()) as {
    pipelineConfig: string;
    endpoints: { dynamodb: string; s3: string };
  };
  const archivedThroughMs = async () => {
    const current = (await (await fetch(`${url}/_local/status`)).json()) as { archivedThroughMs: number | null };
    return current.archivedThroughMs ?? undefined;
  };
  const dynamodb = new DynamoDBClient(emulatorClientConfig(status.endpoints.dynamodb));
  const s3 = new S3Client(emulatorClientConfig(status.endpoints.s3));
  const replay = buildLocalReplay({
    config: deserializePipelineConfig(status.pipelineConfig),
    dynamodb,
    s3,
    resources: LOCAL_RESOURCES,
    archivedThroughMs,
  });
  const controller = new AbortController();
  process.on('SIGINT', () => {
    console.log('\nstopping the replay; run the same command again to resume it');
    controller.abort(new Error('stopped by Ctrl-C'));
  });
  try {
    const summary = await replay(view, {
      signal: controller.signal,
      onProgress: (progress) => console.log(`${view}: ${describe(progress)}`),
    });
    console.log(JSON.stringify(summary, null, 2));
  } finally {
    dynamodb.destroy();
    s3.destroy();
  }
}

async function replayDeployed(view: string, stackName: string): Promise<void> {
  const cloudFormation = new CloudFormationClient({});
  const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
  cloudFormation.destroy();
  const outputs = new Map((Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
  const functionName = outputs.get('ReplayFunctionName');
  const manifestTable = outputs.get('ManifestTableName');
  if (functionName === undefined || manifestTable === undefined) {
    throw new Error(`stack ${stackName} has no ReplayFunctionName or ManifestTableName output: redeploy it`);
  }
  const dynamodb = new DynamoDBClient({});
  const directory = new GenerationDirectory({ client: dynamodb, manifestTable });
  const before = await directory.read(view);
  const target = before.building?.generation ?? before.served + 1;
  const lambda = new LambdaClient({});
  // Asynchronous: the replay may outlast an HTTP request; the manifest shows its progress.
  await lambda.send(
    new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: JSON.stringify({ view }) }),
  );
  lambda.destroy();
  console.log(`${view}: replay invoked (${functionName}), building generation ${target}`);
  let last = '';
  // One invocation lasts at most 15 minutes; past that, it stopped and must be invoked again to resume.
  const deadline = Date.now() + 16 * 60_000;
  for (;;) {
    if (Date.now() > deadline) {
      throw new Error(
        `${view}: no flip within 16 minutes; the replay Lambda stopped (see its logs). Run this again to resume it.`,
      );
    }
    const state = await directory.read(view);
    const line =
      state.served >= target
        ? `flipped: generation ${state.served} is served`
        : state.building === null
          ? 'starting'
          : state.building.backfilledItems === null
            ? `building generation ${state.building.generation}; hand-off ${new Date(state.building.handoffMs).toISOString()}; backfilling`
            : `backfilled ${state.building.backfilledItems} items; flipping`;
    if (line !== last) console.log(`${view}: ${line}`);
    last = line;
    if (state.served >= target) break;
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
  dynamodb.destroy();
}

async function main(): Promise<void> {
  if (values.view === undefined) throw new Error('--view: required, the name of the view to rebuild');
  if (values.stack !== undefined) await replayDeployed(values.view, values.stack);
  else await replayLocally(values.view, values.url ?? 'http://127.0.0.1:3000');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
