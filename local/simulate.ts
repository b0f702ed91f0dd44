/**
 * `npm run simulate -- [--url URL] [--config FILE] [--devices N] [--rate EVENTS_PER_S] [--late SHARE]
 * [--invalid SHARE] [--duration SECONDS] [--api-key KEY]`: traffic of the declared event schema (cdk.json's, or a
 * settings file's such as examples/web-requests.json) through the ingest API (POST /events), locally or against a
 * deployed stack, with a progress line every second. For the default schema it is IoT readings from `--devices`
 * devices; for another, `--devices` is how many values its first dimension takes. It keeps to the rate by sending
 * any backlog in the next tick (bounded), ends with a summary and an example query, and says in one line when
 * nothing answers at the URL.
 */
import { defineCommand, readCommandLine } from './command-line';
import { trafficFor } from './event-traffic';
import { InterruptibleSleep } from './interruptible-sleep';
import { localPipelineConfig, pipelineSettings } from './local-config';
import { SendSchedule } from './send-schedule';
import {
  apiBase,
  networkCause,
  nothingAnswersLine,
  progressLine,
  SimulationTally,
  summaryLines,
  type RecordAnswer,
} from './simulation-summary';
import type { EventSchema } from '../functions/core/event-schema';
import { defineEventSchema } from '../functions/core/event-schema-definition';
import { deserializePipelineConfig } from '../functions/core/pipeline-config';
import type { ViewDefinition } from '../functions/core/view-declaration';

export const SIMULATE_COMMAND = defineCommand({
  command: 'npm run simulate',
  summary:
    "Posts traffic of the declared event schema (cdk.json's, a settings file's, or that of the `npm start` at --url) " +
    'to the ingest API (POST /events), locally or to a deployed stack, with a progress line every second and a ' +
    'summary at the end (what was accepted, rejected and why, the rate achieved, and a query for a key it sent).',
  options: {
    url: {
      type: 'string',
      value: 'URL',
      default: process.env.API_URL ?? 'http://127.0.0.1:3000',
      defaultText: '$API_URL, else http://127.0.0.1:3000',
      description: 'the API address',
    },
    config: {
      type: 'string',
      value: 'FILE',
      description: 'a settings file whose schema to send, e.g. examples/web-requests.json',
    },
    devices: { type: 'string', value: 'N', default: '20', description: 'devices (values of the first dimension)' },
    rate: { type: 'string', value: 'EVENTS_PER_S', default: '50', description: 'events per second' },
    late: { type: 'string', value: 'SHARE', default: '0.1', description: 'share of late events, 0 to 1' },
    invalid: { type: 'string', value: 'SHARE', default: '0.05', description: 'share of invalid events, 0 to 1' },
    duration: { type: 'string', value: 'SECONDS', default: '30', description: 'how long to send' },
    'api-key': {
      type: 'string',
      value: 'KEY',
      default: process.env.API_KEY,
      defaultText: '$API_KEY',
      description: 'the x-api-key header, for a deployed stack',
    },
  },
});

const { values } = readCommandLine(SIMULATE_COMMAND);

/** A problem the user fixes by changing how simulate is run, or by starting the pipeline: one line, exit 1. */
class SimulateError extends Error {
  override readonly name = 'SimulateError';
}

function numberOption(name: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new SimulateError(`--${name}: expected a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function urlOption(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new SimulateError(
      `--url: expected an http(s) address such as http://127.0.0.1:3000, got ${JSON.stringify(text)}`,
    );
  }
  return text;
}

/** What simulate sends (the schema) and what the server counts it into (the views, for the example query). */
interface PipelineToSend {
  readonly schema: EventSchema;
  readonly views: readonly ViewDefinition[];
}

/**
 * Asks the URL for a local runtime's status document first. That proves something answers there (else the one
 * line of nothingAnswersLine), and gives the schema and views of the `npm start` at the URL, so
 * `npm start -- --config X` and `npm run simulate` agree without repeating the file. A deployed stack answers too
 * (403 or 404): then the schema and views are --config's, else cdk.json's.
 */
async function pipelineToSend(url: string, settingsFile: string | undefined): Promise<PipelineToSend> {
  let status: { pipelineConfig?: unknown } | undefined;
  try {
    const response = await fetch(`${apiBase(url)}/_local/status`, { signal: AbortSignal.timeout(5_000) });
    status = response.ok ? ((await response.json().catch(() => undefined)) as typeof status) : undefined;
  } catch (error) {
    throw new SimulateError(nothingAnswersLine(url, networkCause(error)));
  }
  if (settingsFile === undefined && typeof status?.pipelineConfig === 'string') {
    const config = deserializePipelineConfig(status.pipelineConfig);
    return { schema: config.schema, views: config.views };
  }
  const schema = defineEventSchema(pipelineSettings(undefined, settingsFile).schema);
  let views: readonly ViewDefinition[] = [];
  try {
    views = localPipelineConfig(undefined, undefined, settingsFile).views;
  } catch {
    // Only the example query needs the views; the schema above is what decides whether simulate can run.
  }
  return { schema, views };
}

/** Events in one POST: the API's limit. */
const MAX_EVENTS_PER_POST = 500;
/** POSTs in flight at once, when a tick owes more than one POST's worth. */
const PARALLEL_POSTS = 4;
/** Five ticks a second. */
const TICK_MS = 200;
/** A POST with no answer by then counts as unanswered, so a hung server does not hang simulate. */
const POST_TIMEOUT_MS = 30_000;
/** Network errors that mean the server has gone, not that one request went wrong. */
const GONE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

async function main(): Promise<void> {
  const devices = numberOption('devices', values.devices, 1, 100_000);
  const rate = numberOption('rate', values.rate, 1, 100_000);
  const duration = numberOption('duration', values.duration, 1, 86_400);
  const lateShare = numberOption('late', values.late, 0, 1);
  const invalidShare = numberOption('invalid', values.invalid, 0, 1);
  const url = urlOption(values.url);
  const { schema, views } = await pipelineToSend(url, values.config);
  const traffic = trafficFor(schema, { keys: devices, lateShare, invalidShare });
  const endpoint = `${apiBase(url)}/events`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  // An empty key (API_KEY= in the environment) is no key.
  const apiKey = values['api-key'] === '' ? undefined : values['api-key'];
  if (apiKey !== undefined) headers['x-api-key'] = apiKey;

  console.log(
    `posting to ${endpoint}: ${devices} ${schema.dimensions[0]} values, ${rate} events/s for ${duration} s ` +
      `(fields ${[schema.id, schema.time, ...schema.dimensions, ...schema.numbers].join(', ')})`,
  );
  const started = Date.now();
  // A stall of up to two seconds (or one full POST) is caught up in the next tick; beyond that, the excess is
  // reported as a shortfall rather than burst out at a server that is already slow.
  const schedule = new SendSchedule({
    ratePerSecond: rate,
    durationMs: duration * 1000,
    startedMs: started,
    maxBacklog: Math.max(MAX_EVENTS_PER_POST, Math.ceil(2 * rate)),
  });
  const tally = new SimulationTally(schema, views);
  const sleep = new InterruptibleSleep();
  let stoppedBy: string | undefined;
  let gone: string | undefined;
  process.once('SIGINT', () => {
    stoppedBy = 'Ctrl-C';
    sleep.wakeAll();
  });

  const post = async (size: number): Promise<void> => {
    const events = traffic.batch(size);
    const sentAt = Date.now();
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(events),
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
      });
    } catch (error) {
      const cause = networkCause(error);
      tally.recordUnanswered(size, cause);
      if (GONE.has(cause)) {
        gone = cause;
        stoppedBy = `nothing answers at ${apiBase(url)} any more`;
      }
      return;
    }
    const text = await response.text();
    const body = parseJson(text) as { results?: unknown; message?: unknown } | undefined;
    if (Array.isArray(body?.results)) {
      tally.recordAnswers(events, body.results as RecordAnswer[], sentAt);
      return;
    }
    const message = typeof body?.message === 'string' ? body.message : text.slice(0, 200);
    tally.recordUnanswered(size, `HTTP ${response.status}${message === '' ? '' : `: ${message}`}`);
    // A refusal of the request itself (a missing API key, a wrong URL) would only repeat: stop and say so.
    if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
      stoppedBy = `${endpoint} refused the request with HTTP ${response.status}`;
    }
  };

  let lastReport = started;
  for (;;) {
    const tick = Date.now();
    const sizes = postSizes(schedule.take(tick));
    for (let index = 0; index < sizes.length && stoppedBy === undefined; index += PARALLEL_POSTS) {
      await Promise.all(sizes.slice(index, index + PARALLEL_POSTS).map(post));
    }
    if (Date.now() - lastReport >= 1000) {
      const line = progressLine(tally, schedule, Date.now(), started);
      if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
      else console.log(line);
      lastReport = Date.now();
    }
    if (stoppedBy !== undefined || tick >= schedule.endMs) break;
    await sleep.sleep(Math.max(0, Math.min(TICK_MS - (Date.now() - tick), schedule.endMs - Date.now())));
  }

  if (process.stdout.isTTY) process.stdout.write('\n');
  const curlHeaders =
    apiKey === undefined
      ? undefined
      : process.env.API_KEY === apiKey
        ? '-H "x-api-key: $API_KEY"'
        : "-H 'x-api-key: <the --api-key value>'";
  const summary = summaryLines({
    tally,
    schedule,
    ratePerSecond: rate,
    startedMs: started,
    endedMs: Date.now(),
    stoppedBy,
    url,
    curlHeaders,
  });
  for (const line of summary) console.log(line);
  if (gone !== undefined) console.error(nothingAnswersLine(url, gone));
  if (stoppedBy === 'Ctrl-C') process.exitCode = 130;
  else if (tally.unanswered > 0) process.exitCode = 1;
}

/** A tick's events as POSTs of at most MAX_EVENTS_PER_POST each. */
function postSizes(total: number): number[] {
  const sizes: number[] = [];
  for (let left = total; left > 0; left -= MAX_EVENTS_PER_POST) sizes.push(Math.min(left, MAX_EVENTS_PER_POST));
  return sizes;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
