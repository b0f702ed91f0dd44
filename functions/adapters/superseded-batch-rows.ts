import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { WINDOW_ATTRIBUTES } from '../core/batch-item';
import { basePartitionKey, windowPartitionKey } from '../core/storage-keys';
import { expireSelectedItems, type ExpiryResult } from './item-expiry';

export interface SupersededRowsOptions {
  readonly client: DynamoDBClient;
  readonly batchTable: string;
  /** Items updated at a time. @default 16 */
  readonly concurrency?: number;
  /** Stops the scan between pages (the rebuild's deadline); running it again goes on. */
  readonly shouldStop?: () => boolean;
}

/**
 * Gives a TTL to the batch rows a rebuild's flip superseded: the old base's rows, and the rows of the windows below
 * the new base, which readers no longer read (DESIGN.md §6). Without it, a view kept for ever would keep every
 * window row for ever. Safe to repeat; returns the rows given the TTL.
 */
export async function expireSupersededRows(
  options: SupersededRowsOptions,
  view: string,
  superseded: { readonly below: number; readonly baseId: string | null },
  expiresAtMs: number,
): Promise<ExpiryResult> {
  const values: Record<string, AttributeValue> = {
    ':windows': { S: windowPartitionKey(view, '') },
    ':below': { N: String(superseded.below) },
  };
  // AND binds tighter than OR; DynamoDB refuses parentheses that say so again.
  let filter = 'begins_with(pk, :windows) AND #to <= :below';
  if (superseded.baseId !== null) {
    values[':base'] = { S: basePartitionKey(view, superseded.baseId, '') };
    filter += ' OR begins_with(pk, :base)';
  }
  return expireSelectedItems(
    {
      client: options.client,
      tableName: options.batchTable,
      concurrency: options.concurrency,
      shouldStop: options.shouldStop,
    },
    {
      FilterExpression: filter,
      ExpressionAttributeNames: { '#to': WINDOW_ATTRIBUTES.to },
      ExpressionAttributeValues: values,
    },
    expiresAtMs,
  );
}

/** expireSupersededRows over one table, in the shape the rebuild job takes (RebuildJobDependencies.expireSuperseded). */
export function supersededRowsExpiry(client: DynamoDBClient, batchTable: string) {
  return (
    view: string,
    superseded: { readonly below: number; readonly baseId: string | null },
    expiresAtMs: number,
    shouldStop: () => boolean,
  ): Promise<ExpiryResult> => expireSupersededRows({ client, batchTable, shouldStop }, view, superseded, expiresAtMs);
}
