import { GetItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { batchAggregateFromItem } from '../../functions/core/batch-item';
import { batchManifestFromItem, manifestKey, MANIFEST_KINDS, type BatchManifest } from '../../functions/core/manifest';
import type { BatchAggregate } from '../../functions/core/serving-rule';

async function scan(dynamodb: DynamoDBClient, table: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

/** Every item of one batch view version, read back through the core's item reader. */
export async function readBatchVersion(
  dynamodb: DynamoDBClient,
  table: string,
  view: string,
  version: string,
): Promise<BatchAggregate[]> {
  const prefix = `${view}#${version}#`;
  return (await scan(dynamodb, table))
    .filter((item) => (item.pk?.S ?? '').startsWith(prefix))
    .map((item) => batchAggregateFromItem((item.pk?.S ?? '').slice(prefix.length), item));
}

/** The versions that have items in the table, per view. */
export async function versionsInTable(dynamodb: DynamoDBClient, table: string): Promise<Map<string, Set<string>>> {
  const versions = new Map<string, Set<string>>();
  for (const item of await scan(dynamodb, table)) {
    const [view, version] = (item.pk?.S ?? '').split('#');
    versions.set(view, (versions.get(view) ?? new Set()).add(version));
  }
  return versions;
}

/** `pk|sk` of every item in a table. */
export async function scanKeys(dynamodb: DynamoDBClient, table: string): Promise<string[]> {
  return (await scan(dynamodb, table)).map((item) => `${item.pk?.S}|${item.sk?.S}`);
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
