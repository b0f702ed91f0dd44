import { PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TTL_ATTRIBUTE } from '../core/table-layout';
import { retryPolicy, withRetries, type RetryPolicy } from './retry-policy';

/** Who first claimed an eventId: this Kinesis record (again, on a redelivery) or another one. */
export type EventClaim = 'owner' | 'duplicate';

export interface EventClaimRequest {
  readonly eventId: string;
  /** The claiming Kinesis record's identity (shard and position): a redelivery of it claims the event again. */
  readonly owner: string;
  /** The claiming record's arrival time (ms). */
  readonly arrivalMs: number;
  /**
   * The de-dup horizon H (DESIGN.md §4): a copy arriving at most this long after the event's last copy is a
   * duplicate; one arriving later counts again, as the batch SQL counts it.
   */
  readonly horizonMs: number;
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

export const DEDUP_ATTRIBUTES = { owner: 'owner', lastArrival: 'lastArrivalMs' } as const;

export function dedupItemKey(eventId: string): { pk: string; sk: string } {
  return { pk: `event#${eventId}`, sk: 'event' };
}

/**
 * eventId de-duplication for views with `dedupeByEventId` (DESIGN.md §4): the first Kinesis record of an event to
 * be processed claims it with one conditional PutItem. The condition admits the owner again, so a redelivered
 * owner (a Lambda retry) still counts, while a producer's second copy (another Kinesis record, another position)
 * arriving within the horizon of the last copy is a duplicate; the duplicate moves the last copy's arrival on, so
 * that a chain of copies each within the horizon of the one before is one event, as the batch SQL's lag() has it.
 * Cost: one write per claimed event, the condition included, for every delivery of it, and one more per duplicate.
 */
export class EventDedupStore {
  private readonly retry: RetryPolicy;

  constructor(private readonly options: EventDedupStoreOptions) {
    this.retry = retryPolicy(options.retry);
  }

  /** Throws when the claim could not be decided (after retries); the caller must then not count the event. */
  async claim({ eventId, owner, arrivalMs, horizonMs, expiresAt }: EventClaimRequest): Promise<EventClaim> {
    const { pk, sk } = dedupItemKey(eventId);
    const names = { '#pk': 'pk', '#owner': DEDUP_ATTRIBUTES.owner, '#last': DEDUP_ATTRIBUTES.lastArrival };
    try {
      await withRetries(this.retry, (abortSignal) =>
        this.options.client.send(
          new PutItemCommand({
            TableName: this.options.tableName,
            Item: {
              pk: { S: pk },
              sk: { S: sk },
              [DEDUP_ATTRIBUTES.owner]: { S: owner },
              [DEDUP_ATTRIBUTES.lastArrival]: { N: String(arrivalMs) },
              [TTL_ATTRIBUTE]: { N: String(expiresAt) },
            },
            // A claim written before the horizon existed has no last arrival: it holds, as it always did.
            ConditionExpression: 'attribute_not_exists(#pk) OR #owner = :owner OR #last < :stale',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':owner': { S: owner }, ':stale': { N: String(arrivalMs - horizonMs) } },
          }),
          { abortSignal },
        ),
      );
      return 'owner';
    } catch (error) {
      if ((error as { name?: unknown }).name !== 'ConditionalCheckFailedException') throw error;
    }
    try {
      await withRetries(this.retry, (abortSignal) =>
        this.options.client.send(
          new UpdateItemCommand({
            TableName: this.options.tableName,
            Key: { pk: { S: pk }, sk: { S: sk } },
            UpdateExpression: 'SET #last = :arrival, #ttl = :expiresAt',
            ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(#last) OR #last < :arrival)',
            ExpressionAttributeNames: { '#pk': 'pk', '#last': DEDUP_ATTRIBUTES.lastArrival, '#ttl': TTL_ATTRIBUTE },
            ExpressionAttributeValues: { ':arrival': { N: String(arrivalMs) }, ':expiresAt': { N: String(expiresAt) } },
          }),
          { abortSignal },
        ),
      );
    } catch (error) {
      // An older copy than the last one (another shard, behind): the last arrival stays where it is.
      if ((error as { name?: unknown }).name !== 'ConditionalCheckFailedException') throw error;
    }
    return 'duplicate';
  }
}
