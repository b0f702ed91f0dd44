import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AggregateKey } from '../core/fold';
import { mergeAllMeasures, type Measures } from '../core/measures';
import {
  extremeUpdatesFor,
  readRealtimeItem,
  realtimeExpiresAt,
  realtimeUpdateRequest,
  UnreadableRealtimeItemError,
  type UpdateItemRequest,
  type WatermarkCondition,
} from '../core/realtime-update';
import { FIRST_GENERATION } from '../core/generation-manifest';
import { realtimeItemKey } from '../core/storage-keys';
import type { StoredMeasure } from '../core/view-declaration';
import type { StoredAttributes } from '../core/aggregate-attributes';
import { RealtimeItemHint, type RealtimeItemHintLimits } from './realtime-item-hint';
import { isRejectedContentError, retryPolicy, withRetries, type RetryPolicy } from './retry-policy';

/** One record's part of a realtime item, with the record's position in its shard. */
export interface Contribution {
  readonly position: string;
  readonly measures: Measures;
}

/** Everything one Lambda batch adds to one realtime item (view, dimension key, bucket, epoch). */
export interface RealtimeItemWrite {
  readonly key: AggregateKey;
  /** The view's stored measures besides the count. */
  readonly stored: readonly StoredMeasure[];
  /** The shard the batch came from: its watermark is the one this write checks and moves. */
  readonly shardId: string;
  /** The lowest position in the Lambda batch: a first attempt applies only if the watermark is below it. */
  readonly batchFirstPosition: string;
  /** This batch's records in the item. On a failed condition only those above the stored watermark are written. */
  readonly contributions: readonly Contribution[];
  /** @default the store's generation */
  readonly generation?: number;
}

export type RealtimeWriteResult =
  /** Records of this batch were added to the item. */
  | { readonly status: 'written'; readonly conditionalRetries: number }
  /** A previous delivery had already added every record of this batch to the item. */
  | { readonly status: 'already-applied'; readonly conditionalRetries: number }
  /** Not written: the batch must report a failure at or below this item's lowest contribution. */
  | { readonly status: 'failed'; readonly conditionalRetries: number; readonly error: unknown };

export interface RealtimeViewStoreOptions {
  /** Built with maxAttempts 1: the store's retry policy is the only one (see retry-policy.ts). */
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly epochLengthMs: number;
  /**
   * How long an item outlives its epoch, or null for items that never expire: in Kappa mode the realtime views are
   * the only views, so the served generation must stay.
   */
  readonly realtimeRetentionMs: number | null;
  /** No item expires before this time, epoch ms: a replay backfilling old epochs in Lambda mode sets it. @default none */
  readonly notExpiringBeforeMs?: number;
  /** @default DEFAULT_RETRY_POLICY */
  readonly retry?: Partial<RetryPolicy>;
  /** Compare-and-set attempts after a failed condition, before the item is given up for the batch. @default 8 */
  readonly maxConditionalAttempts?: number;
  /**
   * How many items, and how many bytes of them, the store remembers what it last saw stored in, so that first
   * attempts assume right (realtime-item-hint.ts). @default DEFAULT_ITEM_HINT_LIMITS
   */
  readonly itemHint?: Partial<RealtimeItemHintLimits>;
  /** @default FIRST_GENERATION */
  readonly generation?: number;
}

/**
 * Writes realtime items with the idempotent protocol of DESIGN.md §4. A first attempt adds the whole batch's delta
 * on condition that the shard's watermark is below the batch's first position, assuming the item holds what this
 * container last saw in it (the item hint). If the condition fails (a redelivery overlaps work already applied, or
 * the assumed min, max or replaced attribute no longer holds because another shard wrote the item), the item is read
 * with a strongly consistent read, the delta is recomputed from only the records above the stored watermark, and
 * written with a compare-and-set on that watermark and on what the read found, a bounded number of times. count and
 * sum are ADDed, so other shards' concurrent writes to the same item commute with this one; min, max and the
 * replaced attributes are compared, so concurrent writes to them serialise (realtime-update.ts isReplaced).
 */
export class RealtimeViewStore {
  private readonly retry: RetryPolicy;
  private readonly maxConditionalAttempts: number;
  private readonly generation: number;
  private readonly hint: RealtimeItemHint;

  constructor(private readonly options: RealtimeViewStoreOptions) {
    this.retry = retryPolicy(options.retry);
    this.maxConditionalAttempts = options.maxConditionalAttempts ?? 8;
    this.generation = options.generation ?? FIRST_GENERATION;
    this.hint = new RealtimeItemHint(options.itemHint);
  }

  /** Never throws: a write that could not be completed is a value, so the caller can report it per item. */
  async write(write: RealtimeItemWrite): Promise<RealtimeWriteResult> {
    const generation = write.generation ?? this.generation;
    const { pk, sk } = realtimeItemKey(write.key, generation);
    const itemId = `${pk}\u0000${sk}`;
    let conditionalRetries = 0;
    try {
      const whole = deltaAbove(write.contributions, null);
      if (whole === undefined) return { status: 'already-applied', conditionalRetries };
      let request = this.request(
        write,
        generation,
        whole,
        { below: write.batchFirstPosition },
        this.hint.known(itemId, write.stored),
      );
      for (;;) {
        const written = await this.conditionalUpdate(request);
        if (written !== undefined) {
          this.hint.remember(itemId, written, write.stored);
          return { status: 'written', conditionalRetries };
        }
        if (conditionalRetries >= this.maxConditionalAttempts) {
          throw new Error(
            `the item's condition still failed after ${conditionalRetries} compare-and-set attempts ` +
              '(other shards keep changing its min, max or sketches between the read and the write)',
          );
        }
        conditionalRetries += 1;
        const item = await this.read(pk, sk);
        const stored = readRealtimeItem(item, write.shardId, write.stored);
        this.hint.remember(itemId, item, write.stored);
        const delta = deltaAbove(write.contributions, stored.watermark);
        if (delta === undefined) return { status: 'already-applied', conditionalRetries };
        request = this.request(write, generation, delta, { equals: stored.watermark }, stored.measures);
      }
    } catch (error) {
      return { status: 'failed', conditionalRetries, error };
    }
  }

  /** The request for a delta, assuming the item holds `known`: its min and max decide keep or replace. */
  private request(
    write: RealtimeItemWrite,
    generation: number,
    delta: Delta,
    condition: WatermarkCondition,
    known: Measures,
  ): UpdateItemRequest {
    return realtimeUpdateRequest({
      key: write.key,
      generation,
      stored: write.stored,
      delta: delta.measures,
      shardId: write.shardId,
      watermark: delta.watermark,
      condition,
      extremes: extremeUpdatesFor(known, delta.measures, write.stored),
      known,
      expiresAt: this.expiresAt(write.key),
    });
  }

  private expiresAt(key: AggregateKey): number | undefined {
    const { realtimeRetentionMs, epochLengthMs, notExpiringBeforeMs } = this.options;
    if (realtimeRetentionMs === null) return undefined;
    return Math.max(
      realtimeExpiresAt(key, epochLengthMs, realtimeRetentionMs),
      Math.ceil((notExpiringBeforeMs ?? 0) / 1000),
    );
  }

  /** The item's updated attributes, or undefined when the condition failed. */
  private async conditionalUpdate(request: UpdateItemRequest): Promise<StoredAttributes | undefined> {
    try {
      const output = await withRetries(this.retry, (abortSignal) =>
        this.options.client.send(
          new UpdateItemCommand({ TableName: this.options.tableName, ...request, ReturnValues: 'UPDATED_NEW' }),
          { abortSignal },
        ),
      );
      return output.Attributes ?? {};
    } catch (error) {
      if ((error as { name?: unknown }).name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
  }

  private async read(pk: string, sk: string): Promise<StoredAttributes | undefined> {
    const output = await withRetries(this.retry, (abortSignal) =>
      this.options.client.send(
        new GetItemCommand({
          TableName: this.options.tableName,
          Key: { pk: { S: pk }, sk: { S: sk } },
          // A stale read could show a watermark older than the one the failed condition saw, and re-add records.
          ConsistentRead: true,
        }),
        { abortSignal },
      ),
    );
    return output.Item;
  }
}

interface Delta {
  readonly measures: Measures;
  /** The highest position among the records in the delta: the item's new watermark for the shard. */
  readonly watermark: string;
}

/**
 * The delta of the contributions above a stored watermark (null: none stored), or undefined when there are none:
 * everything at or below the watermark was applied by an earlier delivery, because a shard's records reach an
 * item in position order and a watermark moves only with the records below it.
 */
export function deltaAbove(contributions: readonly Contribution[], watermark: string | null): Delta | undefined {
  const parts: Measures[] = [];
  let highest: string | undefined;
  for (const contribution of contributions) {
    if (watermark !== null && contribution.position <= watermark) continue;
    parts.push(contribution.measures);
    if (highest === undefined || contribution.position > highest) highest = contribution.position;
  }
  return highest === undefined ? undefined : { measures: mergeAllMeasures(parts), watermark: highest };
}

/**
 * Whether a failed write is about the item rather than the table or the network, so that retrying it can never
 * succeed: DynamoDB refused its content (a ValidationException, such as an item that would pass 400 KB), or the
 * stored item cannot be compared with (UnreadableRealtimeItemError). The speed layer sets such items' records aside.
 */
export function isRefusedItemError(error: unknown): boolean {
  return isRejectedContentError(error) || error instanceof UnreadableRealtimeItemError;
}
