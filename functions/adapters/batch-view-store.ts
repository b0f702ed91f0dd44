import {
  BatchWriteItemCommand,
  GetItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue } from '../core/aggregate-attributes';
import {
  batchViewStateFromItem,
  manifestKey,
  MANIFEST_KINDS,
  type BatchViewState,
  type ManifestFlipRequest,
} from '../core/manifest';
import { backoffDelayMs, isRejectedContentError, retryPolicy, withRetries, type RetryPolicy } from './retry-policy';
import { describeError } from '../core/error-description';

/** BatchWriteItem's limit of items per request. */
export const BATCH_WRITE_LIMIT = 25;

export interface BatchViewStoreOptions {
  readonly client: DynamoDBClient;
  readonly batchTable: string;
  readonly manifestTable: string;
  /**
   * Retries of throttled and transient requests, and the bound on rounds of UnprocessedItems per request.
   * @default 8 attempts, backoff from 100 ms up to 5 s
   */
  readonly retry?: Partial<RetryPolicy>;
  /** BatchWriteItem requests in flight. @default 8 */
  readonly concurrency?: number;
}

/** An item DynamoDB refused for what it holds: `index` is its position in the items given to writeItems. */
export interface RefusedItem {
  readonly index: number;
  /** The error DynamoDB gave for the item written alone, e.g. `ValidationException: Size of hashkey has exceeded…`. */
  readonly reason: string;
}

export interface WriteItemsResult {
  /** Items set aside because DynamoDB refuses them (each was tried alone); every other item is written. */
  readonly refused: readonly RefusedItem[];
}

/** BatchWriteItem kept leaving items unprocessed (capacity, not content): the write as a whole failed. */
export class UnprocessedItemsError extends Error {
  constructor(
    readonly unprocessed: number,
    readonly total: number,
    readonly attempts: number,
  ) {
    super(`BatchWriteItem left ${unprocessed} of ${total} items unprocessed after ${attempts} attempts`);
    this.name = 'UnprocessedItemsError';
  }
}

/**
 * Writes batch rows and moves the manifest (DESIGN.md §6). A window's rows and a rebuild's base live under their own
 * keys, written before the manifest serves them; a retry rewrites the same keys with the same content.
 */
export class BatchViewStore {
  private readonly retry: RetryPolicy;
  private readonly concurrency: number;

  constructor(private readonly options: BatchViewStoreOptions) {
    // A batch job can wait for capacity longer than a speed-layer batch can: it has minutes, not seconds.
    const overrides = Object.fromEntries(
      Object.entries(options.retry ?? {}).filter(([, value]) => value !== undefined),
    );
    this.retry = retryPolicy({ maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5_000, ...overrides });
    this.concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new Error('batch view store: concurrency must be a positive integer');
    }
  }

  /**
   * Writes items with BatchWriteItem, 25 per request and `concurrency` requests at a time, retrying unprocessed
   * items with backoff up to the retry bound. DynamoDB refuses a whole request for one invalid item, so a request
   * that fails for an item's content (isRejectedContentError) is written again one item at a time: the items refused alone
   * are set aside and returned, the others are written (defence in depth: the batch SQL already skips rows that
   * break the event rules, DESIGN.md §4). On any other failure no further request starts; the ones in flight
   * finish, and the error is thrown.
   */
  async writeItems(items: readonly Record<string, AttributeValue>[]): Promise<WriteItemsResult> {
    const chunks: number[][] = [];
    for (let start = 0; start < items.length; start += BATCH_WRITE_LIMIT) {
      chunks.push(
        Array.from({ length: Math.min(BATCH_WRITE_LIMIT, items.length - start) }, (_, offset) => start + offset),
      );
    }
    const refused: RefusedItem[] = [];
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (failure === undefined && next < chunks.length) {
        const chunk = chunks[next];
        next += 1;
        try {
          refused.push(...(await this.writeChunkSettingAside(items, chunk)));
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, chunks.length) }, worker));
    if (failure !== undefined) throw failure.error;
    // One rule for every item is the table's, not the rows' (a key schema that does not match): serving an empty
    // version would lose the view, so the write fails instead and the served version stays.
    if (items.length > 1 && refused.length === items.length) {
      throw new Error(`the table refused every one of ${items.length} items, the first with ${refused[0].reason}`);
    }
    return { refused: refused.sort((a, b) => a.index - b.index) };
  }

  private async writeChunkSettingAside(
    items: readonly Record<string, AttributeValue>[],
    indices: readonly number[],
  ): Promise<RefusedItem[]> {
    try {
      await this.writeChunk(indices.map((index) => items[index]));
      return [];
    } catch (error) {
      if (!isRejectedContentError(error)) throw error;
    }
    const refused: RefusedItem[] = [];
    for (const index of indices) {
      try {
        await this.writeChunk([items[index]]);
      } catch (error) {
        if (!isRejectedContentError(error)) throw error;
        refused.push({ index, reason: describeError(error) });
      }
    }
    return refused;
  }

  private async writeChunk(items: readonly Record<string, AttributeValue>[]): Promise<void> {
    const table = this.options.batchTable;
    let pending: WriteRequest[] = items.map((Item) => ({ PutRequest: { Item } }));
    for (let round = 1; ; round += 1) {
      const requests = pending;
      const response = await withRetries(this.retry, (abortSignal) =>
        this.options.client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }), { abortSignal }),
      );
      pending = response.UnprocessedItems?.[table] ?? [];
      if (pending.length === 0) return;
      if (round >= this.retry.maxAttempts) {
        throw new UnprocessedItemsError(pending.length, items.length, round);
      }
      await this.retry.sleep(backoffDelayMs(this.retry, round));
    }
  }

  /**
   * Applies one of the manifest's conditional writes (core/manifest.ts): true if it was applied, false if its
   * condition did not hold (another run got there first; the caller reads the state again and decides).
   */
  async updateManifest(request: ManifestFlipRequest): Promise<boolean> {
    try {
      await withRetries(this.retry, (abortSignal) =>
        this.options.client.send(new UpdateItemCommand({ TableName: this.options.manifestTable, ...request }), {
          abortSignal,
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** The view's batch state, read consistently: what is served, the pending window, a rebuild in progress. */
  async state(view: string): Promise<BatchViewState> {
    const { Item } = await withRetries(this.retry, (abortSignal) =>
      this.options.client.send(
        new GetItemCommand({
          TableName: this.options.manifestTable,
          Key: manifestKey(view, MANIFEST_KINDS.batch),
          ConsistentRead: true,
        }),
        { abortSignal },
      ),
    );
    return batchViewStateFromItem(view, Item);
  }
}
