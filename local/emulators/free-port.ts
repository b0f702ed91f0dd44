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
