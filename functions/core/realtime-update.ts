import type { AggregateKey } from './fold';
import type { Measures } from './measures';
import {
  MEASURE_ATTRIBUTES,
  measuresFromAttributes,
  numberAttribute,
  type AttributeValue,
  type StoredAttributes,
} from './aggregate-attributes';
import { parseRealtimeSortKey, realtimeItemKey } from './storage-keys';
import { TTL_ATTRIBUTE } from './table-layout';
import type { RealtimeAggregate } from './serving-rule';
import type { Measure } from './view-declaration';

export interface UpdateItemRequest {
  readonly Key: Record<string, AttributeValue>;
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, AttributeValue>;
}

/** Attribute names of a realtime item. */
export const REALTIME_ATTRIBUTES = {
  ...MEASURE_ATTRIBUTES,
  bucket: 'bucket',
  epoch: 'epoch',
  expiresAt: TTL_ATTRIBUTE,
} as const;

/**
 * Each shard's watermark is a top-level attribute named after the shard: an update cannot SET a path inside a map
 * attribute that does not exist yet, so a nested map would fail on an item's first write (DESIGN.md §4).
 */
export function watermarkAttribute(shardId: string): string {
  return `wm_${shardId}`;
}

/**
 * How the write treats a stored min (or max). DynamoDB has no min() in update expressions, so the write states
 * an assumption and makes it the condition:
 * - `keep`: the stored value, if any, is already at or below the delta's; it is set only on the item's first write.
 * - `replace`: the delta's value is at or below the stored one, and replaces it.
 * Both are exact whenever their condition holds; a failed condition is resolved by reading the item.
 */
export type ExtremeUpdate = 'keep' | 'replace';

/**
 * The watermark condition: `below` a position for a first attempt (the batch's first position: DESIGN.md §4), or
 * `equals` the watermark read back (null: absent) for the compare-and-set after a failed condition.
 */
export type WatermarkCondition = { readonly below: string } | { readonly equals: string | null };

export interface RealtimeUpdate {
  readonly key: AggregateKey;
  readonly generation: number;
  /** The view's stored measures: count is always stored. */
  readonly measures: readonly Measure[];
  /** What this write adds. */
  readonly delta: Measures;
  readonly shardId: string;
  /** The highest position among the records in `delta`: the item's new watermark for the shard. */
  readonly watermark: string;
  readonly condition: WatermarkCondition;
  readonly min: ExtremeUpdate;
  readonly max: ExtremeUpdate;
  /** TTL attribute value, epoch seconds; undefined for items that never expire (Kappa mode's served views). */
  readonly expiresAt: number | undefined;
}

/**
 * The UpdateItem for one realtime aggregate: ADD for count and sum (they commute with other shards' writes to the
 * same item), conditional SETs for min and max, the shard's watermark, and the TTL.
 */
export function realtimeUpdateRequest(update: RealtimeUpdate): UpdateItemRequest {
  const { pk, sk } = realtimeItemKey(update.key, update.generation);
  const names: Record<string, string> = {
    '#count': REALTIME_ATTRIBUTES.count,
    '#wm': watermarkAttribute(update.shardId),
    '#bucket': REALTIME_ATTRIBUTES.bucket,
    '#epoch': REALTIME_ATTRIBUTES.epoch,
  };
  const values: Record<string, AttributeValue> = {
    ':count': numberAttribute(update.delta.count),
    ':wm': { S: update.watermark },
    ':bucket': numberAttribute(update.key.bucket),
    ':epoch': numberAttribute(update.key.epoch),
  };
  const adds = ['#count :count'];
  const sets = ['#wm = :wm', '#bucket = :bucket', '#epoch = :epoch'];
  if (update.expiresAt !== undefined) {
    names['#expiresAt'] = REALTIME_ATTRIBUTES.expiresAt;
    values[':expiresAt'] = numberAttribute(update.expiresAt);
    sets.push('#expiresAt = :expiresAt');
  }
  const conditions: string[] = [];

  if ('below' in update.condition) {
    values[':first'] = { S: update.condition.below };
    conditions.push('(attribute_not_exists(#wm) OR #wm < :first)');
  } else if (update.condition.equals === null) {
    conditions.push('attribute_not_exists(#wm)');
  } else {
    values[':expectedWm'] = { S: update.condition.equals };
    conditions.push('#wm = :expectedWm');
  }

  if (update.measures.includes('sum')) {
    names['#sum'] = REALTIME_ATTRIBUTES.sum;
    values[':sum'] = numberAttribute(update.delta.sum);
    adds.push('#sum :sum');
  }
  for (const extreme of ['min', 'max'] as const) {
    if (!update.measures.includes(extreme)) continue;
    const name = `#${extreme}`;
    const value = `:${extreme}`;
    names[name] = REALTIME_ATTRIBUTES[extreme];
    values[value] = numberAttribute(update.delta[extreme]);
    const mode = update[extreme];
    // keep: stored min <= delta min (stored max >= delta max); replace: the reverse.
    const storedBounds = (extreme === 'min') === (mode === 'keep') ? '<=' : '>=';
    conditions.push(`(attribute_not_exists(${name}) OR ${name} ${storedBounds} ${value})`);
    sets.push(mode === 'keep' ? `${name} = if_not_exists(${name}, ${value})` : `${name} = ${value}`);
  }

  return {
    Key: { pk: { S: pk }, sk: { S: sk } },
    UpdateExpression: `ADD ${adds.join(', ')} SET ${sets.join(', ')}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** What a read of a realtime item tells the compare-and-set path. */
export interface StoredRealtimeItem {
  readonly measures: Measures;
  /** The watermark of the shard asked about, or null when the shard has never written the item. */
  readonly watermark: string | null;
  readonly hasMin: boolean;
  readonly hasMax: boolean;
}

export function readRealtimeItem(item: StoredAttributes | undefined, shardId: string): StoredRealtimeItem {
  return {
    measures: measuresFromAttributes(item),
    watermark: item?.[watermarkAttribute(shardId)]?.S ?? null,
    hasMin: item?.[REALTIME_ATTRIBUTES.min]?.N !== undefined,
    hasMax: item?.[REALTIME_ATTRIBUTES.max]?.N !== undefined,
  };
}

/** After a read, the extreme updates whose conditions hold for the stored values. */
export function extremeUpdatesFor(
  stored: StoredRealtimeItem,
  delta: Measures,
): { min: ExtremeUpdate; max: ExtremeUpdate } {
  return {
    min: stored.hasMin && stored.measures.min > delta.min ? 'replace' : 'keep',
    max: stored.hasMax && stored.measures.max < delta.max ? 'replace' : 'keep',
  };
}

/**
 * TTL of a realtime item: it must outlast the batch run that covers its epoch, with room for a missed run
 * (DESIGN.md §3), so it counts from the end of the epoch, never from the time of the write.
 */
export function realtimeExpiresAt(key: AggregateKey, epochLengthMs: number, retentionMs: number): number {
  return Math.ceil((key.epoch + epochLengthMs + retentionMs) / 1000);
}

/** A realtime item as the serving layer reads it: the caller knows the dimension key it queried. */
export function realtimeAggregateFromItem(dimensionKey: string, item: StoredAttributes): RealtimeAggregate {
  return { dimensionKey, ...parseRealtimeSortKey(item.sk?.S ?? ''), measures: measuresFromAttributes(item) };
}
