import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { emulatorClientConfig } from './emulator-client-config';
import { freePort } from './free-port';
import type { EmulatorOptions, RunningEmulator } from './running-emulator';

export interface KinesisEmulator extends RunningEmulator {
  /** The kinesis-local child process. */
  readonly pid: number;
}

const READY_DEADLINE_MS = 60_000;
const READY_POLL_MS = 100;
/**
 * On SIGTERM kinesis-local stops its periodic writes, waits up to 30 s for clients to close their keep-alive
 * sockets, then writes its state once more and exits; with no client connected that takes ~100 ms. Past the grace
 * period it is killed: with a dataDir the state was already written when stop() began (waitForPersistence), and
 * the grace is long enough that the kill does not land in the middle of that last write (the file is truncated and
 * rewritten in place, not replaced atomically).
 */
const TERMINATE_GRACE_MS = { persisting: 2_000, inMemory: 500 } as const;
const PERSIST_FILE_NAME = 'kinesis-data.json';
const PERSIST_INTERVAL_MS = 1_000;
const PORT_ATTEMPTS = 3;
const OUTPUT_TAIL_CHARS = 4_000;

/** kinesis-mock's defaults are 500 ms in CREATING, DELETING, UPDATING...; nothing here is worth waiting for. */
const INSTANT_TRANSITIONS = Object.fromEntries(
  [
    'CREATE_STREAM_DURATION',
    'DELETE_STREAM_DURATION',
    'UPDATE_SHARD_COUNT_DURATION',
    'SPLIT_SHARD_DURATION',
    'MERGE_SHARDS_DURATION',
    'REGISTER_STREAM_CONSUMER_DURATION',
    'DEREGISTER_STREAM_CONSUMER_DURATION',
    'START_STREAM_ENCRYPTION_DURATION',
    'STOP_STREAM_ENCRYPTION_DURATION',
    'UPDATE_STREAM_MODE_DURATION',
  ].map((name) => [name, '0ms']),
);

/**
 * Preloaded into the child: stdin is a pipe from this process, so it ends when this process dies, however it dies
 * (a SIGKILLed Jest worker or `npm start` runs no 'exit' handlers). The child then shuts itself down as if stopped,
 * persisting, and frees its ports.
 */
const ORPHAN_WATCHDOG =
  'data:text/javascript,' +
  encodeURIComponent(
    "process.stdin.on('end', () => { process.kill(process.pid, 'SIGTERM'); setTimeout(() => process.exit(1), 10000).unref(); });" +
      'process.stdin.resume();',
  );

/**
 * Kinesis via kinesis-local (kinesis-mock compiled to JavaScript, the engine LocalStack uses), as a child process:
 * it is a whole Scala.js runtime that configures itself from the environment and installs its own signal handlers.
 * With a dataDir it persists every second and on shutdown to dataDir/kinesis-data.json and reloads it on start.
 *
 * kinesis-local binds every interface (there is no setting for the host); the endpoint is on 127.0.0.1.
 */
export async function startKinesis(options: EmulatorOptions = {}): Promise<KinesisEmulator> {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(dataDir);
    } catch (error) {
      // freePort() cannot reserve the ports it hands out, so another process may have bound one first.
      if (!(error instanceof PortTakenError) || attempt === PORT_ATTEMPTS) throw error;
    }
  }
}

class PortTakenError extends Error {}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

async function startOnce(dataDir: string | undefined): Promise<KinesisEmulator> {
  const plainPort = await freePort();
  let tlsPort = await freePort();
  while (tlsPort === plainPort) tlsPort = await freePort();

  const child = spawn(process.execPath, ['--import', ORPHAN_WATCHDOG, 'main.js'], {
    // main.js finds its TLS certificate (server.json) relative to the working directory.
    cwd: dirname(require.resolve('kinesis-local/package.json')),
    env: { ...process.env, ...kinesisEnvironment(plainPort, tlsPort, dataDir) },
    stdio: 'pipe',
    // A process group of its own: Ctrl-C (SIGINT to the terminal's foreground group) and a `kill` of this process's
    // group reach this process, which stops the child in order (after the readers of the stream), never the child
    // first. However this process ends, ORPHAN_WATCHDOG still ends the child.
    detached: true,
  });
  const output = outputTail(child);
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((settle) => {
    child.once('error', (error) => settle((exit ??= { code: null, signal: null, error })));
    // 'close' rather than 'exit': it comes after the child's output has been read to the end.
    child.once('close', (code, signal) => settle((exit ??= { code, signal })));
  });
  // Covers a normal exit of this process without stop(); SIGTERM, so the child still persists.
  const terminateOnExit = () => child.kill('SIGTERM');
  process.on('exit', terminateOnExit);
  void exited.then(() => {
    process.off('exit', terminateOnExit);
    child.stdin.destroy();
  });

  const terminate = async (): Promise<void> => {
    if (exit !== undefined) return;
    child.kill('SIGTERM');
    const grace = dataDir === undefined ? TERMINATE_GRACE_MS.inMemory : TERMINATE_GRACE_MS.persisting;
    const kill = setTimeout(() => child.kill('SIGKILL'), grace);
    await exited;
    clearTimeout(kill);
  };

  const endpoint = `http://127.0.0.1:${plainPort}`;
  const persistFile = dataDir === undefined ? undefined : join(dataDir, PERSIST_FILE_NAME);
  try {
    await waitUntilAnswering(endpoint, persistFile, () => exit, exited, output);
  } catch (error) {
    await terminate();
    throw error;
  }

  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    // Defined: a child that failed to spawn never answers.
    pid: child.pid ?? Number.NaN,
    stop: () =>
      (stopped ??= (async () => {
        if (persistFile !== undefined) await waitForPersistence(persistFile, () => exit);
        await terminate();
      })()),
  };
}

function kinesisEnvironment(plainPort: number, tlsPort: number, dataDir: string | undefined): NodeJS.ProcessEnv {
  return {
    KINESIS_MOCK_PLAIN_PORT: String(plainPort),
    KINESIS_MOCK_TLS_PORT: String(tlsPort),
    // Stream ARNs embed these; an AWS_REGION inherited from the developer's shell must not leak in.
    AWS_REGION: 'us-east-1',
    AWS_ACCOUNT_ID: '000000000000',
    LOG_LEVEL: 'ERROR',
    ...INSTANT_TRANSITIONS,
    ...(dataDir === undefined
      ? // LOAD_DATA_IF_EXISTS defaults to true, with the data path relative to the package directory.
        { SHOULD_PERSIST_DATA: 'false', LOAD_DATA_IF_EXISTS: 'false' }
      : {
          SHOULD_PERSIST_DATA: 'true',
          LOAD_DATA_IF_EXISTS: 'true',
          PERSIST_PATH: dataDir,
          PERSIST_FILE_NAME,
          PERSIST_INTERVAL: `${PERSIST_INTERVAL_MS}ms`,
        }),
  };
}

/** Polls ListStreams with the real SDK client: the listening socket alone does not mean requests are served. */
async function waitUntilAnswering(
  endpoint: string,
  persistFile: string | undefined,
  exitOf: () => Exit | undefined,
  exited: Promise<Exit>,
  output: () => string,
): Promise<void> {
  const client = new KinesisClient({
    ...emulatorClientConfig(endpoint),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 2_000 }),
    maxAttempts: 1,
  });
  const deadline = Date.now() + READY_DEADLINE_MS;
  try {
    for (;;) {
      const probe = client.send(new ListStreamsCommand({})).then(
        () => true,
        () => false,
      );
      if (await Promise.race([probe, exited.then(() => false)])) return;
      const exit = exitOf();
      if (exit !== undefined) {
        const tail = output();
        const stateFile = persistFile === undefined ? '' : `; a damaged ${persistFile} also makes it exit at start`;
        const message = `kinesis-local exited (${describeExit(exit)}) before answering on ${endpoint}${stateFile}`;
        const ErrorType = /EADDRINUSE|Address already in use/.test(tail) ? PortTakenError : Error;
        throw new ErrorType(`${message}; its last output:\n${tail}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `kinesis-local did not answer on ${endpoint} within ${READY_DEADLINE_MS / 1000} s; its last output:\n${output()}`,
        );
      }
      await sleep(READY_POLL_MS);
    }
  } finally {
    client.destroy();
  }
}

/**
 * Waits until kinesis-local has written its state after stop() was called. SIGTERM also persists, but only once
 * every client has closed its keep-alive sockets, and callers cannot be relied on to destroy their clients first;
 * waiting for the periodic write (at most a second) makes everything acknowledged before stop() durable.
 */
async function waitForPersistence(file: string, exitOf: () => Exit | undefined): Promise<void> {
  const requestedAt = Date.now();
  const deadline = requestedAt + 3 * PERSIST_INTERVAL_MS;
  while (exitOf() === undefined && Date.now() < deadline) {
    const modifiedMs = await stat(file).then(
      (stats) => stats.mtimeMs,
      () => 0,
    );
    if (modifiedMs > requestedAt) {
      // The modification time moves when the write starts; the whole file takes a few milliseconds.
      await sleep(100);
      return;
    }
    await sleep(50);
  }
}

/** The last few thousand characters the child wrote to stdout and stderr, for error messages. */
function outputTail(child: ChildProcessWithoutNullStreams): () => string {
  let tail = '';
  const append = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  return () => tail.trim() || '(nothing)';
}

function describeExit(exit: Exit): string {
  if (exit.error !== undefined) return `failed to start: ${exit.error.message}`;
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
}
