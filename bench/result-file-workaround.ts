import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';

/**
 * A workaround for a bug in functions/rebuild/result-files.ts, which the benches do not change: resultFileRows peeks
 * at a body's first bytes with `for await ... break`, and breaking out of a stream's async iterator destroys the
 * stream, so a result file longer than the first chunk read from the socket (about 64 KB of GZIP) aborts the
 * response and the process dies on an unhandled 'error' event (ECONNRESET, "aborted"). Here each GetObject body
 * iterates with `destroyOnReturn: false`, so the peek leaves it open and the rest is read as intended; the rows read
 * are the same, and nothing measured changes. Remove it once result-files.ts peeks without destroying the body.
 */
export function keepBodiesOpenAfterBreak(client: S3Client): S3Client {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const body = (result.output as { Body?: unknown }).Body;
      if (context.commandName === 'GetObjectCommand' && body instanceof Readable) {
        Object.defineProperty(body, Symbol.asyncIterator, {
          value: () => body.iterator({ destroyOnReturn: false }),
        });
      }
      return result;
    },
    { step: 'initialize', name: 'keepBodiesOpenAfterBreak' },
  );
  return client;
}
