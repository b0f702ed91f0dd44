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
  /** The clock the buffer's age is read on, against the records' arrival times. @default Date.now */
  readonly now?: () => number;
  readonly onError?: (error: unknown) => void;
}

/** Data in one transform invocation: Firehose's processor buffer (it invokes with at most 6 MB). */
const MAX_INVOCATION_BYTES = 1_048_576;
/** Records asked for per GetRecords call. */
const READ_LIMIT = 10_000;
/**
 * kinesis-local answers GetRecords with every record after the iterator up to the limit, 10 MB or the shard's tip,
 * and a record is at most 1 MiB: a page under the limit and under this size therefore stopped at the tip.
 */
const FULL_PAGE_BYTES = 8 * 1_048_576;
/** kinesis-local's shard iterators expire five minutes after they were issued, as Kinesis's do. */
const ITERATOR_LIFETIME_MS = 5 * 60_000;

interface BufferedRecord {
  readonly shardId: string;
  readonly record: KinesisRecord;
  /** The record's ApproximateArrivalTimestamp: what the buffer's age and archivedThroughMs are measured by. */
  readonly arrivalMs: number;
}

/** What the stand-in knows of one shard's progress. */
interface ShardProgress {
  readonly reader: ShardReader;
  /** When the latest read that reached the shard's tip was sent; undefined after a read that did not, or failed. */
  lastTipReadSentAt?: number;
  /** Every record of the shard that arrived before this time has been read: it is buffered or delivered. */
  readThroughMs?: number;
}

/**
 * A local stand-in for a Firehose delivery stream with a Kinesis source, a transform Lambda and dynamic
 * partitioning, faithful to what the batch layer relies on: it buffers by size and time, invokes the transform
 * with the real event shape (kinesisRecordMetadata included), writes the `Ok` records as GZIP objects under the
 * partition prefix the transform chose, and writes `ProcessingFailed` records (and those of a transform that keeps
 * failing) under the error prefix in Firehose's error-record format. Delivery is at least once: shards are
 * checkpointed only after the objects are written, so a crash can archive a record twice, as Firehose can.
 *
 * It also knows how far it has archived (archivedThroughMs), which the local runtime bounds the batch cutoff by:
 * in AWS the cutoff rule trusts Firehose to deliver within its buffer interval, locally that is checked instead.
 */
export class FirehoseStandIn {
  private readonly options: Required<Omit<FirehoseOptions, 'onError'>> & Pick<FirehoseOptions, 'onError'>;
  private readonly buffer: BufferedRecord[] = [];
  private bufferedBytes = 0;
  private oldestBufferedArrivalMs: number | undefined;
  /** The records of the delivery in progress: read, not yet known to be in S3. */
  private delivering: readonly BufferedRecord[] = [];
  private readonly shards = new Map<string, ShardProgress>();
  private running = false;
  private loop: Promise<void> | undefined;
  /** Reads are serialised: the loop and drain() share each shard's iterator and its tip-read history. */
  private reading: Promise<unknown> = Promise.resolve();
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
      now: Date.now,
      ...options,
    };
  }

  /** Records written to S3 so far (archived and failed). */
  get deliveredCount(): number {
    return this.delivered;
  }

  /**
   * An arrival time T such that every record that arrived on the stream before T is in S3 (under its partition,
   * or under the error prefix): the latest time every shard has been read through, held below the oldest record
   * still buffered or being delivered. Undefined until every shard has been read to its tip (catchUp() does that).
   */
  get archivedThroughMs(): number | undefined {
    if (this.shards.size === 0) return undefined;
    let through = Infinity;
    for (const shard of this.shards.values()) {
      if (shard.readThroughMs === undefined) return undefined;
      through = Math.min(through, shard.readThroughMs);
    }
    for (const { arrivalMs } of this.delivering) through = Math.min(through, arrivalMs);
    return Math.min(through, this.oldestBufferedArrivalMs ?? Infinity);
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
   * test or a forced batch run uses to stand for "the buffer interval has passed". Afterwards every record that
   * arrived before the call is in S3. Returns the records delivered meanwhile.
   */
  async drain(): Promise<number> {
    const deliveredBefore = this.delivered;
    await this.catchUp();
    await this.flush();
    return this.delivered - deliveredBefore;
  }

  /**
   * Reads every shard to its tip, flushing by the buffering hints on the way: afterwards every record that arrived
   * before the call has been read, and archivedThroughMs is defined.
   */
  async catchUp(): Promise<void> {
    const since = Date.now();
    while (!this.readThrough(since)) {
      await this.readShards();
      await this.flushIfDue();
    }
  }

  private readThrough(timeMs: number): boolean {
    if (this.shards.size === 0) return false;
    for (const shard of this.shards.values()) if ((shard.readThroughMs ?? -Infinity) < timeMs) return false;
    return true;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const read = await this.readShards();
        await this.flushIfDue();
        if (read === 0) await this.sleeper.sleep(this.options.pollIntervalMs);
      } catch (error) {
        this.options.onError?.(error);
        await this.sleeper.sleep(this.options.pollIntervalMs);
      }
    }
  }

  /**
   * The buffer's age counts from the oldest buffered record's arrival, not from when it was read: a record is then
   * in S3 within the buffer interval of its arrival (plus a poll), which is what the batch cutoff rule assumes.
   */
  private async flushIfDue(): Promise<void> {
    const oldest = this.oldestBufferedArrivalMs;
    const aged = oldest !== undefined && this.options.now() - oldest >= this.options.bufferIntervalMs;
    if (aged || this.bufferedBytes >= this.options.bufferSizeBytes) await this.flush();
  }

  /** One read of every shard, after any read in progress; returns the records read. */
  private readShards(): Promise<number> {
    const pass = this.reading.then(async () => {
      const { kinesis, streamName, checkpoints } = this.options;
      for (const shardId of await listShardIds(kinesis, streamName)) {
        if (!this.shards.has(shardId)) {
          this.shards.set(shardId, {
            reader: new ShardReader(kinesis, streamName, shardId, checkpoints.get(shardId)),
          });
        }
      }
      let read = 0;
      for (const [shardId, shard] of this.shards) read += await this.readShard(shardId, shard);
      return read;
    });
    this.reading = pass.catch(() => undefined);
    return pass;
  }

  /**
   * Reads one page of a shard into the buffer. When this read and the one before it both reached the shard's tip,
   * every record that arrived before the earlier one was sent has been read. One tip read alone would not prove it:
   * kinesis-local stamps a record's arrival and then appends it, so a read can come between the two, and
   * ShardReader answers an expired iterator with an empty page too. A record stamped before the earlier read was
   * sent is appended by the time the later read (sent after the earlier one's answer) is served; and within an
   * iterator's lifetime, the later read's iterator cannot have expired.
   */
  private async readShard(shardId: string, shard: ShardProgress): Promise<number> {
    const sentAt = Date.now();
    let records: KinesisRecord[];
    try {
      records = await shard.reader.read(READ_LIMIT);
    } catch (error) {
      shard.lastTipReadSentAt = undefined;
      throw error;
    }
    let pageBytes = 0;
    for (const record of records) {
      const arrivalMs = record.ApproximateArrivalTimestamp?.getTime() ?? Date.now();
      this.buffer.push({ shardId, record, arrivalMs });
      this.bufferedBytes += record.Data?.length ?? 0;
      this.oldestBufferedArrivalMs = Math.min(this.oldestBufferedArrivalMs ?? Infinity, arrivalMs);
      pageBytes += (record.Data?.length ?? 0) + Buffer.byteLength(record.PartitionKey ?? '');
    }
    if (records.length >= READ_LIMIT || pageBytes >= FULL_PAGE_BYTES) {
      shard.lastTipReadSentAt = undefined;
    } else {
      const previous = shard.lastTipReadSentAt;
      if (previous !== undefined && Date.now() - previous < ITERATOR_LIFETIME_MS) {
        shard.readThroughMs = Math.max(shard.readThroughMs ?? previous, previous);
      }
      shard.lastTipReadSentAt = sentAt;
    }
    return records.length;
  }

  /**
   * Delivers the buffer; flushes are serialised so checkpoints only ever move forward. A failed delivery is its
   * caller's to report: the next flush retries its records rather than inheriting its rejection, which would stop
   * archiving (and, through archivedThroughMs, every later batch cutoff) for good.
   */
  private flush(): Promise<number> {
    const delivery = this.flushing.catch(() => 0).then(() => this.deliver());
    this.flushing = delivery;
    return delivery;
  }

  private async deliver(): Promise<number> {
    const batch = this.buffer.splice(0, this.buffer.length);
    this.bufferedBytes = 0;
    this.oldestBufferedArrivalMs = undefined;
    if (batch.length === 0) return 0;
    this.delivering = batch;
    try {
      for (const chunk of chunksBySize(batch, MAX_INVOCATION_BYTES)) await this.deliverChunk(chunk);
    } catch (error) {
      // Put the records back, in order, so the next flush retries them and no checkpoint skips them.
      this.buffer.unshift(...batch);
      this.bufferedBytes += batch.reduce((total, item) => total + (item.record.Data?.length ?? 0), 0);
      this.oldestBufferedArrivalMs = this.buffer.reduce((oldest, item) => Math.min(oldest, item.arrivalMs), Infinity);
      throw error;
    } finally {
      this.delivering = [];
    }
    const lastPerShard = new Map<string, string>();
    for (const { shardId, record } of batch) lastPerShard.set(shardId, record.SequenceNumber ?? '');
    for (const [shardId, sequenceNumber] of lastPerShard) this.options.checkpoints.set(shardId, sequenceNumber);
    this.delivered += batch.length;
    return batch.length;
  }

  private async deliverChunk(chunk: readonly BufferedRecord[]): Promise<void> {
    const records = chunk.map(({ shardId, record, arrivalMs }, index) =>
      toFirehoseRecord(shardId, record, arrivalMs, index),
    );
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

function toFirehoseRecord(
  shardId: string,
  record: KinesisRecord,
  arrival: number,
  index: number,
): FirehoseTransformationEventRecord {
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
