import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { realtimePartitionKey } from '../core/storage-keys';
import { expireSelectedItems } from './item-expiry';

export interface GenerationExpiryOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Items updated at a time. @default 16 */
  readonly concurrency?: number;
}

/** Gives every realtime item of a view's generation a TTL, after a flip made it unserved (item-expiry.ts). */
export async function expireGeneration(
  options: GenerationExpiryOptions,
  view: string,
  generation: number,
  expiresAtMs: number,
): Promise<number> {
  const { expired } = await expireSelectedItems(
    options,
    {
      FilterExpression: 'begins_with(pk, :prefix)',
      ExpressionAttributeValues: { ':prefix': { S: realtimePartitionKey(view, generation, '') } },
    },
    expiresAtMs,
  );
  return expired;
}
