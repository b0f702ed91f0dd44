import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  UpdateItemCommand,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue } from '../core/aggregate-attributes';
import { batchManifestFlip, type BatchManifest } from '../core/manifest';
import { backoffDelayMs, retryPolicy, withRetries, type RetryPolicy } from './retry-policy';

/** BatchWriteItem's limit of items per request. */
const BATCH_WRITE_LIMIT = 25;

export interface BatchViewStoreOptions {
  readonly client: DynamoDBClient;
  readonly batchTable: string;
  readonly manifestTable: string;
  readonly retry?: Partial<RetryPolicy>;
}

/**
 * Writes batch view versions and flips the manifest. A version's items are written under their own keys before
 * the flip, so readers keep seeing the previous version until the conditional flip makes the new one served.
 */
export class BatchViewStore {
  private readonly retry: RetryPolicy;

  constructor(private readonly options: BatchViewStoreOptions) {
    this.retry = retryPolicy(options.retry);
  }

  /** Writes items with BatchWriteItem, 25 at a time, retrying unprocessed items with backoff until a bound. */
  async writeItems(items: readonly Record<string, AttributeValue>[]): Promise<void> {
    for (let start = 0; start < items.length; start += BATCH_WRITE_LIMIT) {
      let pending: WriteRequest[] = items
        .slice(start, start + BATCH_WRITE_LIMIT)
        .map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 1; pending.length > 0; attempt += 1) {
        const requests = pending;
        const response = await withRetries(this.retry, (abortSignal) =>
          this.options.client.send(
            new BatchWriteItemCommand({ RequestItems: { [this.options.batchTable]: requests } }),
            {
              abortSignal,
            },
          ),
        );
        pending = response.UnprocessedItems?.[this.options.batchTable] ?? [];
        if (pending.length === 0) break;
        if (attempt >= this.retry.maxAttempts) {
          throw new Error(`BatchWriteItem left ${pending.length} items unprocessed after ${attempt} attempts`);
        }
        await this.retry.sleep(backoffDelayMs(this.retry, attempt));
      }
    }
  }

  /**
   * Flips the view's manifest to this version unless a newer one is already served: 'superseded' means a run that
   * started later (or has a later cutoff) got there first, which is not an error.
   */
  async flip(manifest: BatchManifest): Promise<'flipped' | 'superseded'> {
    try {
      await withRetries(this.retry, (abortSignal) =>
        this.options.client.send(
          new UpdateItemCommand({ TableName: this.options.manifestTable, ...batchManifestFlip(manifest) }),
          { abortSignal },
        ),
      );
      return 'flipped';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'superseded';
      throw error;
    }
  }
}
