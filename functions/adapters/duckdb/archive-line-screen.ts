import { isUtf8 } from 'node:buffer';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { jsonShapeProblem } from '../../core/event-limits';

/**
 * What keeps one line of the master dataset from being read as an event before any column is looked at, or
 * undefined: bytes that are not UTF-8, text that is not a JSON object, or a shape the event rules refuse anywhere in
 * it, extra fields included (a lone surrogate in any string or key, nesting deeper than the limit: jsonShapeProblem,
 * the check ingest and the Firehose transform apply). These are the rules no SQL column can show, and the first two
 * are lines DuckDB's read_json cannot read at all. Every other rule is the batch SQL's (batch-sql.ts), so that Athena
 * and DuckDB decide it with the same text.
 */
export function archiveLineProblem(line: Buffer): string | undefined {
  if (!isUtf8(line)) return 'line: not valid UTF-8';
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return 'line: malformed JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'line: expected a JSON object';
  return jsonShapeProblem(value);
}

export interface ScreenedFile {
  /** The file to read: the original when every line passed, otherwise a plain copy of the lines that did. */
  readonly path: string;
  /** Lines left out, by reason. */
  readonly refused: ReadonlyMap<string, number>;
}

/**
 * Screens one downloaded file of the master dataset with archiveLineProblem. A file whose lines all pass is kept as
 * it is (the usual case: one read, no write); otherwise the passing lines are written to a plain copy beside it and
 * the original is removed. Blank lines are neither refused nor kept: DuckDB skips them too. A gzip stream that breaks
 * off fails the screen, as it fails Athena's reader: S3 objects are written whole, so that is not a line's problem.
 */
export async function screenArchiveFile(path: string): Promise<ScreenedFile> {
  const refused = new Map<string, number>();
  const refusedLines = new Set<number>();
  let index = 0;
  for await (const line of linesOf(path)) {
    const problem = isBlank(line) ? undefined : archiveLineProblem(line);
    if (problem !== undefined) {
      refused.set(problem, (refused.get(problem) ?? 0) + 1);
      refusedLines.add(index);
    }
    index += 1;
  }
  if (refusedLines.size === 0) return { path, refused };
  const screened = path.replace(/\.json(\.gz)?$/, '') + '.screened.json';
  await pipelineAsync(Readable.from(passingLines(path, refusedLines)), createWriteStream(screened));
  await rm(path, { force: true });
  return { path: screened, refused };
}

async function* passingLines(path: string, refused: ReadonlySet<number>): AsyncGenerator<Buffer> {
  let index = 0;
  for await (const line of linesOf(path)) {
    if (!refused.has(index) && !isBlank(line)) yield Buffer.concat([line, NEWLINE]);
    index += 1;
  }
}

const NEWLINE = Buffer.from('\n');

/**
 * The file's lines as bytes, split on `\n` as DuckDB's newline-delimited reader splits them (a line keeps a `\r`
 * before its `\n`, which JSON reads as white space), gunzipped when the file is named `.gz`.
 */
async function* linesOf(path: string): AsyncGenerator<Buffer> {
  const input: Readable = path.endsWith('.gz')
    ? pipeline(createReadStream(path), createGunzip(), () => undefined)
    : createReadStream(path);
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const data = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
    let start = 0;
    for (let end = data.indexOf(0x0a, start); end !== -1; end = data.indexOf(0x0a, start)) {
      yield data.subarray(start, end);
      start = end + 1;
    }
    rest = data.subarray(start);
  }
  if (rest.length > 0) yield rest;
}

/** Only JSON's white space (space, tab, CR): stops at the first other byte, which is almost always the first. */
function isBlank(line: Buffer): boolean {
  for (const byte of line) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  }
  return true;
}
