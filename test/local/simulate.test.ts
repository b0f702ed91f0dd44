import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseEvent } from '../../functions/core/event-schema';
import { runTsxScript, type ScriptRun } from '../support/tsx-script';

/** The environment without API_URL and API_KEY, which would change simulate's defaults. */
function withoutApiSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { API_URL: _url, API_KEY: _key, ...rest } = env;
  return rest;
}

/** `npm run simulate` as its npm script runs it (tsx), without the shell npm adds. */
function simulate(args: string[]): Promise<ScriptRun> {
  return runTsxScript('local/simulate.ts', args, withoutApiSettings({ ...process.env, NO_COLOR: '1' }));
}

function listen(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<Server> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;
const close = (server: Server) => new Promise((resolve) => server.close(resolve));

/** A port nobody listens on: one the system handed out and that was closed again. */
async function freePort(): Promise<number> {
  const server = await listen(() => undefined);
  const port = portOf(server);
  await close(server);
  return port;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of request) text += (chunk as Buffer).toString();
  return text;
}

const lines = (text: string) => text.split('\n').filter((line) => line !== '');

describe('npm run simulate', () => {
  it('with nothing listening at --url, says so in one line on stderr and exits 1', async () => {
    const port = await freePort();
    const run = await simulate(['--url', `http://127.0.0.1:${port}`, '--duration', '1']);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual([
      `nothing answers at http://127.0.0.1:${port}: start the pipeline with \`npm start\``,
    ]);
  }, 60_000);

  it('ends with a summary and a curl of a key the API accepted, on the URL it posted to', async () => {
    // A stand-in for the ingest API: the real event rules, every valid event accepted, no /_local/status.
    const acceptedKeys = new Set<string>();
    const api = await listen((request, response) => {
      void (async () => {
        if (request.method !== 'POST' || request.url !== '/events') {
          response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not found"}');
          return;
        }
        const events = JSON.parse(await bodyOf(request)) as unknown[];
        const results = events.map((event, index) => {
          const parsed = parseEvent(event, { arrivalMs: Date.now(), eventTimeSkewMs: 3_600_000 });
          if (!parsed.ok) return { index, status: 'rejected', errors: parsed.errors };
          acceptedKeys.add(`deviceId=${String(parsed.event.deviceId)}&metric=${String(parsed.event.metric)}`);
          return { index, status: 'accepted' };
        });
        response.writeHead(207, { 'content-type': 'application/json' }).end(JSON.stringify({ results }));
      })();
    });
    try {
      const url = `http://127.0.0.1:${portOf(api)}`;
      const run = await simulate(['--url', `${url}/`, '--rate', '40', '--duration', '2', '--invalid', '0.3']);
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
      const output = lines(run.stdout);
      const summary = output.findIndex((line) => line.startsWith('done: sent '));
      expect(summary).toBeGreaterThan(0);
      expect(output[summary]).toMatch(/^done: sent [\d,]+ of 80 events in [\d.]+ s, [\d.]+\/s \(asked for 40\/s\)/);
      expect(output).toContainEqual(expect.stringMatching(/^ {2}accepted {2}[\d,]+, of which [\d,]+ late/));
      expect(output).toContainEqual(expect.stringMatching(/^ {2}rejected {2}[\d,]+, by reason:$/));
      expect(output).toContainEqual(expect.stringMatching(/^ {4}[\d,]+ {2}\w+: /));
      const curl = output.at(-1) ?? '';
      const query = /^ {2}curl -s '(.*)\/views\/device_metric_minute\?(.*)'$/.exec(curl);
      expect(query?.[1]).toBe(url);
      expect(acceptedKeys).toContain(query?.[2]);
    } finally {
      await close(api);
    }
  }, 60_000);

  it('stops at once when the API refuses the request itself (a missing API key), and exits 1', async () => {
    const api = await listen((_request, response) => {
      response.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Forbidden"}');
    });
    try {
      const run = await simulate(['--url', `http://127.0.0.1:${portOf(api)}`, '--duration', '600']);
      expect(run.status).toBe(1);
      const output = lines(run.stdout);
      expect(output).toContainEqual(expect.stringMatching(/^stopped \(.*refused the request with HTTP 403\): sent /));
      expect(output).toContainEqual(
        expect.stringMatching(/^ {2}no answer [\d,]+ \(1 request failed; first: HTTP 403: Forbidden\)$/),
      );
    } finally {
      await close(api);
    }
  }, 60_000);
});
