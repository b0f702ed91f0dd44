/**
 * `npm start` stopped by npm's pid, as a supervisor, a CI script or a `&` job stops it: the runtime goes through its
 * own shutdown (the state is kept), kinesis-local and every other process it started end, and the port is free.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canRollUp } from '../../functions/core/granularity';
import { freePort } from '../../local/emulators';
import { exampleEvent } from '../../local/event-traffic';
import { localPipelineConfig } from '../../local/local-config';
import { eventually } from '../support/eventually';

const root = join(__dirname, '..', '..');
const config = localPipelineConfig({}, root);
const [view] = config.views;
const event = exampleEvent(config.schema);
const granularity = canRollUp(view.granularity, 'hour') ? 'hour' : view.granularity;
/** Starting the runtime takes a few seconds, stopping it about one; these only turn a hang into a failure. */
const DEADLINE_MS = 90_000;

let dataDir: string;
let port: number;
/** Processes a failed test left running, so that it still leaves none behind. */
const stragglers = new Set<number>();

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'start-shutdown-'));
  port = await freePort();
});

afterEach(() => {
  for (const pid of [...stragglers].flatMap(processTree)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  stragglers.clear();
});

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface RunningStart {
  readonly npm: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly api: string;
  readonly output: () => string;
}

/** `npm start` on the shared data directory and port, as a user types it; resolves once the API answers. */
async function npmStart(): Promise<RunningStart> {
  const npm = spawn('npm', ['start', '--', '--port', String(port), '--data-dir', dataDir], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (npm.pid !== undefined) stragglers.add(npm.pid);
  let output = '';
  const append = (chunk: Buffer) => (output += chunk.toString('utf8'));
  npm.stdout?.on('data', append);
  npm.stderr?.on('data', append);
  // 'close': npm has exited and so has the runtime, which shares npm's output pipes, and all output has been read.
  const exited = new Promise<Exit>((resolve) => npm.once('close', (code, signal) => resolve({ code, signal })));
  const api = `http://127.0.0.1:${port}`;
  await eventually(
    'npm start to answer on its port',
    async () => {
      if (npm.exitCode !== null || npm.signalCode !== null) throw new Error(`npm start exited early:\n${output}`);
      const status = await fetch(`${api}/_local/status`).then(
        (response) => response.status,
        () => undefined,
      );
      return status === 200 ? true : undefined;
    },
    DEADLINE_MS,
  );
  return { npm, exited, api, output: () => output };
}

interface ProcessEntry {
  readonly pid: number;
  readonly parent: number;
  readonly zombie: boolean;
  readonly commandLine: string;
}

/** Every process on the machine, from `ps` (Linux and macOS alike). */
function processes(): ProcessEntry[] {
  return execFileSync('ps', ['-A', '-o', 'pid=,ppid=,stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(\S+)\s*(.*)$/))
    .flatMap((match) =>
      match === null
        ? []
        : [
            {
              pid: Number(match[1]),
              parent: Number(match[2]),
              zombie: match[3].startsWith('Z'),
              commandLine: match[4],
            },
          ],
    );
}

/** npm and everything under it: the runtime, kinesis-local (in a process group of its own), esbuild. */
function processTree(pid: number): number[] {
  const all = processes();
  const tree = [pid];
  for (let index = 0; index < tree.length; index++) {
    for (const entry of all) if (entry.parent === tree[index] && !entry.zombie) tree.push(entry.pid);
  }
  return tree;
}

/** What is still running of `pids`, or of anything naming the data directory; empty once all is stopped. */
function leftOver(pids: readonly number[]): string[] {
  return processes()
    .filter((entry) => !entry.zombie && (pids.includes(entry.pid) || entry.commandLine.includes(dataDir)))
    .map((entry) => `${entry.pid} ${entry.commandLine}`);
}

function portIsFree(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Sends `signal` to npm's pid only, then waits until npm has exited and nothing it started remains. */
async function stopWith(running: RunningStart, signal: NodeJS.Signals): Promise<Exit> {
  const tree = processTree(running.npm.pid ?? Number.NaN);
  for (const pid of tree) stragglers.add(pid);
  // npm itself, the runtime, kinesis-local: at least.
  expect(tree.length).toBeGreaterThanOrEqual(3);
  running.npm.kill(signal);
  await eventually(
    `every process of npm start to end after ${signal}`,
    () => (leftOver(tree).length === 0 ? true : undefined),
    DEADLINE_MS,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; still running:\n${leftOver(tree).join('\n')}\n${running.output()}`);
  });
  stragglers.clear();
  const exit = await running.exited;
  expect(await portIsFree()).toBe(true);
  return exit;
}

async function viewCount(api: string): Promise<number> {
  const parameters = new URLSearchParams({ granularity });
  for (const dimension of view.dimensions) parameters.set(dimension, String(event[dimension]));
  const answer = (await (await fetch(`${api}/views/${view.name}?${parameters}`)).json()) as {
    series: { buckets: { count: number }[] }[];
  };
  return answer.series.flatMap((series) => series.buckets).reduce((total, bucket) => total + bucket.count, 0);
}

describe('npm start, stopped by a signal to npm', () => {
  it('stops the runtime, kinesis-local and every process it started on SIGTERM, and frees the port', async () => {
    const running = await npmStart();
    const posted = await fetch(`${running.api}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
    });
    expect(posted.status).toBe(200);
    await eventually('the event in the realtime view', async () =>
      (await viewCount(running.api)) === 1 ? true : undefined,
    );

    expect(await stopWith(running, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(running.output()).toContain(`stopped; state kept in ${dataDir}`);
  });

  it('does the same on SIGINT, and the state from before the SIGTERM is still there', async () => {
    const running = await npmStart();
    expect(await viewCount(running.api)).toBe(1);

    expect(await stopWith(running, 'SIGINT')).toEqual({ code: 0, signal: null });
    expect(running.output()).toContain(`stopped; state kept in ${dataDir}`);
  });

  it('stops cleanly when npm itself dies of a signal it does not forward (SIGHUP)', async () => {
    const running = await npmStart();
    expect(await viewCount(running.api)).toBe(1);

    expect(await stopWith(running, 'SIGHUP')).toEqual({ code: null, signal: 'SIGHUP' });
    expect(running.output()).toContain(`stopped; state kept in ${dataDir}`);
  });
});
