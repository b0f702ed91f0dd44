import { ScanCommand, type AttributeValue, type DynamoDBClient, type ScanCommandInput } from '@aws-sdk/client-dynamodb';
import type { ViewReader } from '../../functions/adapters/view-reader';
import { batchAggregateFromItem, WINDOW_ATTRIBUTES } from '../../functions/core/batch-item';
import type { BatchManifest } from '../../functions/core/manifest';
import type { BatchAggregate } from '../../functions/core/serving-rule';
import { basePartitionKey, windowPartitionKey } from '../../functions/core/storage-keys';
import type { ViewDefinition } from '../../functions/core/view-declaration';

export async function scanItems(
  dynamodb: DynamoDBClient,
  table: string,
  filter: Partial<ScanCommandInput> = {},
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({ ...filter, TableName: table, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

/** `pk|sk` of every item in a table. */
export async function scanKeys(dynamodb: DynamoDBClient, table: string): Promise<string[]> {
  return (await scanItems(dynamodb, table)).map((item) => `${item.pk?.S}|${item.sk?.S}`);
}

/** A window row as stored: the window it belongs to, and its aggregate. */
export interface StoredWindowRow extends BatchAggregate {
  readonly windowFrom: number;
  readonly windowTo: number;
}

/**
 * Every window row of a view in the table, served or not (a pending window's included), read back by the core; only
 * those of the window that ends at `windowTo` when it is given.
 */
export async function windowRowsInTable(
  dynamodb: DynamoDBClient,
  table: string,
  view: ViewDefinition,
  windowTo?: number,
): Promise<StoredWindowRow[]> {
  const prefix = windowPartitionKey(view.name, '');
  const filter =
    windowTo === undefined
      ? undefined
      : {
          FilterExpression: '#to = :to',
          ExpressionAttributeNames: { '#to': WINDOW_ATTRIBUTES.to },
          ExpressionAttributeValues: { ':to': { N: String(windowTo) } },
        };
  return (await scanItems(dynamodb, table, filter))
    .filter((item) => (item.pk?.S ?? '').startsWith(prefix))
    .map((item) => ({
      ...batchAggregateFromItem(view, (item.pk?.S ?? '').slice(prefix.length), item),
      windowFrom: Number(item[WINDOW_ATTRIBUTES.from]?.N),
      windowTo: Number(item[WINDOW_ATTRIBUTES.to]?.N),
    }));
}

/** The rows a view serves, read as the serving layer reads them: the manifest once, then each key's rows. */
export interface ServedRows {
  readonly manifest: BatchManifest | null;
  readonly rows: readonly BatchAggregate[];
}

/**
 * Reads everything a view serves through the ViewReader (DESIGN.md §6: the manifest once, then exactly the rows it
 * names), each key over every bucket. The keys to ask for are `keys` when given (a test that knows every key its
 * stream can touch saves a scan per read), otherwise every key with a batch row of the view in the table, found by a
 * scan.
 */
export async function readServedRows(
  reader: ViewReader,
  dynamodb: DynamoDBClient,
  table: string,
  view: ViewDefinition,
  keys?: Iterable<string>,
): Promise<ServedRows> {
  const manifest = await reader.servedBatch(view.name);
  if (manifest === null) return { manifest, rows: [] };
  const asked = new Set(keys ?? (await keysInTable(dynamodb, table, view.name, manifest.base?.id ?? null)));
  const rows: BatchAggregate[] = [];
  for (const key of [...asked].sort()) {
    rows.push(...(await reader.batchRows(view, manifest, key, 0, Number.MAX_SAFE_INTEGER)));
  }
  return { manifest, rows };
}

/** The dimension keys that have window rows of the view, or rows of its base `baseId`, in the table. */
export async function keysInTable(
  dynamodb: DynamoDBClient,
  table: string,
  view: string,
  baseId: string | null,
): Promise<Set<string>> {
  const windowPrefix = windowPartitionKey(view, '');
  const basePrefix = baseId === null ? undefined : basePartitionKey(view, baseId, '');
  const keys = new Set<string>();
  for (const item of await scanItems(dynamodb, table)) {
    const pk = item.pk?.S ?? '';
    if (pk.startsWith(windowPrefix)) keys.add(pk.slice(windowPrefix.length));
    if (basePrefix !== undefined && pk.startsWith(basePrefix)) keys.add(pk.slice(basePrefix.length));
  }
  return keys;
}
