import {
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  anomalyItemKey,
  anomalySortKeyRange,
  type Anomaly,
  type AnomalyPage,
  type AnomalyPages,
  type AnomalyQuery,
} from '../core/anomaly';
import { dimensionValues } from '../core/dimension-key';
import { TABLE_KEY, TTL_ATTRIBUTE } from '../core/table-layout';
import { retentionMs, type ViewDefinition } from '../core/view-declaration';
import { mapConcurrently } from './concurrent-map';
import { retryPolicy, withRetries, type RetryPolicy } from './retry-policy';

export interface AnomalyStoreOptions {
  /** Built with maxAttempts 1 in the speed layer: the store's retry policy is the only one (see retry-policy.ts). */
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** DynamoDB requests in flight per call. @default 16 */
  readonly concurrency?: number;
  /** @default DEFAULT_RETRY_POLICY */
  readonly retry?: Partial<RetryPolicy>;
}

/** Attributes of an anomaly item besides pk, sk and the TTL. */
export const ANOMALY_ATTRIBUTES = {
  /** The anomaly, as JSON: read back whole, whatever fields it gains. */
  anomaly: 'anomaly',
  /** The dimension values, a map: what a listing filters by. */
  dimensions: 'dimensions',
  /** False until the anomaly's event was published. */
  notified: 'notified',
} as const;

/** Items a filtered listing lets one Query evaluate: bounds what a selective filter reads per page. */
const FILTERED_PAGE_ITEMS = 1000;

/** A sort key of the table: 16-digit event time, `#`, the 32-hex-digit anomaly id. */
const SORT_KEY = /^\d{16}#[0-9a-f]{32}$/;

/** A `next` token that is not one of this listing's: the caller's request is at fault (a 400, not a 500). */
export class AnomalyPageTokenError extends Error {
  constructor() {
    super('next: not a token of an anomalies listing');
    this.name = 'AnomalyPageTokenError';
  }
}

const isConditionFailure = (error: unknown) =>
  typeof error === 'object' &&
  error !== null &&
  (error as { name?: unknown }).name === 'ConditionalCheckFailedException';

/**
 * The anomalies table (DESIGN.md §12; layout in core/anomaly.ts): one item per anomaly under its view's partition,
 * sorted by event time, so that a view's anomalies of a time range are one Query, newest first.
 *
 * Publishing is at least once, with de-duplication: `record` puts each anomaly only if its item does not exist, with
 * `notified` false, and returns those still to publish (new ones, and stored ones whose publication did not finish);
 * the caller publishes them, then `markNotified`. A redelivered reading scores the same anomaly (same id), whose
 * item is then found notified and not published again. Every request is idempotent, so every one is retried.
 * Items expire with the view's retention after their event time (none for a view that keeps its buckets for ever).
 */
export class AnomalyStore implements AnomalyPages {
  private readonly retry: RetryPolicy;
  private readonly concurrency: number;

  constructor(private readonly options: AnomalyStoreOptions) {
    this.retry = retryPolicy(options.retry);
    this.concurrency = options.concurrency ?? 16;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new Error('anomaly store: concurrency must be a positive integer');
    }
  }

  /**
   * Stores the anomalies that are not stored yet (conditional puts) and returns the ones still to publish: those
   * just stored, and those stored before but not marked notified. Throws when any could not be stored or read.
   */
  async record(view: ViewDefinition, anomalies: readonly Anomaly[]): Promise<Anomaly[]> {
    const keep = retentionMs(view);
    const pending = await mapConcurrently(anomalies, this.concurrency, async (anomaly) => {
      const key = anomalyItemKey(anomaly);
      try {
        await withRetries(this.retry, (abortSignal) =>
          this.options.client.send(
            new PutItemCommand({
              TableName: this.options.tableName,
              Item: {
                [TABLE_KEY.partitionKey]: { S: key.pk },
                [TABLE_KEY.sortKey]: { S: key.sk },
                [ANOMALY_ATTRIBUTES.anomaly]: { S: JSON.stringify(anomaly) },
                [ANOMALY_ATTRIBUTES.dimensions]: { M: dimensionMap(view, anomaly.dimensionKey) },
                [ANOMALY_ATTRIBUTES.notified]: { BOOL: false },
                ...(keep === null
                  ? {}
                  : { [TTL_ATTRIBUTE]: { N: String(Math.ceil((anomaly.eventTimeMs + keep) / 1000)) } }),
              },
              // A redelivery (or this put's own earlier attempt) stored it first: its item, and its flag, stand.
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': TABLE_KEY.partitionKey },
            }),
            { abortSignal },
          ),
        );
        return true;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      return !(await this.isNotified(key));
    });
    return anomalies.filter((_, index) => pending[index]);
  }

  /** Marks the anomalies' items notified: their events were published. An item that is gone is not recreated. */
  async markNotified(anomalies: readonly Anomaly[]): Promise<void> {
    await mapConcurrently(anomalies, this.concurrency, async (anomaly) => {
      const key = anomalyItemKey(anomaly);
      try {
        await withRetries(this.retry, (abortSignal) =>
          this.options.client.send(
            new UpdateItemCommand({
              TableName: this.options.tableName,
              Key: { [TABLE_KEY.partitionKey]: { S: key.pk }, [TABLE_KEY.sortKey]: { S: key.sk } },
              UpdateExpression: 'SET #notified = :true',
              ConditionExpression: 'attribute_exists(#pk)',
              ExpressionAttributeNames: { '#pk': TABLE_KEY.partitionKey, '#notified': ANOMALY_ATTRIBUTES.notified },
              ExpressionAttributeValues: { ':true': { BOOL: true } },
            }),
            { abortSignal },
          ),
        );
      } catch (error) {
        // Expired already: nothing is left to mark.
        if (!isConditionFailure(error)) throw error;
      }
    });
  }

  /**
   * A page of the view's anomalies with event time in [fromMs, toMs) and the given dimension values, newest first,
   * and the token of the next page. Dimension values are a filter expression on the view's partition: anomalies
   * are rare, and a page reads at most a bounded number of items per request. Throws AnomalyPageTokenError for a
   * token it did not hand out.
   */
  async page(view: ViewDefinition, query: AnomalyQuery): Promise<AnomalyPage> {
    const { limit } = query;
    if (!Number.isInteger(limit) || limit < 1) throw new Error('anomalies listing: limit must be a positive integer');
    const unknown = Object.keys(query.dimensions).filter((field) => !view.dimensions.includes(field));
    if (unknown.length > 0) {
      throw new Error(`anomalies listing: ${unknown.join(', ')} is not a dimension of view ${view.name}`);
    }
    if (query.toMs <= query.fromMs) return { anomalies: [], next: null };
    const range = anomalySortKeyRange(query.fromMs, query.toMs);
    let after = query.after === undefined ? undefined : sortKeyOfToken(query.after);
    // DynamoDB refuses a start key outside the key condition's range (a token of another range): one above the
    // range (newest first) starts at its newest, one below it has nothing more to list.
    if (after !== undefined && after > range.to) after = undefined;
    if (after !== undefined && after < range.from) return { anomalies: [], next: null };

    const names: Record<string, string> = {
      '#pk': TABLE_KEY.partitionKey,
      '#sk': TABLE_KEY.sortKey,
      '#anomaly': ANOMALY_ATTRIBUTES.anomaly,
    };
    const values: Record<string, AttributeValue> = {
      ':pk': { S: view.name },
      ':from': { S: range.from },
      ':to': { S: range.to },
    };
    const conditions = Object.entries(query.dimensions).map(([field, value], index) => {
      names['#dimensions'] = ANOMALY_ATTRIBUTES.dimensions;
      names[`#d${index}`] = field;
      values[`:d${index}`] = { S: value };
      return `#dimensions.#d${index} = :d${index}`;
    });
    const filterExpression = conditions.length === 0 ? undefined : conditions.join(' AND ');

    const anomalies: Anomaly[] = [];
    let lastSortKey: string | undefined;
    let startKey: Record<string, AttributeValue> | undefined =
      after === undefined
        ? undefined
        : { [TABLE_KEY.partitionKey]: { S: view.name }, [TABLE_KEY.sortKey]: { S: after } };
    for (;;) {
      const remaining = limit - anomalies.length;
      const exclusiveStartKey = startKey;
      const response = await withRetries(this.retry, (abortSignal) =>
        this.options.client.send(
          new QueryCommand({
            TableName: this.options.tableName,
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
            ...(filterExpression === undefined ? {} : { FilterExpression: filterExpression }),
            ProjectionExpression: '#sk, #anomaly',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ExclusiveStartKey: exclusiveStartKey,
            ScanIndexForward: false,
            // Unfiltered, the page holds exactly what is asked for; filtered, a bounded read per page.
            Limit: filterExpression === undefined ? remaining : Math.max(remaining, FILTERED_PAGE_ITEMS),
          }),
          { abortSignal },
        ),
      );
      const items = response.Items ?? [];
      const taken = items.slice(0, remaining);
      for (const item of taken) {
        anomalies.push(JSON.parse(item[ANOMALY_ATTRIBUTES.anomaly]?.S ?? 'null') as Anomaly);
        lastSortKey = item[TABLE_KEY.sortKey]?.S;
      }
      startKey = response.LastEvaluatedKey;
      const more = taken.length < items.length || startKey !== undefined;
      if (anomalies.length >= limit || startKey === undefined) {
        return { anomalies, next: more && lastSortKey !== undefined ? tokenOf(lastSortKey) : null };
      }
    }
  }

  private async isNotified(key: { pk: string; sk: string }): Promise<boolean> {
    const { Item } = await withRetries(this.retry, (abortSignal) =>
      this.options.client.send(
        new GetItemCommand({
          TableName: this.options.tableName,
          Key: { [TABLE_KEY.partitionKey]: { S: key.pk }, [TABLE_KEY.sortKey]: { S: key.sk } },
          ProjectionExpression: '#notified',
          ExpressionAttributeNames: { '#notified': ANOMALY_ATTRIBUTES.notified },
          // The put's condition just saw the item: a stale read must not miss the flag set since.
          ConsistentRead: true,
        }),
        { abortSignal },
      ),
    );
    return Item?.[ANOMALY_ATTRIBUTES.notified]?.BOOL === true;
  }
}

function dimensionMap(view: ViewDefinition, dimensionKey: string): Record<string, AttributeValue> {
  return Object.fromEntries(
    Object.entries(dimensionValues(view, dimensionKey)).map(([field, value]) => [field, { S: value }]),
  );
}

/** A page token: the sort key of the page's last anomaly, base64url, so that it reads as opaque. */
function tokenOf(sortKey: string): string {
  return Buffer.from(sortKey, 'utf8').toString('base64url');
}

function sortKeyOfToken(token: string): string {
  const sortKey = Buffer.from(token, 'base64url').toString('utf8');
  if (!SORT_KEY.test(sortKey)) throw new AnomalyPageTokenError();
  return sortKey;
}
