import { GetItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { batchAggregateFromItem, WINDOW_ATTRIBUTES } from '../core/batch-item';
import {
  batchViewStateFromItem,
  manifestKey,
  MANIFEST_KINDS,
  servedManifest,
  type BatchManifest,
} from '../core/manifest';
import { realtimeAggregateFromItem } from '../core/realtime-update';
import type { BatchAggregate, RealtimeAggregate } from '../core/serving-rule';
import {
  basePartitionKey,
  padTime,
  realtimePartitionKey,
  realtimeSortKeyRange,
  windowPartitionKey,
  windowSortKeyRange,
} from '../core/storage-keys';
import type { ViewDefinition } from '../core/view-declaration';

export interface ViewReaderOptions {
  readonly client: DynamoDBClient;
  readonly realtimeTable: string;
  readonly batchTable: string;
  readonly manifestTable: string;
  /** How long a manifest read serves later requests. @default 2000 */
  readonly manifestCacheMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Reads what the serving rule merges: the served batch version from the manifest, a version's batch items, and
 * realtime items, all as DynamoDB Queries on known partition keys, paginated.
 */
export class ViewReader {
  private readonly manifests = new Map<string, { manifest: BatchManifest | null; readAt: number }>();

  constructor(private readonly options: ViewReaderOptions) {}

  /**
   * The served batch version, cached briefly: a request takes it once and uses it for all its keys, so an answer
   * never mixes two versions, and a flip is seen within the cache time.
   */
  async servedBatch(view: string): Promise<BatchManifest | null> {
    const now = (this.options.now ?? Date.now)();
    const cached = this.manifests.get(view);
    if (cached !== undefined && now - cached.readAt < (this.options.manifestCacheMs ?? 2000)) return cached.manifest;
    const { Item } = await this.options.client.send(
      new GetItemCommand({ TableName: this.options.manifestTable, Key: manifestKey(view, MANIFEST_KINDS.batch) }),
    );
    const manifest = servedManifest(batchViewStateFromItem(view, Item));
    this.manifests.set(view, { manifest, readAt: now });
    return manifest;
  }

  /**
   * The served batch rows of a key's buckets: the base's, and those of every window from the base's cutoff up to
   * the served cutoff. A pending window's rows (past the cutoff) and the windows the base covers are filtered out.
   */
  async batchRows(
    view: Pick<ViewDefinition, 'stored'>,
    manifest: BatchManifest,
    dimensionKey: string,
    firstBucket: number,
    lastBucket: number,
  ): Promise<BatchAggregate[]> {
    const { base } = manifest;
    const windows = windowSortKeyRange(firstBucket, lastBucket);
    const [baseItems, windowItems] = await Promise.all([
      base === null
        ? []
        : this.query({
            TableName: this.options.batchTable,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
            ExpressionAttributeValues: {
              ':pk': { S: basePartitionKey(manifest.view, base.id, dimensionKey) },
              ':from': { S: padTime(firstBucket) },
              ':to': { S: padTime(lastBucket) },
            },
          }),
      this.query({
        TableName: this.options.batchTable,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        FilterExpression: '#from >= :base AND #to <= :cutoff',
        ExpressionAttributeNames: { '#from': WINDOW_ATTRIBUTES.from, '#to': WINDOW_ATTRIBUTES.to },
        ExpressionAttributeValues: {
          ':pk': { S: windowPartitionKey(manifest.view, dimensionKey) },
          ':from': { S: windows.from },
          ':to': { S: windows.to },
          ':base': { N: String(base?.cutoff ?? 0) },
          ':cutoff': { N: String(manifest.cutoff) },
        },
      }),
    ]);
    return [...baseItems, ...windowItems].map((item) => batchAggregateFromItem(view, dimensionKey, item));
  }

  /** Realtime items of the buckets; epochs below `minEpoch` (covered by the batch version) are not even returned. */
  async realtimeRows(
    view: Pick<ViewDefinition, 'name' | 'stored'>,
    generation: number,
    dimensionKey: string,
    firstBucket: number,
    lastBucket: number,
    minEpoch: number | null,
  ): Promise<RealtimeAggregate[]> {
    const range = realtimeSortKeyRange(firstBucket, lastBucket);
    const items = await this.query({
      TableName: this.options.realtimeTable,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ...(minEpoch === null
        ? {}
        : { FilterExpression: '#epoch >= :cutoff', ExpressionAttributeNames: { '#epoch': 'epoch' } }),
      ExpressionAttributeValues: {
        ':pk': { S: realtimePartitionKey(view.name, generation, dimensionKey) },
        ':from': { S: range.from },
        ':to': { S: range.to },
        ...(minEpoch === null ? {} : { ':cutoff': { N: String(minEpoch) } }),
      },
    });
    return items.map((item) => realtimeAggregateFromItem(dimensionKey, item, view.stored));
  }

  private async query(input: ConstructorParameters<typeof QueryCommand>[0]): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.options.client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }
}
