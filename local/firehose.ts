import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { KinesisClient, _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type {
  FirehoseTransformationEvent,
  FirehoseTransformationEventRecord,
  FirehoseTransformationResult,
} from 'aws-lambda';
import { MemoryCheckpointStore, type CheckpointStore } from './checkpoint-store';
import { InterruptibleSleep } from './interruptible-sleep';
import { listShardIds, ShardReader } from './shard-reader';

export type FirehoseTransform = (event: FirehoseTransformationEvent) => Promise<FirehoseTransformationResult>;

export interface FirehoseOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly streamArn: string;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly transform: FirehoseTransform;
  /** @default 'local-archive' */
  readonly deliveryStreamName?: string;
  /** Dynamic-partitioning prefix; `{dt}` and `{hour}` come from the transform's partition keys. @default 'events/dt={dt}/hour={hour}/' */
  readonly prefix?: string;
  /** @default 'errors/' */
  readonly errorPrefix?: string;
  /** Flush when this much data is buffered. @default 1 MiB */
  readonly bufferSizeBytes?: number;
  /** Flush when the oldest buffered record is this old. @default 5000 */
  readonly bufferIntervalMs?: number;
  /** Attempts at invoking the transform before its records go to the error prefix. @default 3 */
  readonly transformAttempts?: number;
  readonly checkpoints?: CheckpointStore;
  /** @default 250 */
  readonly pollIntervalMs?: number;
  readonly onError?: (error: unknown) => void;
}

/** Data in one transform invocation: Firehose's processor buffer (it invokes with at most 6 MB). */
const MAX_INVOCATION_BYTES = 1_048_576;

interface BufferedRecord {
  readonly shardId: string;
  readonly record: KinesisRecord;
}

/**
 * A local stand-in for a Firehose delivery stream with a Kinesis source, a transform Lambda and dynamic
 * partitioning, faithful to what the batch layer relies on: it buffers by size and time, invokes the transform
 * with the real event shape (kinesisRecordMetadata included), writes the `Ok` records as GZIP objects under the
 * partition prefix the transform chose, and writes `ProcessingFailed` records (and those of a transform that keeps
 * failing) under the error prefix in Firehose's error-record format. Delivery is at least once: shards are
 * checkpointed only after the objects are written, so a crash can archive a record twice, as Firehose can.
 */
export class FirehoseStandIn {
  private readonly options: Required<Omit<FirehoseOptions, 'onError'>> & Pick<FirehoseOptions, 'onError'>;
  private readonly buffer: BufferedRecord[] = [];
  private bufferedBytes = 0;
  private oldestBufferedAt: number | undefined;
  private readonly readers = new Map<string, ShardReader>();
  private running = false;
  private loop: Promise<void> | undefined;
  private flushing: Promise<number> = Promise.resolve(0);
  private readonly sleeper = new InterruptibleSleep();
  private delivered = 0;

  constructor(options: FirehoseOptions) {
    this.options = {
      deliveryStreamName: 'local-archive',
      prefix: 'events/dt={dt}/hour={hour}/',
      errorPrefix: 'errors/',
      bufferSizeBytes: 1_048_576,
      bufferIntervalMs: 5000,
      transformAttempts: 3,
      checkpoints: new MemoryCheckpointStore(),
      pollIntervalMs: 250,
      ...options,
    };
  }

  /** Records written to S3 so far (archived and failed). */
  get deliveredCount(): number {
    return this.delivered;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.sleeper.wakeAll();
    await this.loop;
    await this.flush();
  }

  /**
   * Reads what the stream holds now and delivers everything buffered, whatever the buffering hints say: what a
   * test or the local batch scheduler uses to stand for "the buffer interval has passed".
   */
  async drain(): Promise<number> {
    await this.readAll();
    return this.flush();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const read = await this.readAll();
        const age = this.oldestBufferedAt === undefined ? 0 : Date.now() - this.oldestBufferedAt;
        if (this.bufferedBytes >= this.options.bufferSizeBytes || age >= this.options.bufferIntervalMs) {
          await this.flush();
        }
        if (read === 0) await this.sleeper.sleep(this.options.pollIntervalMs);
      } catch (error) {
        this.options.onError?.(error);
        await this.sleeper.sleep(this.options.pollIntervalMs);
      }
    }
  }

  private async readAll(): Promise<number> {
    const { kinesis, streamName, checkpoints } = this.options;
    for (const shardId of await listShardIds(kinesis, streamName)) {
      if (!this.readers.has(shardId)) {
        this.readers.set(shardId, new ShardReader(kinesis, streamName, shardId, checkpoints.get(shardId)));
      }
    }
    let read = 0;
    for (const reader of this.readers.values()) {
      const records = await reader.read(10_000);
      for (const record of records) {
        this.buffer.push({ shardId: reader.shardId, record });
        this.bufferedBytes += record.Data?.length ?? 0;
      }
      if (records.length > 0) this.oldestBufferedAt ??= Date.now();
      read += records.length;
    }
    return read;
  }

  /** Delivers the buffer; flushes are serialised so checkpoints only ever move forward. */
  private flush(): Promise<number> {
    this.flushing = this.flushing.then(() => this.deliver());
    return this.flushing;
  }

  private async deliver(): Promise<number> {
    const batch = this.buffer.splice(0, this.buffer.length);
    this.bufferedBytes = 0;
    this.oldestBufferedAt = undefined;
    if (batch.length === 0) return 0;
    try {
      for (const chunk of chunksBySize(batch, MAX_INVOCATION_BYTES)) await this.deliverChunk(chunk);
    } catch (error) {
      // Put the records back, in order, so the next flush retries them and no checkpoint skips them.
      this.buffer.unshift(...batch);
      this.bufferedBytes += batch.reduce((total, item) => total + (item.record.Data?.length ?? 0), 0);
      this.oldestBufferedAt ??= Date.now();
      throw error;
    }
    const lastPerShard = new Map<string, string>();
    for (const { shardId, record } of batch) lastPerShard.set(shardId, record.SequenceNumber ?? '');
    for (const [shardId, sequenceNumber] of lastPerShard) this.options.checkpoints.set(shardId, sequenceNumber);
    this.delivered += batch.length;
    return batch.length;
  }

  private async deliverChunk(chunk: readonly BufferedRecord[]): Promise<void> {
    const records = chunk.map(({ shardId, record }, index) => toFirehoseRecord(shardId, record, index));
    const event: FirehoseTransformationEvent = {
      invocationId: randomUUID(),
      deliveryStreamArn: `arn:aws:firehose:us-east-1:000000000000:deliverystream/${this.options.deliveryStreamName}`,
      sourceKinesisStreamArn: this.options.streamArn,
      region: 'us-east-1',
      records,
    };
    const result = await this.invokeTransform(event);
    const byId = new Map((result?.records ?? []).map((record) => [record.recordId, record]));
    const partitions = new Map<string, Buffer[]>();
    const failed: { record: FirehoseTransformationEventRecord; message: string }[] = [];
    for (const record of records) {
      const outcome = byId.get(record.recordId);
      if (outcome === undefined) {
        failed.push({
          record,
          message:
            result === undefined ? 'The transform kept failing.' : 'The transform returned no result for the record.',
        });
      } else if (outcome.result === 'Ok') {
        const keys = outcome.metadata?.partitionKeys ?? {};
        const prefix = this.options.prefix.replace(/\{(\w+)\}/g, (_, name: string) => keys[name] ?? `missing-${name}`);
        const parts = partitions.get(prefix) ?? [];
        parts.push(Buffer.from(outcome.data ?? '', 'base64'));
        partitions.set(prefix, parts);
      } else if (outcome.result === 'ProcessingFailed') {
        failed.push({ record, message: 'The Lambda function returned ProcessingFailed for the record.' });
      }
      // 'Dropped' records are dropped on purpose, as in Firehose.
    }
    const now = new Date();
    for (const [prefix, parts] of partitions) {
      await this.put(`${prefix}${this.objectName(now)}.gz`, gzipSync(Buffer.concat(parts)));
    }
    if (failed.length > 0) {
      const lines = failed.map(({ record, message }) =>
        JSON.stringify({
          attemptsMade: this.options.transformAttempts,
          arrivalTimestamp: record.approximateArrivalTimestamp,
          errorCode: 'Lambda.ProcessingFailed',
          errorMessage: message,
          attemptEndingTimestamp: now.getTime(),
          rawData: record.data,
          lambdaArn: 'arn:aws:lambda:us-east-1:000000000000:function:local-firehose-transform',
        }),
      );
      const day = now.toISOString().slice(0, 10);
      await this.put(
        `${this.options.errorPrefix}processing-failed/dt=${day}/${this.objectName(now)}`,
        Buffer.from(lines.join('\n') + '\n'),
      );
    }
  }

  private async invokeTransform(event: FirehoseTransformationEvent): Promise<FirehoseTransformationResult | undefined> {
    for (let attempt = 1; attempt <= this.options.transformAttempts; attempt += 1) {
      try {
        return await this.options.transform(event);
      } catch (error) {
        this.options.onError?.(error);
      }
    }
    return undefined;
  }

  private objectName(now: Date): string {
    const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '-');
    return `${this.options.deliveryStreamName}-1-${stamp}-${randomUUID()}`;
  }

  private async put(key: string, body: Buffer): Promise<void> {
    await this.options.s3.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: body }));
  }
}

function toFirehoseRecord(shardId: string, record: KinesisRecord, index: number): FirehoseTransformationEventRecord {
  const arrival = (record.ApproximateArrivalTimestamp ?? new Date()).getTime();
  return {
    recordId: `${String(index).padStart(8, '0')}-${record.SequenceNumber ?? ''}`,
    approximateArrivalTimestamp: arrival,
    data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
    kinesisRecordMetadata: {
      shardId,
      partitionKey: record.PartitionKey ?? '',
      approximateArrivalTimestamp: arrival,
      sequenceNumber: record.SequenceNumber ?? '',
      subsequenceNumber: '0',
    },
  };
}

function chunksBySize<T extends BufferedRecord>(items: readonly T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const bytes = item.record.Data?.length ?? 0;
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
