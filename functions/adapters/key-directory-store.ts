import {
  BatchGetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type DynamoDBClient,
  type KeysAndAttributes,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue, StoredAttributes } from '../core/aggregate-attributes';
import {
  DIRECTORY_ATTRIBUTES,
  directoryDimensionAttributes,
  directoryEntryFromItem,
  directoryItemKey,
  directoryPrefix,
  directorySortKey,
  mergeSightings,
  type DirectoryEntry,
  type DirectoryFilter,
  type KeySighting,
} from '../core/key-directory';
import { TABLE_KEY } from '../core/table-layout';
import type { ViewDefinition } from '../core/view-declaration';
import { mapConcurrently } from './concurrent-map';
import { backoffDelayMs, retryPolicy, withRetries, type RetryPolicy } from './retry-policy';

/** BatchGetItem's limit of keys per request. */
export const BATCH_GET_LIMIT = 100;

/** DynamoDB's limit of operands in one IN comparison. */
const IN_OPERANDS = 100;

/** Items a filtered listing lets one Query evaluate: bounds what a selective filter reads per page. */
const FILTERED_PAGE_ITEMS = 1000;

export interface KeyDirectoryStoreOptions {
  /** Built with maxAttempts 1 in the Lambdas: the store's retry policy is the only one (see retry-policy.ts). */
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Keys per container remembered as recorded, most recently used kept. @default 100000 */
  readonly cacheCapacity?: number;
  /** DynamoDB requests in flight per call. @default 16 */
  readonly concurrency?: number;
  /** @default DEFAULT_RETRY_POLICY */
  readonly retry?: Partial<RetryPolicy>;
}

export interface DirectoryPage {
  readonly entries: DirectoryEntry[];
  /** The sort key to continue after when more entries may follow; null when the listing is complete. */
  readonly lastSortKey: string | null;
}

/** BatchGetItem kept leaving keys unprocessed (capacity, not content): which keys exist could not be learnt. */
export class UnprocessedKeysError extends Error {
  constructor(
    readonly unprocessed: number,
    readonly attempts: number,
  ) {
    super(`BatchGetItem left ${unprocessed} keys unprocessed after ${attempts} attempts`);
    this.name = 'UnprocessedKeysError';
  }
}

const isConditionFailure = (error: unknown) =>
  typeof error === 'object' &&
  error !== null &&
  (error as { name?: unknown }).name === 'ConditionalCheckFailedException';

const NAMES = {
  '#pk': TABLE_KEY.partitionKey,
  '#key': DIRECTORY_ATTRIBUTES.key,
  '#first': DIRECTORY_ATTRIBUTES.firstSeen,
  '#last': DIRECTORY_ATTRIBUTES.lastSeen,
} as const;

/**
 * The key directory's table (DESIGN.md §10; layout in core/key-directory.ts): one item per view and dimension key,
 * under the view's partition, so that a listing is a Query and never a Scan.
 *
 * Cost. The speed layer writes a key at most once (recordNewKeys): a container remembers the keys it recorded or
 * found, and learns which of the others exist with one BatchGetItem per 100 keys before it puts the missing ones.
 * Only the batch layer, rebuilds and replays keep `firstSeen`/`lastSeen` exact (recordSightings), with conditional
 * updates that only ever widen them, so any order, retry or race of writers converges on the min and the max.
 */
export class KeyDirectoryStore {
  private readonly retry: RetryPolicy;
  private readonly concurrency: number;
  private readonly capacity: number;
  /** `view`, NUL, dimension key → recorded; the Map's insertion order is the recency order. */
  private readonly known = new Map<string, true>();

  constructor(private readonly options: KeyDirectoryStoreOptions) {
    this.retry = retryPolicy(options.retry);
    this.concurrency = options.concurrency ?? 16;
    this.capacity = options.cacheCapacity ?? 100_000;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new Error('key directory store: concurrency must be a positive integer');
    }
    if (!Number.isInteger(this.capacity) || this.capacity < 0) {
      throw new Error('key directory store: cacheCapacity must be an integer >= 0');
    }
  }

  /**
   * Speed layer: records the keys this container has not seen, with at most one write per key that is new to the
   * directory (a conditional put, so a key another writer recorded first is left as it is). Throws when a key could
   * not be recorded: its rows must then not be written. Returns the writes sent (each costs a write unit, a lost
   * race included).
   */
  async recordNewKeys(view: string, sightings: readonly KeySighting[]): Promise<number> {
    const unknown = mergeSightings(sightings).filter((sighting) => !this.recall(view, sighting.dimensionKey));
    if (unknown.length === 0) return 0;
    const existing = await this.existingSortKeys(view, unknown);
    for (const sighting of unknown) {
      if (existing.has(directorySortKey(sighting.dimensionKey))) this.remember(view, sighting.dimensionKey);
    }
    const missing = unknown.filter((sighting) => !existing.has(directorySortKey(sighting.dimensionKey)));
    await mapConcurrently(missing, this.concurrency, async (sighting) => {
      try {
        await withRetries(this.retry, (abortSignal) =>
          this.options.client.send(
            new PutItemCommand({
              TableName: this.options.tableName,
              Item: this.newItem(view, sighting),
              // Another container (or a batch run) recorded it first: its item stands. A retried put that had been
              // applied lands here too, which is why the put is safe to retry.
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': NAMES['#pk'] },
            }),
            { abortSignal },
          ),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      this.remember(view, sighting.dimensionKey);
    });
    return missing.length;
  }

  /**
   * Batch windows, rebuilds and replays: widens each key's `firstSeen` down to its sighting's first arrival and its
   * `lastSeen` up to its last, creating the item when the key is new. Each update's condition only lets it widen,
   * so the result is the min and the max whatever the order, retries or concurrency of the writers. Usually one
   * write per key; two or three when both ends move in ways one condition cannot say. Returns the writes sent.
   */
  async recordSightings(view: string, sightings: readonly KeySighting[]): Promise<number> {
    const writes = await mapConcurrently(mergeSightings(sightings), this.concurrency, (sighting) =>
      this.widen(view, sighting),
    );
    for (const sighting of sightings) this.remember(view, sighting.dimensionKey);
    return writes.reduce((total, count) => total + count, 0);
  }

  /**
   * One page of the view's keys that pass the filter, in sort-key order, after `after` (a sort key from a previous
   * page). A Query of the view's partition: the leading single-valued dimensions narrow the key condition, the
   * filtered dimensions are tested by a filter expression, and DynamoDB pages are read until `limit` entries are
   * found or the partition ends. Reads are strongly consistent: a key recorded before its rows became visible is
   * listed to anyone who can see the rows.
   */
  async listPage(
    view: Pick<ViewDefinition, 'name' | 'dimensions'>,
    filter: DirectoryFilter,
    options: { readonly limit: number; readonly after?: string },
  ): Promise<DirectoryPage> {
    const { limit } = options;
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error('key directory listing: limit must be a positive integer');
    const prefix = directoryPrefix(view, filter);
    const values: Record<string, AttributeValue> = { ':view': { S: view.name } };
    const names: Record<string, string> = {
      '#pk': TABLE_KEY.partitionKey,
      '#key': NAMES['#key'],
      '#first': NAMES['#first'],
      '#last': NAMES['#last'],
    };
    let keyCondition = '#pk = :view';
    let after = options.after;
    if (prefix !== undefined) {
      keyCondition += ' AND begins_with(#sk, :prefix)';
      names['#sk'] = TABLE_KEY.sortKey;
      values[':prefix'] = { S: prefix };
      // DynamoDB refuses a start key outside the key condition's range (a token from another filter's listing):
      // one before the range starts it at its beginning, one after it has nothing more to list.
      if (after !== undefined && !after.startsWith(prefix)) {
        if (after > prefix) return { entries: [], lastSortKey: null };
        after = undefined;
      }
    }
    // Every filtered dimension is tested, those of the prefix too: a prefix of a whole key (`a|b`) also begins
    // longer keys (`a|bc`).
    const conditions: string[] = [];
    for (const [index, allowed] of [...filter].sort(([a], [b]) => a - b)) {
      if (allowed.length === 0) return { entries: [], lastSortKey: null };
      const attribute = `#d${index}`;
      names[attribute] = DIRECTORY_ATTRIBUTES.dimension(index);
      const groups: string[] = [];
      for (let start = 0; start < allowed.length; start += IN_OPERANDS) {
        const operands = allowed.slice(start, start + IN_OPERANDS).map((value, offset) => {
          const placeholder = `:d${index}_${start + offset}`;
          values[placeholder] = { S: value };
          return placeholder;
        });
        groups.push(`${attribute} IN (${operands.join(', ')})`);
      }
      conditions.push(groups.length === 1 ? groups[0] : `(${groups.join(' OR ')})`);
    }
    const filterExpression = conditions.length === 0 ? undefined : conditions.join(' AND ');

    const entries: DirectoryEntry[] = [];
    let startKey: Record<string, AttributeValue> | undefined =
      after === undefined
        ? undefined
        : { [TABLE_KEY.partitionKey]: { S: view.name }, [TABLE_KEY.sortKey]: { S: after } };
    for (;;) {
      const remaining = limit - entries.length;
      const exclusiveStartKey = startKey;
      const page = await withRetries(this.retry, (abortSignal) =>
        this.options.client.send(
          new QueryCommand({
            TableName: this.options.tableName,
            KeyConditionExpression: keyCondition,
            ...(filterExpression === undefined ? {} : { FilterExpression: filterExpression }),
            ProjectionExpression: '#key, #first, #last',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ExclusiveStartKey: exclusiveStartKey,
            // Unfiltered, the page holds exactly what is asked for; filtered, a bounded read per page.
            Limit: filterExpression === undefined ? remaining : Math.max(remaining, FILTERED_PAGE_ITEMS),
            ConsistentRead: true,
          }),
          { abortSignal },
        ),
      );
      const items = (page.Items ?? []) as StoredAttributes[];
      const taken = items.slice(0, remaining);
      entries.push(...taken.map(directoryEntryFromItem));
      startKey = page.LastEvaluatedKey as Record<string, AttributeValue> | undefined;
      const more = taken.length < items.length || startKey !== undefined;
      if (entries.length >= limit || startKey === undefined) {
        const last = entries.at(-1);
        return { entries, lastSortKey: more && last !== undefined ? directorySortKey(last.dimensionKey) : null };
      }
    }
  }

  private newItem(view: string, sighting: KeySighting): Record<string, AttributeValue> {
    return {
      ...directoryItemKey(view, sighting.dimensionKey),
      [DIRECTORY_ATTRIBUTES.key]: { S: sighting.dimensionKey },
      [DIRECTORY_ATTRIBUTES.firstSeen]: { N: String(sighting.firstMs) },
      [DIRECTORY_ATTRIBUTES.lastSeen]: { N: String(sighting.lastMs) },
      ...directoryDimensionAttributes(sighting.dimensionKey),
    };
  }

  /**
   * The usual case in one write: the key is new, or its last arrival moves on while its first stays. Otherwise
   * (the condition failed) each end that still needs to widen gets its own conditional update. Returns the writes.
   */
  private async widen(view: string, sighting: KeySighting): Promise<number> {
    const dimensions = directoryDimensionAttributes(sighting.dimensionKey);
    const dimensionNames = Object.fromEntries(Object.keys(dimensions).map((name) => [`#${name}`, name]));
    const dimensionValues = Object.fromEntries(Object.entries(dimensions).map(([name, value]) => [`:${name}`, value]));
    const identity = ['#key = :key', ...Object.keys(dimensions).map((name) => `#${name} = :${name}`)];
    const first = { N: String(sighting.firstMs) };
    const last = { N: String(sighting.lastMs) };
    const key = directoryItemKey(view, sighting.dimensionKey);
    const update = (
      expression: string,
      condition: string,
      names: Record<string, string>,
      values: Record<string, AttributeValue>,
    ) =>
      withRetries(this.retry, (abortSignal) =>
        this.options.client.send(
          new UpdateItemCommand({
            TableName: this.options.tableName,
            Key: key,
            UpdateExpression: expression,
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
          { abortSignal },
        ),
      ).then(
        () => true,
        (error: unknown) => {
          // The item already holds as much or more: another writer, or this update applied by an earlier attempt.
          if (isConditionFailure(error)) return false;
          throw error;
        },
      );

    const usual = await update(
      `SET ${identity.join(', ')}, #first = if_not_exists(#first, :first), #last = :last`,
      'attribute_not_exists(#pk) OR (#first <= :first AND #last < :last)',
      { ...NAMES, ...dimensionNames },
      { ':key': { S: sighting.dimensionKey }, ':first': first, ':last': last, ...dimensionValues },
    );
    if (usual) return 1;
    // Each end on its own: a condition that fails means that end already reaches as far.
    await update(
      `SET ${identity.join(', ')}, #first = :first`,
      'attribute_not_exists(#first) OR #first > :first',
      { '#key': NAMES['#key'], '#first': NAMES['#first'], ...dimensionNames },
      { ':key': { S: sighting.dimensionKey }, ':first': first, ...dimensionValues },
    );
    await update(
      `SET ${identity.join(', ')}, #last = :last`,
      'attribute_not_exists(#last) OR #last < :last',
      { '#key': NAMES['#key'], '#last': NAMES['#last'], ...dimensionNames },
      { ':key': { S: sighting.dimensionKey }, ':last': last, ...dimensionValues },
    );
    return 3;
  }

  /** Which of the sightings' keys the directory holds, by sort key: BatchGetItem, 100 keys per request. */
  private async existingSortKeys(view: string, sightings: readonly KeySighting[]): Promise<Set<string>> {
    const table = this.options.tableName;
    const chunks: KeySighting[][] = [];
    for (let start = 0; start < sightings.length; start += BATCH_GET_LIMIT) {
      chunks.push(sightings.slice(start, start + BATCH_GET_LIMIT));
    }
    const found = new Set<string>();
    await mapConcurrently(chunks, this.concurrency, async (chunk) => {
      let pending: KeysAndAttributes | undefined = {
        Keys: chunk.map((sighting) => directoryItemKey(view, sighting.dimensionKey)),
        ProjectionExpression: '#sk',
        ExpressionAttributeNames: { '#sk': TABLE_KEY.sortKey },
        // The directory is written before rows become visible: a stale read would only cost a conditional put.
        ConsistentRead: false,
      };
      for (let round = 1; pending !== undefined; round += 1) {
        const request: KeysAndAttributes = pending;
        const response = await withRetries(this.retry, (abortSignal) =>
          this.options.client.send(new BatchGetItemCommand({ RequestItems: { [table]: request } }), { abortSignal }),
        );
        for (const item of response.Responses?.[table] ?? []) {
          const sortKey = item[TABLE_KEY.sortKey]?.S;
          if (sortKey !== undefined) found.add(sortKey);
        }
        const unprocessed = response.UnprocessedKeys?.[table];
        pending = (unprocessed?.Keys?.length ?? 0) > 0 ? unprocessed : undefined;
        if (pending === undefined) break;
        if (round >= this.retry.maxAttempts) throw new UnprocessedKeysError(pending.Keys?.length ?? 0, round);
        await this.retry.sleep(backoffDelayMs(this.retry, round));
      }
    });
    return found;
  }

  private recall(view: string, dimensionKey: string): boolean {
    const id = `${view}\u0000${dimensionKey}`;
    if (!this.known.has(id)) return false;
    // Re-inserting moves the key to the young end of the Map's insertion order.
    this.known.delete(id);
    this.known.set(id, true);
    return true;
  }

  private remember(view: string, dimensionKey: string): void {
    if (this.capacity === 0) return;
    const id = `${view}\u0000${dimensionKey}`;
    this.known.delete(id);
    this.known.set(id, true);
    if (this.known.size > this.capacity) {
      const oldest = this.known.keys().next();
      if (oldest.done !== true) this.known.delete(oldest.value);
    }
  }
}
