import { mkdtemp, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { fromArchivedEvent, type StreamRecord } from '../core/stream-record';
import { downloadMasterDataset, type MasterDatasetDownloadOptions } from './master-dataset-download';

export interface MasterDatasetRecords {
  readonly records: StreamRecord[];
  readonly objects: number;
  readonly bytes: number;
  /**
   * Lines that are not a valid archived record, by reason (none, unless the rules changed since they were
   * archived: the master dataset is append-only, so such lines are skipped and counted, never fatal).
   */
  readonly invalidLines: ReadonlyMap<string, number>;
}

/**
 * Every record of the master dataset that passes `keep`, read back as the records the speed layer folds: the
 * replay's input. Objects are streamed to a temporary directory first, then read line by line (gzip or plain).
 */
export async function readMasterDatasetRecords(
  options: Omit<MasterDatasetDownloadOptions, 'directory'> & { readonly eventTimeSkewMs: number },
  keep: (record: StreamRecord) => boolean,
): Promise<MasterDatasetRecords> {
  const directory = await mkdtemp(join(tmpdir(), 'master-dataset-'));
  try {
    const downloaded = await downloadMasterDataset({ ...options, directory });
    const records: StreamRecord[] = [];
    const invalidLines = new Map<string, number>();
    const skip = (reason: string) => invalidLines.set(reason, (invalidLines.get(reason) ?? 0) + 1);
    for (const file of downloaded.files) {
      let input: Readable = createReadStream(file);
      if (file.endsWith('.gz')) input = input.pipe(createGunzip());
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        if (line.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          skip('line: malformed JSON');
          continue;
        }
        const parsed = fromArchivedEvent(value, options.eventTimeSkewMs);
        if (!parsed.ok) skip(parsed.reason);
        else if (keep(parsed.record)) records.push(parsed.record);
      }
    }
    return { records, objects: downloaded.objects, bytes: downloaded.bytes, invalidLines };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
