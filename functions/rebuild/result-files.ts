import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SqlCell } from '../core/batch-sql';

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * The rows of one result file an engine exported (BatchQuerySession.exportTo), streamed: gzip or plain JSON lines,
 * one object per row keyed by column name. Only one line is held at a time, so a file of any size fits a Lambda.
 */
export async function* resultFileRows(
  s3: S3Client,
  bucket: string,
  key: string,
): AsyncGenerator<Readonly<Record<string, SqlCell>>> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = response.Body;
  if (body === undefined) return;
  const raw = body instanceof Readable ? body : Readable.from(Buffer.from(await body.transformToByteArray()));
  // One iterator over the body for the peek and the rest: breaking out of a stream's own `for await` destroys it.
  const chunks = raw[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  const first = await chunks.next();
  if (first.done === true) return;
  const head = Buffer.from(first.value);
  const bytes = Readable.from(
    (async function* () {
      yield head;
      for (let next = await chunks.next(); next.done !== true; next = await chunks.next())
        yield Buffer.from(next.value);
    })(),
  );
  // Athena names its files without an extension, and DuckDB's are gzip too: the content says which.
  const gzip = head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  let input: Readable = bytes;
  if (gzip) {
    const gunzip = createGunzip();
    // pipe() does not pass the source's errors on: a broken download must fail the read, not hang it.
    bytes.on('error', (error) => gunzip.destroy(error));
    input = bytes.pipe(gunzip);
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.trim() === '') continue;
      yield JSON.parse(line) as Record<string, SqlCell>;
    }
  } finally {
    lines.close();
    input.destroy();
    raw.destroy();
  }
}
