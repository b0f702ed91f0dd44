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
  // Peek at the first bytes: Athena names its files without an extension, and DuckDB's are gzip too.
  const chunks: Buffer[] = [];
  let head = Buffer.alloc(0);
  for await (const chunk of raw) {
    chunks.push(Buffer.from(chunk as Uint8Array));
    head = Buffer.concat(chunks);
    if (head.length >= GZIP_MAGIC.length) break;
  }
  const rest = Readable.from(
    (async function* () {
      yield head;
      for await (const chunk of raw) yield Buffer.from(chunk as Uint8Array);
    })(),
  );
  const gzip = head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  const lines = createInterface({ input: gzip ? rest.pipe(createGunzip()) : rest, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    yield JSON.parse(line) as Record<string, SqlCell>;
  }
}
