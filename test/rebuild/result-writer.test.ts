import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SqlCell } from '../../functions/core/batch-sql';
import { resultFileRows } from '../../functions/rebuild/result-files';
import { writeResult, type ResultProgress } from '../../functions/rebuild/result-writer';
import { emulatorClientConfig, startS3, type RunningEmulator } from '../../local/emulators';
import { ensureBucket } from '../../local/provision';

let emulator: RunningEmulator;
let s3: S3Client;
const bucket = 'results';

/** Rows with a random part, so that gzip cannot shrink a file below the socket's first chunk. */
const rowsOf = (file: number, count: number) =>
  Array.from({ length: count }, (_, line) => ({ file, line, noise: randomBytes(12).toString('hex') }));
const jsonLines = (rows: readonly object[]) => rows.map((row) => JSON.stringify(row)).join('\n') + '\n';

beforeAll(async () => {
  emulator = await startS3();
  s3 = new S3Client(emulatorClientConfig(emulator.endpoint));
  await ensureBucket(s3, bucket);
});
afterAll(async () => {
  s3.destroy();
  await emulator.stop();
});

async function put(key: string, body: Buffer | string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

async function readAll(key: string): Promise<Record<string, SqlCell>[]> {
  const rows: Record<string, SqlCell>[] = [];
  for await (const row of resultFileRows(s3, bucket, key)) rows.push({ ...row });
  return rows;
}

describe('result files and their chunked, resumable writes (s3rver)', () => {
  it('reads every row of a gzip file far larger than one socket read, and of a plain one', async () => {
    const large = rowsOf(0, 20_000);
    const gzipped = gzipSync(jsonLines(large));
    expect(gzipped.length).toBeGreaterThan(256 * 1024);
    await put('large.json.gz', gzipped);
    await put('plain', jsonLines(rowsOf(1, 3)));
    await put('empty', '');
    expect(await readAll('large.json.gz')).toEqual(large);
    expect((await readAll('plain')).map((row) => row.line)).toEqual([0, 1, 2]);
    expect(await readAll('empty')).toEqual([]);
  });

  it('writes each row once across invocations that stop between chunks, going on from the saved progress', async () => {
    const files = ['part-0.json.gz', 'part-1.json.gz', 'part-2.json.gz'];
    const sizes = [7, 0, 11];
    for (const [index, key] of files.entries())
      await put(key, gzipSync(sizes[index] === 0 ? '' : jsonLines(rowsOf(index, sizes[index]))));
    const written: string[] = [];
    let saved: ResultProgress = { filesDone: 0, linesDone: 0, written: 0 };
    let invocations = 0;
    for (let done = false; !done;) {
      invocations += 1;
      let chunksThisInvocation = 0;
      const result = await writeResult({
        s3,
        bucket,
        files,
        from: saved,
        chunkRows: 3,
        // Each invocation has time for two chunks.
        shouldStop: () => chunksThisInvocation >= 2,
        write: async (rows) => {
          chunksThisInvocation += 1;
          written.push(...rows.map((row) => `${String(row.file)}:${String(row.line)}`));
          return rows.length;
        },
        save: async (progress) => {
          saved = progress;
        },
      });
      done = result.done;
      expect(result.progress).toEqual(saved);
      expect(invocations).toBeLessThan(20);
    }
    const expected = sizes.flatMap((size, file) => Array.from({ length: size }, (_, line) => `${file}:${line}`));
    expect(written).toEqual(expected);
    expect(saved).toEqual({ filesDone: 3, linesDone: 0, written: 18 });
    expect(invocations).toBeGreaterThan(2);
  });
});
