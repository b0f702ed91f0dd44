/**
 * `npm run batch:local [-- OPTIONS]`: one run of the DuckDB batch job over a local S3 endpoint, writing the views
 * to a local DynamoDB endpoint, with a summary per view: the arrival windows it computed (each run computes only
 * what arrived since the view's served cutoff), the cutoff it serves, rows written, bytes read, seconds, outcome.
 *
 *   --s3-endpoint URL        default AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then what `npm start` reports
 *   --dynamodb-endpoint URL  default AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL, then `npm start`'s
 *   --url URL                where to ask a running `npm start` for its endpoints (default http://127.0.0.1:3000);
 *                            --api URL is a deprecated alias
 *   --bucket NAME            default MASTER_BUCKET, then master-dataset
 *   --prefix PREFIX          default MASTER_PREFIX, then events/
 *   --error-prefix PREFIX    default ERROR_PREFIX, then errors/
 *   --batch-table NAME       default BATCH_TABLE, then batch-views
 *   --manifest-table NAME    default MANIFEST_TABLE, then view-manifest
 *
 * The views and timing are PIPELINE_CONFIG's when it is set, otherwise cdk.json's with the local timing that
 * `npm start` uses. The defaults are the names `npm start` provisions, so with it running no option is needed.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { BatchViewStore } from '../functions/adapters/batch-view-store';
import { DuckDbEngine } from '../functions/adapters/duckdb/duckdb-engine';
import { BatchRunError, runBatchJob, type BatchRunSummary } from '../functions/batch/batch-job';
import type { ArrivalWindow } from '../functions/core/manifest';
import { deserializePipelineConfig, type PipelineConfig } from '../functions/core/pipeline-config';
import { defineCommand, parseCommandLine, readCommandLine } from './command-line';
import { emulatorClientConfig } from './emulators';
import { localPipelineConfig } from './local-config';
import { LocalMetrics } from './local-handlers';
import { LOCAL_RESOURCES } from './local-runtime';

export interface BatchLocalSettings {
  readonly s3Endpoint: string;
  readonly dynamodbEndpoint: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly errorPrefix: string;
  readonly batchTable: string;
  readonly manifestTable: string;
  readonly config: PipelineConfig;
}

/** A problem the person running the command can fix; printed without a stack trace. */
export class BatchLocalError extends Error {
  override readonly name = 'BatchLocalError';
}

export const BATCH_LOCAL_COMMAND = defineCommand({
  command: 'npm run batch:local',
  summary:
    'One run of the DuckDB batch job over a local S3 endpoint, writing the views to a local DynamoDB endpoint, with ' +
    'a summary per view. The defaults are what `npm start` provisions, so with it running no option is needed.',
  options: {
    url: {
      type: 'string',
      value: 'URL',
      default: 'http://127.0.0.1:3000',
      description: 'the API address of a running `npm start`, to ask for its endpoints',
    },
    api: { type: 'string', value: 'URL', aliasOf: 'url', description: 'deprecated alias of --url' },
    's3-endpoint': {
      type: 'string',
      value: 'URL',
      defaultText: "$AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL, else `npm start`'s",
      description: 'the S3 endpoint',
    },
    'dynamodb-endpoint': {
      type: 'string',
      value: 'URL',
      defaultText: "$AWS_ENDPOINT_URL_DYNAMODB, else $AWS_ENDPOINT_URL, else `npm start`'s",
      description: 'the DynamoDB endpoint',
    },
    bucket: {
      type: 'string',
      value: 'NAME',
      defaultText: `$MASTER_BUCKET, else ${LOCAL_RESOURCES.bucket}`,
      description: 'the master dataset bucket',
    },
    prefix: {
      type: 'string',
      value: 'PREFIX',
      defaultText: `$MASTER_PREFIX, else ${LOCAL_RESOURCES.masterPrefix}`,
      description: 'the prefix of the archived events',
    },
    'error-prefix': {
      type: 'string',
      value: 'PREFIX',
      defaultText: `$ERROR_PREFIX, else ${LOCAL_RESOURCES.errorPrefix}`,
      description: 'the prefix of failed records',
    },
    'batch-table': {
      type: 'string',
      value: 'NAME',
      defaultText: `$BATCH_TABLE, else ${LOCAL_RESOURCES.batchTable}`,
      description: 'the batch views table',
    },
    'manifest-table': {
      type: 'string',
      value: 'NAME',
      defaultText: `$MANIFEST_TABLE, else ${LOCAL_RESOURCES.manifestTable}`,
      description: 'the view manifest table',
    },
  },
  notes: [
    "The views and timing are $PIPELINE_CONFIG's when it is set, otherwise cdk.json's with `npm start`'s local timing.",
  ],
});

/** Settings from the command line, then the environment, then a running `npm start`, then the local defaults. */
export async function batchLocalSettings(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<BatchLocalSettings> {
  const { values } = parseCommandLine(BATCH_LOCAL_COMMAND, argv);
  let s3Endpoint = values['s3-endpoint'] ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  let dynamodbEndpoint = values['dynamodb-endpoint'] ?? env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL;
  if (s3Endpoint === undefined || dynamodbEndpoint === undefined) {
    const running = await runtimeEndpoints(values.url);
    s3Endpoint ??= running?.s3;
    dynamodbEndpoint ??= running?.dynamodb;
    const missing = [
      ...(s3Endpoint === undefined ? ['an S3 endpoint (--s3-endpoint or AWS_ENDPOINT_URL_S3)'] : []),
      ...(dynamodbEndpoint === undefined
        ? ['a DynamoDB endpoint (--dynamodb-endpoint or AWS_ENDPOINT_URL_DYNAMODB)']
        : []),
    ];
    if (s3Endpoint === undefined || dynamodbEndpoint === undefined) {
      throw new BatchLocalError(
        `missing ${missing.join(' and ')}; or start the pipeline with \`npm start\` (no local runtime answered at ` +
          `${values.url}/_local/status)`,
      );
    }
  }
  let config: PipelineConfig;
  try {
    config = env.PIPELINE_CONFIG === undefined ? localPipelineConfig() : deserializePipelineConfig(env.PIPELINE_CONFIG);
  } catch (error) {
    throw new BatchLocalError(`PIPELINE_CONFIG: not a valid pipeline configuration: ${(error as Error).message}`);
  }
  return {
    s3Endpoint,
    dynamodbEndpoint,
    bucket: values.bucket ?? env.MASTER_BUCKET ?? LOCAL_RESOURCES.bucket,
    prefix: values.prefix ?? env.MASTER_PREFIX ?? LOCAL_RESOURCES.masterPrefix,
    errorPrefix: values['error-prefix'] ?? env.ERROR_PREFIX ?? LOCAL_RESOURCES.errorPrefix,
    batchTable: values['batch-table'] ?? env.BATCH_TABLE ?? LOCAL_RESOURCES.batchTable,
    manifestTable: values['manifest-table'] ?? env.MANIFEST_TABLE ?? LOCAL_RESOURCES.manifestTable,
    config,
  };
}

async function runtimeEndpoints(api: string): Promise<{ s3?: string; dynamodb?: string } | undefined> {
  try {
    const response = await fetch(`${api}/_local/status`, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) return undefined;
    const status = (await response.json()) as { endpoints?: { s3?: string; dynamodb?: string } };
    return status.endpoints;
  } catch {
    return undefined;
  }
}

/** Runs the job once and prints the summary; throws BatchLocalError for what the person can fix. */
export async function batchLocal(
  settings: BatchLocalSettings,
  print: (line: string) => void = console.log,
): Promise<BatchRunSummary> {
  // A short connection timeout, so that a wrong port is reported at once rather than after the SDK's retries.
  const client = (endpoint: string) => ({
    ...emulatorClientConfig(endpoint),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000 }),
    maxAttempts: 2,
  });
  const s3 = new S3Client(client(settings.s3Endpoint));
  const dynamodb = new DynamoDBClient(client(settings.dynamodbEndpoint));
  try {
    await reachable(`S3 endpoint ${settings.s3Endpoint}`, '--s3-endpoint', async () => {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: settings.bucket }));
      } catch (error) {
        if (httpStatusOf(error) === 404) {
          throw new BatchLocalError(`bucket "${settings.bucket}" does not exist at ${settings.s3Endpoint} (--bucket)`);
        }
        throw error;
      }
    });
    for (const [table, flag] of [
      [settings.batchTable, '--batch-table'],
      [settings.manifestTable, '--manifest-table'],
    ] as const) {
      await reachable(`DynamoDB endpoint ${settings.dynamodbEndpoint}`, '--dynamodb-endpoint', async () => {
        try {
          await dynamodb.send(new DescribeTableCommand({ TableName: table }));
        } catch (error) {
          if ((error as { name?: string }).name === 'ResourceNotFoundException') {
            throw new BatchLocalError(`table "${table}" does not exist at ${settings.dynamodbEndpoint} (${flag})`);
          }
          throw error;
        }
      });
    }

    let summary: BatchRunSummary;
    let failure: BatchRunError | undefined;
    try {
      summary = await runBatchJob({
        config: settings.config,
        engine: new DuckDbEngine({
          s3,
          bucket: settings.bucket,
          prefix: settings.prefix,
          errorPrefix: settings.errorPrefix,
          schema: settings.config.schema,
        }),
        store: new BatchViewStore({
          client: dynamodb,
          batchTable: settings.batchTable,
          manifestTable: settings.manifestTable,
        }),
        logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
        metrics: new LocalMetrics(),
      });
    } catch (error) {
      if (!(error instanceof BatchRunError)) throw error;
      failure = error;
      summary = error.summary;
    }
    printSummary(summary, settings, print);
    if (failure !== undefined) throw new BatchLocalError(failure.message);
    return summary;
  } finally {
    s3.destroy();
    dynamodb.destroy();
  }
}

async function reachable(what: string, flag: string, probe: () => Promise<void>): Promise<void> {
  try {
    await probe();
  } catch (error) {
    if (error instanceof BatchLocalError) throw error;
    // No HTTP status: nothing answered (refused, reset, timed out, unknown host).
    if (httpStatusOf(error) === undefined) {
      throw new BatchLocalError(`${what} is unreachable (${networkCause(error)}): start \`npm start\` or pass ${flag}`);
    }
    throw new BatchLocalError(`${what} answered with an error: ${(error as Error).message}`);
  }
}

/** The system error code (ECONNREFUSED, ENOTFOUND, ...), wherever the SDK put it, or else the message. */
function networkCause(error: unknown): string {
  const shaped = error as { code?: unknown; cause?: { code?: unknown }; message?: unknown } | null;
  if (typeof shaped?.code === 'string') return shaped.code;
  if (typeof shaped?.cause?.code === 'string') return shaped.cause.code;
  const message = String(shaped?.message ?? error);
  return /\b(E[A-Z]{3,})\b/.exec(message)?.[1] ?? message;
}

function httpStatusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function printSummary(summary: BatchRunSummary, settings: BatchLocalSettings, print: (line: string) => void): void {
  const prepared = summary.preparation;
  print(
    `batch run: cutoff ${formatTime(summary.cutoff)}, ` +
      (prepared === undefined
        ? 'no objects read (no window to compute, or the engine did not start)'
        : `${prepared.objects} objects (${formatBytes(prepared.bytes)}) read from s3://${settings.bucket}/` +
          `${settings.prefix} in ${prepared.seconds.toFixed(2)} s`),
  );
  const skipped = Object.entries(summary.skippedRows);
  if (skipped.length > 0) {
    print('archived rows no view counts (they break the event rules):');
    for (const [reason, count] of skipped) print(`  ${count}  ${reason}`);
  }
  const rows = [
    ['view', 'windows', 'served to', 'rows', 'set aside', 'bytes read', 'query s', 'write s', 'outcome'],
    ...summary.views.map((view) => [
      view.view,
      formatWindows(view.windows),
      view.cutoff === null ? 'nothing' : formatTime(view.cutoff),
      String(view.rows),
      String(view.setAside),
      formatBytes(view.bytesScanned),
      view.seconds.toFixed(2),
      view.writeSeconds.toFixed(2),
      view.outcome === 'failed' ? `failed: ${view.error}` : view.outcome,
    ]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) {
    print(
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column])))
        .join('  ')
        .trimEnd(),
    );
  }
}

/** An arrival time as the summary prints it: ISO 8601 to the second (epochs start on whole seconds). */
function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

/**
 * The arrival windows a view computed, which follow one another: how many, and the arrivals they covered together
 * (`start` for a view's first window, which begins at the start of the archive).
 */
function formatWindows(windows: readonly ArrivalWindow[]): string {
  if (windows.length === 0) return 'none';
  const from = windows[0].from;
  return `${windows.length} [${from === 0 ? 'start' : formatTime(from)}, ${formatTime(windows[windows.length - 1].to)})`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  readCommandLine(BATCH_LOCAL_COMMAND, argv);
  await batchLocal(await batchLocalSettings(argv));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof BatchLocalError ? `batch:local: ${error.message}` : error);
    process.exitCode = 1;
  });
}
