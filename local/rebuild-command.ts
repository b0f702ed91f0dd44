/**
 * The commands that rebuild a view from the master dataset (DESIGN.md §6), run by `npm run rebuild` (the batch base)
 * and `npm run replay` (a new realtime generation):
 *
 *   --view NAME     the view (required)
 *   --url URL       a running `npm start` (default http://127.0.0.1:3000): the job runs in this process, against
 *                   its emulators, printing its progress; Ctrl-C stops it, and running the command again resumes it
 *   --stack NAME    a deployed stack instead: the command invokes the stack's rebuild Lambda, which continues itself
 *                   in new invocations as long as it needs, and follows the view's state in the manifest table
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { BatchViewStore } from '../functions/adapters/batch-view-store';
import { GenerationDirectory } from '../functions/adapters/generation-directory';
import { deserializePipelineConfig } from '../functions/core/pipeline-config';
import type { RebuildProgressReport } from '../functions/rebuild/rebuild-job';
import type { ReplayProgress } from '../functions/replay/replay-job';
import { defineCommand, readCommandLine } from './command-line';
import { emulatorClientConfig } from './emulators';
import { buildLocalRebuild, buildLocalReplay } from './local-handlers';
import { LOCAL_RESOURCES } from './local-runtime';

export type RebuildKind = 'batch' | 'realtime';

function describeReplay(progress: ReplayProgress): string {
  const handoff = new Date(progress.handoffMs).toISOString();
  switch (progress.phase) {
    case 'started':
      return `started generation ${progress.generation}; the live consumer writes into it from ${handoff}`;
    case 'resumed':
      return `resuming generation ${progress.generation} (hand-off ${handoff})`;
    case 'waiting-for-archive':
      return 'waiting for Firehose to archive everything that arrived before the hand-off';
    case 'computed':
      return 'the engine computed the backfill from the master dataset';
    case 'backfilling':
      return `backfilling: ${progress.itemsWritten ?? 0} items written`;
    case 'paused':
      return `paused after ${progress.itemsWritten ?? 0} items: run again to go on`;
    case 'flipped':
      return `flipped: generation ${progress.generation} is served`;
    case 'expired':
      return 'the previous generation expires in 10 minutes';
  }
}

function describeRebuild(progress: RebuildProgressReport): string {
  const cutoff = new Date(progress.cutoff).toISOString();
  switch (progress.phase) {
    case 'started':
      return `started base ${progress.id}: every record that arrived before ${cutoff}`;
    case 'resumed':
      return `resuming base ${progress.id} (cutoff ${cutoff})`;
    case 'computed':
      return `the engine computed the base: ${progress.files ?? 0} result files`;
    case 'writing':
      return `writing: ${progress.rowsWritten ?? 0} rows (${progress.filesDone ?? 0} of ${progress.files ?? '?'} files)`;
    case 'paused':
      return `paused after ${progress.rowsWritten ?? 0} rows: run again to go on`;
    case 'flipped':
      return `flipped: base ${progress.id} is served, with the windows after ${cutoff}`;
    case 'expired':
      return 'the rows it superseded expire in 10 minutes';
  }
}

async function runLocally(kind: RebuildKind, view: string, url: string): Promise<void> {
  const response = await fetch(`${url}/_local/status`).catch((error: unknown) => {
    throw new Error(`no local pipeline at ${url} (${String(error)}): start it with \`npm start\``);
  });
  const status = (await response.json()) as { pipelineConfig: string; endpoints: { dynamodb: string; s3: string } };
  const archivedThroughMs = async () => {
    const current = (await (await fetch(`${url}/_local/status`)).json()) as { archivedThroughMs: number | null };
    return current.archivedThroughMs ?? undefined;
  };
  const dynamodb = new DynamoDBClient(emulatorClientConfig(status.endpoints.dynamodb));
  const s3 = new S3Client(emulatorClientConfig(status.endpoints.s3));
  const environment = {
    config: deserializePipelineConfig(status.pipelineConfig),
    dynamodb,
    s3,
    resources: LOCAL_RESOURCES,
  };
  const controller = new AbortController();
  process.on('SIGINT', () => {
    console.log(`\nstopping; run the same command again to resume the ${kind === 'batch' ? 'rebuild' : 'replay'}`);
    controller.abort(new Error('stopped by Ctrl-C'));
  });
  try {
    const summary =
      kind === 'batch'
        ? await buildLocalRebuild(environment)(view, {
            signal: controller.signal,
            onProgress: (progress) => console.log(`${view}: ${describeRebuild(progress)}`),
          })
        : await buildLocalReplay({ ...environment, archivedThroughMs })(view, {
            signal: controller.signal,
            onProgress: (progress) => console.log(`${view}: ${describeReplay(progress)}`),
          });
    console.log(JSON.stringify(summary, null, 2));
  } finally {
    dynamodb.destroy();
    s3.destroy();
  }
}

/** How long the deployed job may show no progress before the command gives up following it. */
const STALL_MS = 20 * 60_000;

async function runDeployed(kind: RebuildKind, view: string, stackName: string): Promise<void> {
  const cloudFormation = new CloudFormationClient({});
  const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
  cloudFormation.destroy();
  const outputs = new Map((Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
  const functionName = outputs.get('RebuildFunctionName') ?? outputs.get('ReplayFunctionName');
  const manifestTable = outputs.get('ManifestTableName');
  if (functionName === undefined || manifestTable === undefined) {
    throw new Error(`stack ${stackName} has no RebuildFunctionName or ManifestTableName output: redeploy it`);
  }
  const dynamodb = new DynamoDBClient({});
  // Only the manifest is read: the table name of the batch rows is not needed to follow the state.
  const batch = new BatchViewStore({ client: dynamodb, batchTable: '-', manifestTable });
  const generations = new GenerationDirectory({ client: dynamodb, manifestTable });
  const line = async (): Promise<{ text: string; done: boolean }> => {
    if (kind === 'batch') {
      const state = await batch.state(view);
      if (state.rebuild !== null) {
        const r = state.rebuild;
        return {
          text:
            r.result === null
              ? `base ${r.id}: the engine is computing it`
              : `base ${r.id}: ${r.rowsWritten} rows written (${r.filesDone} of ${r.result.files} files)`,
          done: false,
        };
      }
      return {
        text: `base ${state.base?.id ?? '(none)'} is served`,
        done: startedBase !== undefined && state.base?.id !== startedBase,
      };
    }
    const state = await generations.read(view);
    if (state.building !== null) {
      const b = state.building;
      return {
        text: `building generation ${b.generation}: ${b.backfill === null || b.backfill === undefined ? 'waiting for the archive, then computing' : `${b.backfill.items} items written`}`,
        done: false,
      };
    }
    return {
      text: `generation ${state.served} is served`,
      done: startedGeneration !== undefined && state.served > startedGeneration,
    };
  };
  const startedBase = kind === 'batch' ? ((await batch.state(view)).base?.id ?? null) : undefined;
  const startedGeneration = kind === 'realtime' ? (await generations.read(view)).served : undefined;
  const lambda = new LambdaClient({});
  // Asynchronous: the job outlasts an HTTP request, and continues itself; the manifest shows its progress.
  await lambda.send(
    new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: JSON.stringify({ kind, view }) }),
  );
  lambda.destroy();
  console.log(`${view}: ${kind === 'batch' ? 'rebuild' : 'replay'} invoked (${functionName})`);
  let last = '';
  let changedAt = Date.now();
  for (;;) {
    const { text, done } = await line();
    if (text !== last) {
      console.log(`${view}: ${text}`);
      last = text;
      changedAt = Date.now();
    }
    if (done) break;
    if (Date.now() - changedAt > STALL_MS) {
      throw new Error(
        `${view}: no progress for 20 minutes; see the rebuild Lambda's logs, and run this again to resume`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
  dynamodb.destroy();
}

function rebuildOptions(what: string) {
  return {
    view: { type: 'string', value: 'NAME', description: `the view (required)` },
    url: {
      type: 'string',
      value: 'URL',
      default: 'http://127.0.0.1:3000',
      description: `a running \`npm start\`: ${what} runs in this process, against its emulators; Ctrl-C stops it, and running the command again resumes it`,
    },
    stack: {
      type: 'string',
      value: 'NAME',
      description: "a deployed stack instead of --url: invokes the stack's rebuild Lambda and follows the view's state",
    },
  } as const;
}

/** The command lines of `npm run rebuild` (the batch base) and `npm run replay` (a new realtime generation). */
export const REBUILD_COMMANDS = {
  batch: defineCommand({
    command: 'npm run rebuild',
    summary:
      "Recomputes a view's batch base from the master dataset (after a bug fix or a declaration change, or to compact " +
      'its windows) and flips to it; the windows after the base go on meanwhile.',
    options: rebuildOptions('the rebuild'),
  }),
  realtime: defineCommand({
    command: 'npm run replay',
    summary:
      'Rebuilds a view from the master dataset into a new realtime generation and flips to it (Kappa mode; in Lambda ' +
      'mode, a view that should not wait for the batch layer).',
    options: rebuildOptions('the replay'),
  }),
};

/** Parses the command line and runs the command; errors are printed without a stack trace. */
export function runRebuildCommand(kind: RebuildKind, argv: readonly string[] = process.argv.slice(2)): void {
  const { values } = readCommandLine(REBUILD_COMMANDS[kind], argv);
  const run = async () => {
    if (values.view === undefined) throw new Error('--view: required, the name of the view to rebuild');
    if (values.stack !== undefined) await runDeployed(kind, values.view, values.stack);
    else await runLocally(kind, values.view, values.url);
  };
  run().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
