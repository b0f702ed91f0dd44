import { ScanCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { realtimePartitionKey } from '../core/storage-keys';
import { TTL_ATTRIBUTE } from '../core/table-layout';
import { mapConcurrently } from './concurrent-map';

export interface GenerationExpiryOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Items updated at a time. @default 16 */
  readonly concurrency?: number;
}

/**
 * Gives every realtime item of a view's generation a TTL, after a flip made it unserved. It scans, because the
 * generation's dimension keys are not known up front; a replay runs rarely, and the scan reads keys only.
 * Returns the number of items given the TTL.
 */
export async function expireGeneration(
  options: GenerationExpiryOptions,
  view: string,
  generation: number,
  expiresAtMs: number,
): Promise<number> {
  const prefix = realtimePartitionKey(view, generation, '');
  let expired = 0;
  let startKey: Record<string, { S: string }> | undefined;
  do {
    const page = await options.client.send(
      new ScanCommand({
        TableName: options.tableName,
        ProjectionExpression: 'pk, sk',
        FilterExpression: 'begins_with(pk, :prefix)',
        ExpressionAttributeValues: { ':prefix': { S: prefix } },
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
            ExpressionAttributeValues: { ':ttl': { N: String(Math.ceil(expiresAtMs / 1000)) } },
          }),
        )
        .catch((error: unknown) => {
          if ((error as { name?: unknown }).name !== 'ConditionalCheckFailedException') throw error;
        }),
    );
    expired += keys.length;
    startKey = page.LastEvaluatedKey as typeof startKey;
  } while (startKey !== undefined);
  return expired;
}
