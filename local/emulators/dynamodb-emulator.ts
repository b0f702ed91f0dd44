import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import dynalite from 'dynalite';
import type { EmulatorOptions, RunningEmulator } from './running-emulator';

/**
 * DynamoDB via dynalite, in this process. With a dataDir the tables live in LevelDB there, otherwise in memory.
 * Tables become ACTIVE at once: waiting out dynalite's default 500 ms per table only slows tests down.
 */
export async function startDynamoDb(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: options.dataDir });
  const port = await listenOnLoopback(server);
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => (stopped ??= close(server)),
  };
}

/** Port 0 directly rather than freePort(): nothing can take the port between choosing and binding it. */
function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      if (address !== null && typeof address === 'object') resolve(address.port);
      else reject(new Error('dynalite did not get a TCP port'));
    });
  });
}

/** dynalite's close() waits for pending database operations and closes LevelDB, which releases its lock. */
function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
