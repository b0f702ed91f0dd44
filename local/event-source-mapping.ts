import type { KinesisClient, _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { MemoryCheckpointStore, type CheckpointStore } from './checkpoint-store';
import { InterruptibleSleep } from './interruptible-sleep';
import { toLambdaEvent } from './kinesis-lambda-event';
import { listShardIds, ShardReader } from './shard-reader';

export type KinesisBatchHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | void>;

/** What the event source mapping sends to its on-failure destination: the batch's coordinates, not its records. */
export interface DiscardedBatch {
  readonly condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly batchSize: number;
  readonly approximateArrivalOfFirstRecord: string;
  readonly approximateArrivalOfLastRecord: string;
  readonly streamArn: string;
}

export interface EventSourceMappingOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly streamArn: string;
  readonly handler: KinesisBatchHandler;
  /** @default 100 */
  readonly batchSize?: number;
  /** How long to gather records before invoking with a partial batch. @default 1000 */
  readonly batchingWindowMs?: number;
  /** Retries of a failing batch before it is discarded to the on-failure destination. @default 3 */
  readonly maxRetryAttempts?: number;
  /** Records older than this (by arrival) are discarded. @default 24 hours */
  readonly maxRecordAgeMs?: number;
  /** @default true */
  readonly bisectBatchOnError?: boolean;
  readonly onFailure?: (batch: DiscardedBatch) => Promise<void> | void;
  readonly checkpoints?: CheckpointStore;
  /** Idle poll interval per shard. @default 250 */
  readonly pollIntervalMs?: number;
  /** Pause before retrying a failed batch. @default 200 */
  readonly retryDelayMs?: number;
  readonly onError?: (error: unknown) => void;
  readonly now?: () => number;
}

/**
 * A local stand-in for Lambda's Kinesis event source mapping, faithful to what the speed layer relies on:
 * TRIM_HORIZON start, per-shard ordering (one batch in flight per shard: parallelization factor 1), batch size and
 * batching window, `batchItemFailures` checkpointing (records below the reported sequence number are done; the
 * retry starts at it), bisect on a thrown error (halves do not count as retries), bounded retries and record age,
 * and an on-failure record of what was discarded. A malformed failure report counts as a failed batch, as in AWS.
 */
export class KinesisEventSourceMapping {
  private readonly options: Required<Omit<EventSourceMappingOptions, 'onFailure' | 'onError'>> &
    Pick<EventSourceMappingOptions, 'onFailure' | 'onError'>;
  private running = false;
  private readonly shardLoops = new Map<string, Promise<void>>();
  private discovery: Promise<void> | undefined;
  private readonly sleeper = new InterruptibleSleep();
  private invocations = 0;
  /**
   * Per shard, the arrival time of the last record of the latest batch handed to the handler; deleted while the
   * shard is caught up (its last read found nothing new and nothing waits for the handler).
   */
  private readonly latestArrivalByShard = new Map<string, number>();

  constructor(options: EventSourceMappingOptions) {
    this.options = {
      batchSize: 100,
      batchingWindowMs: 1000,
      maxRetryAttempts: 3,
      maxRecordAgeMs: 24 * 3_600_000,
      bisectBatchOnError: true,
      checkpoints: new MemoryCheckpointStore(),
      pollIntervalMs: 250,
      retryDelayMs: 200,
      now: Date.now,
      ...options,
    };
  }

  /** How many times the handler has been invoked: tests use it to wait for progress. */
  get invocationCount(): number {
    return this.invocations;
  }

  /**
   * As Lambda's IteratorAge metric: the largest, over shards, of how long ago the last record of the latest batch
   * handed to the handler arrived; a caught-up shard counts 0, so an idle stream does not look ever further behind.
   */
  iteratorAgeMs(nowMs: number): number {
    let oldest = 0;
    for (const arrivalMs of this.latestArrivalByShard.values()) oldest = Math.max(oldest, nowMs - arrivalMs);
    return oldest;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.discovery = this.discoverShards();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.sleeper.wakeAll();
    await this.discovery;
    await Promise.all(this.shardLoops.values());
    this.shardLoops.clear();
  }

  private async discoverShards(): Promise<void> {
    while (this.running) {
      try {
        for (const shardId of await listShardIds(this.options.kinesis, this.options.streamName)) {
          if (!this.shardLoops.has(shardId)) this.shardLoops.set(shardId, this.pollShard(shardId));
        }
      } catch (error) {
        this.options.onError?.(error);
      }
      await this.sleep(10_000);
    }
  }

  private async pollShard(shardId: string): Promise<void> {
    const { kinesis, streamName, checkpoints } = this.options;
    const reader = new ShardReader(kinesis, streamName, shardId, checkpoints.get(shardId));
    const buffer: KinesisRecord[] = [];
    // Sizes of the bisected halves still to process, smallest-first on top; empty means normal batches.
    const pendingHalves: number[] = [];
    let attempts = 0;
    let windowStart: number | undefined;
    while (this.running) {
      try {
        if (buffer.length < this.options.batchSize) {
          buffer.push(...(await reader.read(this.options.batchSize - buffer.length)));
        }
        if (buffer.length === 0) {
          // Caught up: a batch that is retrying keeps its records in the buffer, so its shard's age keeps growing.
          this.latestArrivalByShard.delete(shardId);
          await this.sleep(this.options.pollIntervalMs);
          continue;
        }
        windowStart ??= this.options.now();
        const windowOpen = this.options.now() - windowStart < this.options.batchingWindowMs;
        if (pendingHalves.length === 0 && buffer.length < this.options.batchSize && windowOpen) {
          await this.sleep(Math.min(this.options.pollIntervalMs, this.options.batchingWindowMs));
          continue;
        }
        windowStart = undefined;

        const expired = this.leadingExpired(buffer);
        if (expired > 0) {
          const discarded = buffer.splice(0, expired);
          await this.discard('RecordAgeExceeded', shardId, discarded);
          checkpoints.set(shardId, discarded[discarded.length - 1].SequenceNumber ?? '');
          continue;
        }

        const size = Math.min(pendingHalves.at(-1) ?? this.options.batchSize, buffer.length);
        const batch = buffer.slice(0, size);
        const outcome = await this.invoke(batch, shardId);
        if (outcome.kind === 'succeeded') {
          buffer.splice(0, size);
          checkpoints.set(shardId, batch[size - 1].SequenceNumber ?? '');
          if (pendingHalves.length > 0) pendingHalves.pop();
          attempts = 0;
          continue;
        }
        if (outcome.kind === 'partial') {
          // Everything below the reported record is done: checkpoint it and retry from the reported record.
          const done = outcome.failedIndex;
          if (done > 0) {
            buffer.splice(0, done);
            checkpoints.set(shardId, batch[done - 1].SequenceNumber ?? '');
            attempts = 0;
          }
          if (pendingHalves.length > 0) pendingHalves[pendingHalves.length - 1] = size - done;
        } else if (this.options.bisectBatchOnError && size > 1) {
          // Splitting does not count towards the retry quota (as in AWS).
          if (pendingHalves.length > 0) pendingHalves.pop();
          pendingHalves.push(size - Math.ceil(size / 2), Math.ceil(size / 2));
          continue;
        }
        attempts += 1;
        if (attempts > this.options.maxRetryAttempts) {
          const failedSize = outcome.kind === 'partial' ? size - outcome.failedIndex : size;
          const discarded = buffer.splice(0, failedSize);
          await this.discard('RetryAttemptsExhausted', shardId, discarded);
          checkpoints.set(shardId, discarded[discarded.length - 1].SequenceNumber ?? '');
          if (pendingHalves.length > 0) pendingHalves.pop();
          attempts = 0;
          continue;
        }
        await this.sleep(this.options.retryDelayMs);
      } catch (error) {
        this.options.onError?.(error);
        await this.sleep(this.options.retryDelayMs);
      }
    }
  }

  private async invoke(
    batch: readonly KinesisRecord[],
    shardId: string,
  ): Promise<{ kind: 'succeeded' } | { kind: 'partial'; failedIndex: number } | { kind: 'failed' }> {
    this.invocations += 1;
    const lastArrival = batch[batch.length - 1].ApproximateArrivalTimestamp;
    if (lastArrival !== undefined) this.latestArrivalByShard.set(shardId, lastArrival.getTime());
    let response: KinesisStreamBatchResponse | void;
    try {
      response = await this.options.handler(toLambdaEvent(batch, { streamArn: this.options.streamArn, shardId }));
    } catch (error) {
      this.options.onError?.(error);
      return { kind: 'failed' };
    }
    const failures = response?.batchItemFailures ?? [];
    if (failures.length === 0) return { kind: 'succeeded' };
    const indexes = failures.map((failure) =>
      batch.findIndex((record) => record.SequenceNumber === failure.itemIdentifier),
    );
    // An identifier that is missing or not in the batch makes Lambda treat the whole batch as failed.
    if (indexes.some((index) => index < 0)) return { kind: 'failed' };
    return { kind: 'partial', failedIndex: Math.min(...indexes) };
  }

  private leadingExpired(buffer: readonly KinesisRecord[]): number {
    const oldest = this.options.now() - this.options.maxRecordAgeMs;
    const index = buffer.findIndex((record) => (record.ApproximateArrivalTimestamp?.getTime() ?? Infinity) >= oldest);
    return index < 0 ? buffer.length : index;
  }

  private async discard(
    condition: DiscardedBatch['condition'],
    shardId: string,
    records: readonly KinesisRecord[],
  ): Promise<void> {
    const first = records[0];
    const last = records[records.length - 1];
    await this.options.onFailure?.({
      condition,
      shardId,
      startSequenceNumber: first.SequenceNumber ?? '',
      endSequenceNumber: last.SequenceNumber ?? '',
      batchSize: records.length,
      approximateArrivalOfFirstRecord: (first.ApproximateArrivalTimestamp ?? new Date(0)).toISOString(),
      approximateArrivalOfLastRecord: (last.ApproximateArrivalTimestamp ?? new Date(0)).toISOString(),
      streamArn: this.options.streamArn,
    });
  }

  private sleep(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }
}
