/**
 * `npm run simulate -- [--url URL] [--config FILE] [--devices N] [--rate EVENTS_PER_S] [--late SHARE]
 * [--invalid SHARE] [--duration SECONDS] [--api-key KEY]`: traffic of the declared event schema (cdk.json's, or a
 * settings file's such as examples/web-requests.json) through the ingest API (POST /events), locally or against a
 * deployed stack, with a progress line every second. For the default schema it is IoT readings from `--devices`
 * devices; for another, `--devices` is how many values its first dimension takes.
 */
import { defineCommand, readCommandLine } from './command-line';
import { trafficFor } from './event-traffic';
import { pipelineSettings } from './local-config';
import type { EventSchema } from '../functions/core/event-schema';
import { defineEventSchema } from '../functions/core/event-schema-definition';

export const SIMULATE_COMMAND = defineCommand({
  command: 'npm run simulate',
  summary:
    "Posts traffic of the declared event schema (cdk.json's, a settings file's, or that of the `npm start` at --url) " +
    'to the ingest API (POST /events), locally or to a deployed stack, with a progress line every second.',
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

function numberOption(name: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`--${name}: expected a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * The schema of `--config`, else the one a local runtime at the URL runs with (its status document), else
 * cdk.json's: so `npm start -- --config X` and `npm run simulate` agree without repeating the file. Only the schema
 * matters here: the views are the server's business.
 */
async function schemaToSend(url: string, settingsFile: string | undefined): Promise<EventSchema> {
  if (settingsFile === undefined) {
    const status = await fetch(`${url.replace(/\/$/, '')}/_local/status`, { signal: AbortSignal.timeout(2000) })
      .then(async (response) => (response.ok ? ((await response.json()) as { pipelineConfig?: string }) : undefined))
      .catch(() => undefined);
    if (typeof status?.pipelineConfig === 'string') {
      return defineEventSchema((JSON.parse(status.pipelineConfig) as { schema?: unknown }).schema);
    }
  }
  return defineEventSchema(pipelineSettings(undefined, settingsFile).schema);
}

interface RecordAnswer {
  readonly status?: string;
}

async function main(): Promise<void> {
  const devices = numberOption('devices', values.devices, 1, 100_000);
  const rate = numberOption('rate', values.rate, 1, 100_000);
  const duration = numberOption('duration', values.duration, 1, 86_400);
  const schema = await schemaToSend(values.url, values.config);
  const traffic = trafficFor(schema, {
    keys: devices,
    lateShare: numberOption('late', values.late, 0, 1),
    invalidShare: numberOption('invalid', values.invalid, 0, 1),
  });
  const endpoint = `${values.url.replace(/\/$/, '')}/events`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (values['api-key'] !== undefined) headers['x-api-key'] = values['api-key'];

  // Five posts a second, each at most 500 events (the API's limit).
  const tickMs = 200;
  const perTick = rate / (1000 / tickMs);
  const totals = { sent: 0, accepted: 0, rejected: 0, failed: 0, httpErrors: 0 };
  const started = Date.now();
  let owed = 0;
  let lastReport = started;
  const report = (final: boolean) => {
    const seconds = (Date.now() - started) / 1000;
    const line =
      `sent ${totals.sent}  accepted ${totals.accepted}  rejected ${totals.rejected}  failed ${totals.failed}` +
      `  http errors ${totals.httpErrors}  rate ${(totals.sent / Math.max(seconds, 0.001)).toFixed(1)}/s`;
    if (process.stdout.isTTY && !final) process.stdout.write(`\r${line}`);
    else console.log(line);
  };

  console.log(
    `posting to ${endpoint}: ${devices} ${schema.dimensions[0]} values, ${rate} events/s for ${duration} s ` +
      `(fields ${[schema.id, schema.time, ...schema.dimensions, ...schema.numbers].join(', ')})`,
  );
  while (Date.now() - started < duration * 1000) {
    const tick = Date.now();
    owed += perTick;
    const size = Math.min(500, Math.floor(owed));
    owed -= size;
    if (size > 0) {
      const events = traffic.batch(size);
      totals.sent += size;
      try {
        const response = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(events) });
        const body = (await response.json()) as { results?: RecordAnswer[] };
        if (response.status >= 500 || !Array.isArray(body.results)) totals.httpErrors += 1;
        for (const answer of body.results ?? []) {
          if (answer.status === 'accepted') totals.accepted += 1;
          else if (answer.status === 'rejected') totals.rejected += 1;
          else totals.failed += 1;
        }
      } catch (error) {
        totals.httpErrors += 1;
        if (totals.httpErrors === 1) console.error(`\ncannot reach ${endpoint}: ${(error as Error).message}`);
      }
    }
    if (Date.now() - lastReport >= 1000) {
      report(false);
      lastReport = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, tickMs - (Date.now() - tick))));
  }
  if (process.stdout.isTTY) process.stdout.write('\n');
  report(true);
  if (totals.httpErrors > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
