import { GetItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { batchAggregateFromItem } from '../../functions/core/batch-item';
import { batchManifestFromItem, manifestKey, MANIFEST_KINDS, type BatchManifest } from '../../functions/core/manifest';
import type { BatchAggregate } from '../../functions/core/serving-rule';

/** Every item of one batch view version, read back through the core's item reader. */
export async function readBatchVersion(
  dynamodb: DynamoDBClient,
  table: string,
  view: string,
  version: string,
): Promise<BatchAggregate[]> {
  const prefix = `${view}#${version}#`;
  const rows: BatchAggregate[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      const pk = item.pk?.S ?? '';
      if (pk.startsWith(prefix)) rows.push(batchAggregateFromItem(pk.slice(prefix.length), item));
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return rows;
}

export async function servedManifest(
  dynamodb: DynamoDBClient,
  table: string,
  view: string,
): Promise<BatchManifest | null> {
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: table, Key: manifestKey(view, MANIFEST_KINDS.batch), ConsistentRead: true }),
  );
  return batchManifestFromItem(Item);
}
