import type { Server } from 'node:http';
import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that the OS considered free a moment ago. The port is released before this resolves, so
 * another process may take it first: code that can bind port 0 itself should do that instead, and code that passes
 * the number to a child process must cope with EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = address !== null && typeof address === 'object' ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('no TCP port was assigned')) : resolve(port)));
    });
  });
}

/**
 * How long an emulator keeps an idle keep-alive connection open: longer than a client keeps one (the SDK's agent drops
 * idle sockets within seconds), so the client always closes first. With Node's default of 5 s, a client could send a
 * request on a socket the server was closing at that moment and get ECONNRESET, more often the busier the machine.
 */
const KEEP_ALIVE_MS = 65_000;

/**
 * Binds an HTTP server to port 0 on 127.0.0.1 and resolves with the port the OS gave it: unlike freePort(), nothing
 * can take the port between choosing and binding it.
 */
export function listenOnLoopback(server: Server, what: string): Promise<number> {
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      if (address !== null && typeof address === 'object') resolve(address.port);
      else reject(new Error(`${what} did not get a TCP port`));
    });
  });
}
