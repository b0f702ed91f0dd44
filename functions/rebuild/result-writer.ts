import type { S3Client } from '@aws-sdk/client-s3';
import type { SqlCell } from '../core/batch-sql';
import { resultFileRows } from './result-files';

/** How far the writes of an exported result got: whole files, then lines of the next one. */
export interface ResultProgress {
  readonly filesDone: number;
  readonly linesDone: number;
  /** Rows written (or items, for a replay) so far. */
  readonly written: number;
}

export interface ResultWriterOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** The result's files, in the order progress counts them. */
  readonly files: readonly string[];
  readonly from: ResultProgress;
  /** Rows per write call; progress is saved after each. */
  readonly chunkRows: number;
  /** Writes a chunk of rows idempotently; returns how many count as written. */
  readonly write: (rows: readonly Readonly<Record<string, SqlCell>>[]) => Promise<number>;
  /** Records progress where the next invocation will find it (the manifest). */
  readonly save: (progress: ResultProgress) => Promise<void>;
  /** Whether this invocation should stop before the next chunk (its time is nearly up, or it was asked to). */
  readonly shouldStop: () => boolean;
}

/**
 * Writes an exported result chunk by chunk, saving progress after each chunk, from where the last invocation
 * stopped: the fan-out of DESIGN.md §6, in which no invocation needs to finish the whole result. A chunk written
 * again after a crash (before its progress was saved) is rewritten with the same content, which is harmless.
 * Returns the progress reached and whether every file is written.
 */
export async function writeResult(options: ResultWriterOptions): Promise<{ done: boolean; progress: ResultProgress }> {
  let progress = options.from;
  for (let file = progress.filesDone; file < options.files.length; file += 1) {
    let line = 0;
    let chunk: Readonly<Record<string, SqlCell>>[] = [];
    const flush = async () => {
      const written = await options.write(chunk);
      chunk = [];
      progress = { filesDone: file, linesDone: line, written: progress.written + written };
      await options.save(progress);
    };
    for await (const row of resultFileRows(options.s3, options.bucket, options.files[file])) {
      line += 1;
      if (line <= progress.linesDone) continue;
      if (chunk.length === 0 && options.shouldStop()) return { done: false, progress };
      chunk.push(row);
      if (chunk.length >= options.chunkRows) await flush();
    }
    if (chunk.length > 0) await flush();
    progress = { filesDone: file + 1, linesDone: 0, written: progress.written };
    await options.save(progress);
  }
  return { done: true, progress };
}
