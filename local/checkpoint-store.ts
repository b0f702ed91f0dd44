import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Where a stream consumer remembers, per shard, the last sequence number it has finished with, so that a restart
 * resumes instead of re-reading from TRIM_HORIZON (as Lambda's event source mapping and Firehose do).
 */
export interface CheckpointStore {
  get(shardId: string): string | undefined;
  set(shardId: string, sequenceNumber: string): void;
}

export class MemoryCheckpointStore implements CheckpointStore {
  private readonly checkpoints = new Map<string, string>();

  get(shardId: string): string | undefined {
    return this.checkpoints.get(shardId);
  }

  set(shardId: string, sequenceNumber: string): void {
    this.checkpoints.set(shardId, sequenceNumber);
  }
}

/** Checkpoints in a JSON file, written atomically (temp file, then rename) so a crash never leaves half a file. */
export class FileCheckpointStore implements CheckpointStore {
  private readonly checkpoints: Record<string, string>;

  constructor(private readonly file: string) {
    try {
      this.checkpoints = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    } catch {
      this.checkpoints = {};
    }
  }

  get(shardId: string): string | undefined {
    return this.checkpoints[shardId];
  }

  set(shardId: string, sequenceNumber: string): void {
    this.checkpoints[shardId] = sequenceNumber;
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(`${this.file}.tmp`, JSON.stringify(this.checkpoints, null, 2));
    renameSync(`${this.file}.tmp`, this.file);
  }
}
