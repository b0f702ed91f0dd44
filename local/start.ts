/**
 * `npm start [-- --port 3000] [--data-dir .local-data] [--reset] [--batch-interval SECONDS] [--architecture kappa]
 * [--verbose]`: the whole pipeline on this machine, on embedded emulators, with no AWS account and no Docker.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dashboardRoutes } from './dashboard-routes';
import { ARCHITECTURES, type Architecture } from '../functions/core/pipeline-config';
import { localPipelineConfig } from './local-config';
import { buildLocalHandlers } from './local-handlers';
import { LOCAL_RESOURCES, LocalRuntime } from './local-runtime';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '3000' },
    'data-dir': { type: 'string', default: join(process.cwd(), '.local-data') },
    reset: { type: 'boolean', default: false },
    'batch-interval': { type: 'string' },
    architecture: { type: 'string', default: 'lambda' },
    verbose: { type: 'boolean', default: false },
  },
});

async function main(): Promise<void> {
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port: expected a port number, got ${values.port}`);
  const batchSeconds = values['batch-interval'] === undefined ? undefined : Number(values['batch-interval']);
  if (batchSeconds !== undefined && !(batchSeconds > 0))
    throw new Error('--batch-interval: expected a positive number of seconds');
  if (!ARCHITECTURES.includes(values.architecture as Architecture))
    throw new Error(`--architecture: expected one of ${ARCHITECTURES.join(', ')}, got ${values.architecture}`);
  const config = localPipelineConfig({ architecture: values.architecture as Architecture });
  console.log('starting kinesis-local, dynalite and s3rver ...');
  const runtime = await LocalRuntime.start({
    config,
    dataDir: values['data-dir'],
    reset: values.reset,
    port,
    batchIntervalMs: batchSeconds === undefined ? undefined : batchSeconds * 1000,
    buildHandlers: (environment) => buildLocalHandlers(environment, { logLevel: values.verbose ? 'INFO' : 'ERROR' }),
    localRoutes: (runtime) => dashboardRoutes(runtime),
    log: (line) => console.error(line),
  });
  const api = runtime.apiUrl;
  const [view] = config.views;
  const example = {
    eventId: 'e-1',
    deviceId: 'device-001',
    site: 'site-1',
    metric: 'temperature',
    value: 21.5,
    ts: new Date().toISOString(),
  };
  console.log(`
The Lambda architecture is running (${config.architecture} mode).

  API         ${api}   (no API key locally)
  dashboard   ${api}/
  OpenAPI     ${api}/openapi.json

Send an event:
  curl -s -X POST ${api}/events -H 'content-type: application/json' -d '${JSON.stringify(example)}'
Query it (realtime at once, from the batch view after the next batch run):
  curl -s '${api}/views/${view.name}?deviceId=device-001&metric=temperature&granularity=hour'
${
  config.architecture === 'lambda'
    ? `Run the batch job now instead of waiting for the schedule:
  curl -s -X POST ${api}/_local/batch-runs`
    : 'Kappa mode: no batch layer; the realtime views are the answer.'
}
Rebuild a view from the master dataset (after changing its declaration in cdk.json), into a new generation:
  npm run replay -- --view ${view.name} --url ${api}
Simulate a fleet:
  npm run simulate -- --url ${api} --devices 20 --rate 50 --duration 30

Epochs are ${config.epochLengthMs / 60_000} min${config.architecture === 'lambda' ? `, the batch runs every ${batchSeconds ?? config.batchIntervalMs / 1000} s` : ''}.
Data lives in ${runtime.dataDir} (stream "${LOCAL_RESOURCES.stream}", bucket "${LOCAL_RESOURCES.bucket}", tables ${[LOCAL_RESOURCES.realtimeTable, LOCAL_RESOURCES.batchTable, LOCAL_RESOURCES.manifestTable].join(', ')});
it persists between runs: --reset starts empty. Emulator endpoints: ${api}/_local/status. Ctrl-C stops.
`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping ...');
    await runtime.stop();
    console.log('stopped; state kept in', runtime.dataDir);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
