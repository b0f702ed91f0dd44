/**
 * `npm start [-- --config FILE] [--port 3000] [--data-dir .local-data] [--reset] [--batch-interval SECONDS]
 * [--architecture kappa] [--verbose]`: the whole pipeline on this machine, on embedded emulators, with no AWS
 * account and no Docker. The schema and views are cdk.json's `pipeline` context, or those of a settings file in the
 * same notation (`--config examples/web-requests.json`); a bad declaration stops it before anything starts.
 *
 * The start script is `exec node --import tsx local/start.ts`: npm forwards SIGINT and SIGTERM only to the process
 * it started, and a shell in between (dash, Debian's sh, does not exec the last command) dies of SIGTERM and defers
 * SIGINT, leaving this process running. With `exec` and tsx as a loader rather than a CLI, npm's child is this
 * process, so a signal sent to npm's pid reaches the one process that knows how to stop everything.
 */
import { basename, join } from 'node:path';
import { defineCommand, readCommandLine } from './command-line';
import { dashboardRoutes } from './dashboard-routes';
import { ARCHITECTURES, type Architecture } from '../functions/core/pipeline-config';
import { canRollUp } from '../functions/core/granularity';
import { exampleEvent } from './event-traffic';
import { localPipelineConfig } from './local-config';
import { buildLocalHandlers } from './local-handlers';
import { LOCAL_RESOURCES, LocalRuntime } from './local-runtime';

/** Each asks `npm start` to stop: Ctrl-C, a supervisor's or a CI script's `kill`, the terminal closing. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** A bound on a hung shutdown: past it this process exits anyway, and kinesis-local's watchdog still stops it. */
const STOP_DEADLINE_MS = 30_000;
const PARENT_POLL_MS = 1_000;

export const START_COMMAND = defineCommand({
  command: 'npm start',
  summary:
    'Runs the whole pipeline on this machine, on embedded emulators (no AWS account, no Docker), with the serving ' +
    "API and the dashboard on --port. The schema and views are cdk.json's `pipeline` context, or a settings file's.",
  options: {
    config: { type: 'string', value: 'FILE', description: 'a settings file, e.g. examples/web-requests.json' },
    port: { type: 'string', value: 'PORT', default: '3000', description: 'the port of the API and dashboard (0: any)' },
    'data-dir': {
      type: 'string',
      value: 'DIR',
      defaultText: '.local-data, or .local-data/NAME for --config NAME.json',
      description: 'where the state is kept between runs',
    },
    reset: { type: 'boolean', description: 'start with empty state' },
    'batch-interval': {
      type: 'string',
      value: 'SECONDS',
      defaultText: "the settings' batch interval",
      description: 'how often the batch job runs',
    },
    architecture: {
      type: 'string',
      value: ARCHITECTURES.join('|'),
      defaultText: "the settings' architecture",
      description: 'the Lambda or Kappa architecture',
    },
    verbose: { type: 'boolean', description: "the functions' INFO logs" },
  },
});

async function main(): Promise<void> {
  const { values } = readCommandLine(START_COMMAND);
  const stopRequest = stopRequested();
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port: expected a port number, got ${values.port}`);
  const batchSeconds = values['batch-interval'] === undefined ? undefined : Number(values['batch-interval']);
  if (batchSeconds !== undefined && !(batchSeconds > 0))
    throw new Error('--batch-interval: expected a positive number of seconds');
  if (values.architecture !== undefined && !ARCHITECTURES.includes(values.architecture as Architecture))
    throw new Error(`--architecture: expected one of ${ARCHITECTURES.join(', ')}, got ${values.architecture}`);
  // --architecture wins over the settings' own.
  const architecture = values.architecture === undefined ? {} : { architecture: values.architecture as Architecture };
  const config = localPipelineConfig(architecture, undefined, values.config);
  console.log('starting kinesis-local, dynalite and s3rver ...');
  const runtime = await LocalRuntime.start({
    config,
    // Another schema's events would be skipped by this one's layers: each settings file keeps its own state.
    dataDir:
      values['data-dir'] ??
      join(process.cwd(), '.local-data', ...(values.config === undefined ? [] : [basename(values.config, '.json')])),
    reset: values.reset,
    port,
    batchIntervalMs: batchSeconds === undefined ? undefined : batchSeconds * 1000,
    buildHandlers: (environment) => buildLocalHandlers(environment, { logLevel: values.verbose ? 'INFO' : 'ERROR' }),
    localRoutes: (runtime) => dashboardRoutes(runtime),
    log: (line) => console.error(line),
  });
  const api = runtime.apiUrl;
  const [view] = config.views;
  const example = exampleEvent(config.schema);
  const keyParameters = (dimensions: readonly string[]) =>
    dimensions.map((field) => `${field}=${encodeURIComponent(String(example[field]))}`).join('&');
  const granularity = canRollUp(view.granularity, 'hour') ? 'hour' : view.granularity;
  const ranked = view.measures.find((measure) => measure.kind === 'max') ?? view.measures[0];
  const configArgument = values.config === undefined ? '' : ` --config ${values.config}`;
  const scored = config.views.find((candidate) => candidate.baseline !== undefined);
  const anomalies =
    scored === undefined
      ? ''
      : `Anomalies: readings of ${scored.name} far from what its key usually reads at that hour; each is also an event
on the local stand-in for EventBridge (the default bus); and the forecast of one key:
  curl -s '${api}/views/${scored.name}/anomalies'
  curl -s '${api}/local/bus-events'
  curl -s '${api}/views/${scored.name}/forecast?${keyParameters(scored.dimensions)}&horizon=24'
`;
  console.log(`
${
  config.architecture === 'lambda'
    ? 'The Lambda architecture is running: the speed layer answers at once, the batch layer makes it exact.'
    : 'The pipeline is running in Kappa mode: the speed layer is the whole answer, and replays rebuild its views.'
}

  API         ${api}   (no API key locally)
  dashboard   ${api}/
  OpenAPI     ${api}/openapi.json

Send an event:
  curl -s -X POST ${api}/events -H 'content-type: application/json' -d '${JSON.stringify(example)}'
Query it (${config.architecture === 'lambda' ? 'realtime at once, from the batch view after the next batch run' : 'at once, from the realtime views'}):
  curl -s '${api}/views/${view.name}?${keyParameters(view.dimensions)}&granularity=${granularity}'
List the view's keys, group by ${view.dimensions[0]} (leave the other dimensions out), rank the top 3 by ${ranked.name}:
  curl -s '${api}/views/${view.name}/keys'
  curl -s '${api}/views/${view.name}?${keyParameters(view.dimensions.slice(0, 1))}&granularity=${granularity}'
  curl -s '${api}/views/${view.name}?orderBy=${ranked.name}&limit=3&granularity=${granularity}'
${anomalies}${
    config.architecture === 'lambda'
      ? `Run the batch job now instead of waiting for the schedule (an event is covered once its epoch has closed and
the Firehose stand-in has flushed it: a run right after posting may flip nothing yet):
  curl -s -X POST ${api}/_local/batch-runs
  npm run batch:local -- --url ${api}`
      : 'No batch layer in Kappa mode: no batch runs, no batch versions; a replay builds the next generation.'
  }
Rebuild a view from the master dataset (after changing its declaration in cdk.json), into a new generation:
  npm run replay -- --view ${view.name} --url ${api}
Simulate traffic of the schema (${[config.schema.id, config.schema.time, ...config.schema.dimensions, ...config.schema.numbers].join(', ')}):
  npm run simulate -- --url ${api}${configArgument} --devices 20 --rate 50 --duration 30

Epochs are ${config.epochLengthMs / 60_000} min${config.architecture === 'lambda' ? `, the batch runs every ${batchSeconds ?? config.batchIntervalMs / 1000} s` : ''}.
Data lives in ${runtime.dataDir} (stream "${LOCAL_RESOURCES.stream}", bucket "${LOCAL_RESOURCES.bucket}", tables ${[LOCAL_RESOURCES.realtimeTable, LOCAL_RESOURCES.batchTable, LOCAL_RESOURCES.manifestTable, LOCAL_RESOURCES.keyDirectoryTable, ...(scored === undefined ? [] : [LOCAL_RESOURCES.anomalyTable])].join(', ')});
it persists between runs: --reset starts empty. Emulator endpoints: ${api}/_local/status. Ctrl-C, or a kill of npm's pid, stops it all.
`);
  const reason = await stopRequest;
  // After a SIGHUP the terminal is gone: writing to it fails, and that must not cut the shutdown short.
  for (const output of [process.stdout, process.stderr]) output.on('error', () => undefined);
  console.log(`\nstopping (${reason}) ...`);
  setTimeout(() => {
    console.error(`not stopped after ${STOP_DEADLINE_MS / 1000} s: exiting anyway`);
    process.exit(1);
  }, STOP_DEADLINE_MS);
  await runtime.stop();
  console.log('stopped; state kept in', runtime.dataDir);
  process.exit(0);
}

/**
 * Resolves with what asked this process to stop: one of STOP_SIGNALS, or, under npm, npm having gone (killed with
 * SIGKILL, or by a SIGHUP, which npm does not forward), so the runtime never outlives the `npm start` a supervisor
 * watches. Listening from before anything starts, a signal that comes while the runtime starts stops it once it is up,
 * through the same clean path. A repeated signal changes nothing: Ctrl-C reaches this process twice, from the
 * terminal and forwarded by npm.
 */
function stopRequested(): Promise<string> {
  return new Promise((resolve) => {
    for (const signal of STOP_SIGNALS) process.on(signal, () => resolve(signal));
    if (process.env.npm_lifecycle_event === undefined) return;
    const npm = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid === npm) return;
      clearInterval(watch);
      resolve('npm exited');
    }, PARENT_POLL_MS);
    watch.unref();
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
