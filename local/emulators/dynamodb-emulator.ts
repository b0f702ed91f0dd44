import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import dynalite from 'dynalite';
import type { EmulatorOptions, RunningEmulator } from './running-emulator';
import { listenOnLoopback } from './free-port';

/**
 * DynamoDB via dynalite, in this process. With a dataDir the tables live in LevelDB there, otherwise in memory.
 * Tables become ACTIVE at once: waiting out dynalite's default 500 ms per table only slows tests down.
 */
export async function startDynamoDb(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: options.dataDir });
  const port = await listenOnLoopback(server, 'dynalite');
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => (stopped ??= close(server)),
  };
}

/** dynalite's close() waits for pending database operations and closes LevelDB, which releases its lock. */
function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
