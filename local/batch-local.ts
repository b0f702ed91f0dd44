/**
 * `npm run batch:local [-- --api http://127.0.0.1:3000 | --s3-endpoint URL --dynamodb-endpoint URL]`: runs the
 * DuckDB batch job once over a local S3 endpoint and writes the views to a local DynamoDB, then prints a summary
 * per view. By default it finds both endpoints through a running `npm start`.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { BatchViewStore } from '../functions/adapters/batch-view-store';
import { DuckDbEngine } from '../functions/adapters/duckdb/duckdb-engine';
import { runBatchJob } from '../functions/batch/batch-job';
import { emulatorClientConfig } from './emulators';
import { localPipelineConfig } from './local-config';
import { LocalMetrics } from './local-handlers';
import { LOCAL_RESOURCES } from './local-runtime';

const { values } = parseArgs({
  options: {
    api: { type: 'string', default: 'http://127.0.0.1:3000' },
    's3-endpoint': { type: 'string', default: process.env.AWS_ENDPOINT_URL_S3 },
    'dynamodb-endpoint': { type: 'string', default: process.env.AWS_ENDPOINT_URL_DYNAMODB },
    bucket: { type: 'string', default: LOCAL_RESOURCES.bucket },
  },
});

async function endpoints(): Promise<{ s3: string; dynamodb: string }> {
  if (values['s3-endpoint'] !== undefined && values['dynamodb-endpoint'] !== undefined) {
    return { s3: values['s3-endpoint'], dynamodb: values['dynamodb-endpoint'] };
  }
  try {
    const status = (await (await fetch(`${values.api}/_local/status`)).json()) as {
      endpoints: { s3: string; dynamodb: string };
    };
    return status.endpoints;
  } catch {
    throw new Error(
      `no S3 and DynamoDB endpoints: start the pipeline with \`npm start\` (looked for it at ${values.api}), ` +
        'or pass --s3-endpoint and --dynamodb-endpoint (or AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_DYNAMODB)',
    );
  }
}

async function main(): Promise<void> {
  const { s3: s3Endpoint, dynamodb: dynamodbEndpoint } = await endpoints();
  const s3 = new S3Client(emulatorClientConfig(s3Endpoint));
  const dynamodb = new DynamoDBClient(emulatorClientConfig(dynamodbEndpoint));
  try {
    const summary = await runBatchJob({
      config: localPipelineConfig(),
      engine: new DuckDbEngine({
        s3,
        bucket: values.bucket,
        prefix: LOCAL_RESOURCES.masterPrefix,
        errorPrefix: LOCAL_RESOURCES.errorPrefix,
      }),
      store: new BatchViewStore({
        client: dynamodb,
        batchTable: LOCAL_RESOURCES.batchTable,
        manifestTable: LOCAL_RESOURCES.manifestTable,
      }),
      logger: { info: () => undefined, warn: console.warn, error: console.error },
      metrics: new LocalMetrics(),
    });
    console.log(`cutoff ${new Date(summary.cutoff).toISOString()}`);
    console.table(
      summary.views.map((view) => ({
        view: view.view,
        rows: view.rows,
        'bytes read': view.bytesScanned,
        seconds: Number(view.seconds.toFixed(3)),
        outcome: view.outcome,
      })),
    );
  } finally {
    s3.destroy();
    dynamodb.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
