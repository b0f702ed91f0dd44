import { ScanCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TTL_ATTRIBUTE } from '../core/table-layout';
import { mapConcurrently } from './concurrent-map';

export interface ItemExpiryOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Items updated at a time. @default 16 */
  readonly concurrency?: number;
  /** Checked between scan pages: true stops the expiry there (running it again goes on; it skips what it did). */
  readonly shouldStop?: () => boolean;
}

export interface ExpiryResult {
  readonly expired: number;
  /** False when shouldStop stopped it before the last page. */
  readonly done: boolean;
}

/** Which items to expire: a scan filter over the table's keys and attributes. */
export interface ItemSelection {
  readonly FilterExpression: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, AttributeValue>;
}

/**
 * Gives every item the filter selects a TTL of `expiresAtMs`. It scans, because the selected items' keys are not
 * known up front (a generation's or a view's dimension keys); the callers run rarely (after a replay's or a
 * rebuild's flip), and the scan reads keys only. Items that already expire by then are left alone, so a repeat
 * (after a stop) writes only what the last attempt did not. Returns the number of items given the TTL.
 */
export async function expireSelectedItems(
  options: ItemExpiryOptions,
  selection: ItemSelection,
  expiresAtMs: number,
): Promise<ExpiryResult> {
  const ttl = String(Math.ceil(expiresAtMs / 1000));
  // DynamoDB refuses redundant parentheses: they go only around a selection with an OR, which AND would split.
  const filter = / OR /i.test(selection.FilterExpression)
    ? `(${selection.FilterExpression})`
    : selection.FilterExpression;
  let expired = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    if (options.shouldStop?.() === true) return { expired, done: false };
    const page = await options.client.send(
      new ScanCommand({
        TableName: options.tableName,
        ProjectionExpression: 'pk, sk',
        FilterExpression: `${filter} AND (attribute_not_exists(#expiryTtl) OR #expiryTtl > :expiryTtl)`,
        ExpressionAttributeNames: { ...selection.ExpressionAttributeNames, '#expiryTtl': TTL_ATTRIBUTE },
        ExpressionAttributeValues: { ...selection.ExpressionAttributeValues, ':expiryTtl': { N: ttl } },
        ExclusiveStartKey: startKey,
      }),
    );
    const keys = (page.Items ?? []).map((item) => ({ pk: { S: item.pk?.S ?? '' }, sk: { S: item.sk?.S ?? '' } }));
    await mapConcurrently(keys, options.concurrency ?? 16, (Key) =>
      options.client
        .send(
          new UpdateItemCommand({
            TableName: options.tableName,
            Key,
            UpdateExpression: 'SET #ttl = :ttl',
            // An item that is gone already (its own TTL passed) must not be recreated with only a TTL.
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
            ExpressionAttributeValues: { ':ttl': { N: ttl } },
          }),
        )
        .catch((error: unknown) => {
          if ((error as { name?: unknown }).name !== 'ConditionalCheckFailedException') throw error;
        }),
    );
    expired += keys.length;
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return { expired, done: true };
}
