import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TTL_ATTRIBUTE } from '../core/table-layout';
import { retryPolicy, withRetries, type RetryPolicy } from './retry-policy';

/** Who first claimed an eventId: this Kinesis record (again, on a redelivery) or another one. */
export type EventClaim = 'owner' | 'duplicate';

export interface EventClaimRequest {
  readonly eventId: string;
  /** The claiming Kinesis record's identity (shard and position): a redelivery of it claims the event again. */
  readonly owner: string;
  /** TTL attribute value, epoch seconds. */
  readonly expiresAt: number;
}

export interface EventDedupStoreOptions {
  /** Built with maxAttempts 1: the store's retry policy is the only one (see retry-policy.ts). */
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** @default DEFAULT_RETRY_POLICY */
  readonly retry?: Partial<RetryPolicy>;
}

export const DEDUP_ATTRIBUTES = { owner: 'owner' } as const;

export function dedupItemKey(eventId: string): { pk: string; sk: string } {
  return { pk: `event#${eventId}`, sk: 'event' };
}

/**
 * eventId de-duplication for views with `dedupeByEventId` (DESIGN.md §4): the first Kinesis record of an event to
 * be processed claims it with one conditional PutItem. The condition admits the owner again, so a redelivered
 * owner (a Lambda retry) still counts, while a producer's second copy (another Kinesis record, another position)
 * is a duplicate. Cost: one write per claimed event, the condition included, for every delivery of it.
 */
export class EventDedupStore {
  private readonly retry: RetryPolicy;

  constructor(private readonly options: EventDedupStoreOptions) {
    this.retry = retryPolicy(options.retry);
  }

  /** Throws when the claim could not be decided (after retries); the caller must then not count the event. */
  async claim({ eventId, owner, expiresAt }: EventClaimRequest): Promise<EventClaim> {
    const { pk, sk } = dedupItemKey(eventId);
    try {
      await withRetries(this.retry, (abortSignal) =>
        this.options.client.send(
          new PutItemCommand({
            TableName: this.options.tableName,
            Item: {
              pk: { S: pk },
              sk: { S: sk },
              [DEDUP_ATTRIBUTES.owner]: { S: owner },
              [TTL_ATTRIBUTE]: { N: String(expiresAt) },
            },
            ConditionExpression: 'attribute_not_exists(#pk) OR #owner = :owner',
            ExpressionAttributeNames: { '#pk': 'pk', '#owner': DEDUP_ATTRIBUTES.owner },
            ExpressionAttributeValues: { ':owner': { S: owner } },
          }),
          { abortSignal },
        ),
      );
      return 'owner';
    } catch (error) {
      if ((error as { name?: unknown }).name === 'ConditionalCheckFailedException') return 'duplicate';
      throw error;
    }
  }
}
