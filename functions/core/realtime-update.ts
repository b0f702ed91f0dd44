import type { AggregateKey } from './fold';
import { mergeMeasures, storedValue, type Measures } from './measures';
import {
  measuresFromAttributes,
  storedAttribute,
  numberAttribute,
  type AttributeValue,
  type StoredAttributes,
} from './aggregate-attributes';
import { parseRealtimeSortKey, realtimeItemKey } from './storage-keys';
import { TTL_ATTRIBUTE } from './table-layout';
import type { RealtimeAggregate } from './serving-rule';
import { COUNT_ATTRIBUTE, type StoredMeasure } from './view-declaration';
import { describeError } from './error-description';

export interface UpdateItemRequest {
  readonly Key: Record<string, AttributeValue>;
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, AttributeValue>;
}

/** Attribute names of a realtime item. */
export const REALTIME_ATTRIBUTES = {
  count: COUNT_ATTRIBUTE,
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
 * How the write treats a stored min (or max) attribute. DynamoDB has no min() in update expressions, so the write states
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
  /** The view's stored measures besides the count, which is always stored. */
  readonly stored: readonly StoredMeasure[];
  /** What this write adds. */
  readonly delta: Measures;
  readonly shardId: string;
  /** The highest position among the records in `delta`: the item's new watermark for the shard. */
  readonly watermark: string;
  readonly condition: WatermarkCondition;
  /** Per min or max attribute: keep or replace (absent: keep). */
  readonly extremes: Readonly<Record<string, ExtremeUpdate>>;
  /**
   * What the writer believes the item holds: each replaced attribute (isReplaced) is written as `known ⊕ delta`, on
   * condition that the item still holds exactly `known`'s encoding of it. Only its replaced parts are read; a wrong
   * belief fails the condition and costs a read, never exactness. EMPTY_MEASURES for an item not yet seen.
   */
  readonly known: Measures;
  /** TTL attribute value, epoch seconds; undefined for items that never expire (Kappa mode's served views). */
  readonly expiresAt: number | undefined;
}

/**
 * The UpdateItem for one realtime aggregate: ADD for count and sum (they commute with other shards' writes to the
 * same item), conditional SETs for min and max, compare-and-set SETs for the replaced attributes (isReplaced), the
 * shard's watermark, and the TTL. Every part is one clause of one request, so they all apply or none does. Attribute
 * names and values appear in the expressions only as placeholders (`#m3`, `:m3`, `:k3`), so the expressions' length
 * grows with the number of stored measures and never with their values: a 4 KB sketch costs no expression bytes.
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

  update.stored.forEach((measure, index) => {
    // Attribute names and values by position: measure names are the user's, and need no escaping this way.
    const name = `#m${index}`;
    const value = `:m${index}`;
    names[name] = measure.attribute;
    if (isReplaced(measure)) {
      values[value] = storedAttribute(mergeMeasures(update.known, update.delta), measure);
      if (measureHeld(update.known, measure)) {
        const expected = `:k${index}`;
        values[expected] = storedAttribute(update.known, measure);
        conditions.push(`${name} = ${expected}`);
      } else {
        conditions.push(`attribute_not_exists(${name})`);
      }
      sets.push(`${name} = ${value}`);
      return;
    }
    values[value] = numberAttribute(storedValue(update.delta, measure));
    if (measure.kind === 'sum') {
      adds.push(`${name} ${value}`);
      return;
    }
    const mode = update.extremes[measure.attribute] ?? 'keep';
    // keep: stored min <= delta min (stored max >= delta max); replace: the reverse.
    const storedBounds = (measure.kind === 'min') === (mode === 'keep') ? '<=' : '>=';
    conditions.push(`(attribute_not_exists(${name}) OR ${name} ${storedBounds} ${value})`);
    sets.push(mode === 'keep' ? `${name} = if_not_exists(${name}, ${value})` : `${name} = ${value}`);
  });

  return {
    Key: { pk: { S: pk }, sk: { S: sk } },
    UpdateExpression: `ADD ${adds.join(', ')} SET ${sets.join(', ')}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** A stored measure that realtime writes replace rather than add to or compare with. */
export type ReplacedMeasure = StoredMeasure & { readonly kind: 'sumSquares' | 'distinct' | 'histogram' };

/**
 * Whether a stored measure is replaced rather than added to or compared: a sum of squares (a string, as its range
 * passes DynamoDB's numbers), HyperLogLog registers and histogram counts, for which an update expression has no
 * operator. The write sets `known ⊕ delta` on condition that the item holds exactly the encoding of `known`.
 *
 * Why that is exact, whatever else writes the item:
 * - Other writers. Every write of the attribute is such a compare-and-set, and DynamoDB evaluates the condition and
 *   applies the update atomically: when the condition holds, the item held `known`, so it ends holding
 *   `known ⊕ delta` = stored ⊕ delta, however the stored value came to be `known` (nothing is lost when two histories
 *   reach the same value: the new value is a function of the stored one). Another shard's write in between changes
 *   the attribute, fails the condition, and the writer reads the item and merges again, so concurrent writers
 *   serialise instead of overwriting each other. Each encoding is canonical (one text per value), so equal values
 *   compare equal as strings; an item whose text is not the encoding of what it decodes to is refused at the read
 *   (readRealtimeItem) rather than retried forever.
 * - The same writer's other attributes. count and sum are ADDed and min and max compared in the same request: the
 *   replaced attributes move together with them or not at all.
 * - Redelivery. The shard's watermark condition is part of the same request, so a record at or below the watermark
 *   is never merged again (DESIGN.md §4): a first attempt requires the watermark below the batch's first position,
 *   the compare-and-set after a read requires the watermark read and merges only the records above it. That is what
 *   keeps sums of squares and histogram counts, which adding twice would change, exact. HyperLogLog registers would
 *   not even need it: a redelivered batch cannot raise a register it already raised, because max is idempotent
 *   (merging the same registers again leaves every register as it is); but they share the request, and so the
 *   guard, with the counts that do.
 */
export function isReplaced(measure: StoredMeasure): measure is ReplacedMeasure {
  return measure.kind === 'sumSquares' || measure.kind === 'distinct' || measure.kind === 'histogram';
}

/** Whether an aggregate holds a stored measure's attribute (an item written before it was declared may not). */
function measureHeld(measures: Measures, measure: StoredMeasure): boolean {
  const part: Readonly<Record<string, unknown>> = measures[measure.kind];
  return part[measure.attribute] !== undefined;
}

/** What a read of a realtime item tells the compare-and-set path. */
export interface StoredRealtimeItem {
  readonly measures: Measures;
  /** The watermark of the shard asked about, or null when the shard has never written the item. */
  readonly watermark: string | null;
}

/**
 * A realtime item whose replaced attributes a write cannot compare with: one does not decode as the view declares it
 * (a corrupt value, or a sketch of another precision or other boundaries under the same name), or its text is not
 * the canonical encoding of what it decodes to, so that no compare-and-set could ever match it. Retrying cannot
 * help, so the speed layer sets the item's records aside rather than stop the shard on them (DESIGN.md §4).
 */
export class UnreadableRealtimeItemError extends Error {
  override readonly name = 'UnreadableRealtimeItemError';
}

/**
 * A read item, for the compare-and-set after a failed condition. Throws UnreadableRealtimeItemError when a replaced
 * attribute is not the encoding a write would compare it with.
 */
export function readRealtimeItem(
  item: StoredAttributes | undefined,
  shardId: string,
  stored: readonly StoredMeasure[],
): StoredRealtimeItem {
  let measures: Measures;
  try {
    measures = measuresFromAttributes(item, stored);
  } catch (error) {
    throw new UnreadableRealtimeItemError(`the stored item does not decode: ${describeError(error)}`);
  }
  for (const measure of stored) {
    const value = item?.[measure.attribute];
    if (value === undefined || !isReplaced(measure)) continue;
    let encoded: AttributeValue | undefined;
    try {
      encoded = storedAttribute(measures, measure);
    } catch {
      encoded = undefined;
    }
    if (value.S === undefined || encoded === undefined || !('S' in encoded) || encoded.S !== value.S) {
      throw new UnreadableRealtimeItemError(
        `the stored ${measure.kind} ${JSON.stringify(measure.attribute)} is not the encoding of its value`,
      );
    }
  }
  return { measures, watermark: item?.[watermarkAttribute(shardId)]?.S ?? null };
}

/**
 * The extreme updates whose conditions hold for known stored values: replace where the delta passes the stored
 * extreme, keep otherwise (and where none is stored, since keep sets an absent attribute).
 */
export function extremeUpdatesFor(
  known: Measures,
  delta: Measures,
  stored: readonly StoredMeasure[],
): Record<string, ExtremeUpdate> {
  const extremes: Record<string, ExtremeUpdate> = {};
  for (const measure of stored) {
    if (measure.kind !== 'min' && measure.kind !== 'max') continue;
    const before = known[measure.kind][measure.attribute];
    const after = delta[measure.kind][measure.attribute];
    const passes =
      before !== undefined && after !== undefined && (measure.kind === 'min' ? after < before : after > before);
    extremes[measure.attribute] = passes ? 'replace' : 'keep';
  }
  return extremes;
}

/**
 * TTL of a realtime item: it must outlast the batch run that covers its epoch, with room for a missed run
 * (DESIGN.md §3), so it counts from the end of the epoch, never from the time of the write.
 */
export function realtimeExpiresAt(key: AggregateKey, epochLengthMs: number, retentionMs: number): number {
  return Math.ceil((key.epoch + epochLengthMs + retentionMs) / 1000);
}

/** A realtime item as the serving layer reads it: the caller knows the dimension key it queried. */
export function realtimeAggregateFromItem(
  dimensionKey: string,
  item: StoredAttributes,
  stored: readonly StoredMeasure[],
): RealtimeAggregate {
  return { dimensionKey, ...parseRealtimeSortKey(item.sk?.S ?? ''), measures: measuresFromAttributes(item, stored) };
}
