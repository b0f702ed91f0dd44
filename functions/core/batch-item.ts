import {
  measureAttributes,
  measuresFromAttributes,
  type AttributeValue,
  type StoredAttributes,
} from './aggregate-attributes';
import { GRANULARITY_MS } from './granularity';
import type { ArrivalWindow } from './manifest';
import type { BatchAggregate } from './serving-rule';
import { baseItemKey, bucketOfBatchSortKey, windowItemKey } from './storage-keys';
import { TTL_ATTRIBUTE } from './table-layout';
import { retentionMs, type ViewDefinition } from './view-declaration';

/** Attributes of a window row that say which window it belongs to; readers filter on them. */
export const WINDOW_ATTRIBUTES = { from: 'windowFrom', to: 'windowTo' } as const;

/**
 * How long a batch row outlives the end of its retention: a query may still be answering for a bucket that just
 * left retention, and DynamoDB deletes expired items lazily anyway, so this is a margin, not a promise.
 */
const RETENTION_GRACE_MS = 86_400_000;

/**
 * When a row of this bucket may be deleted: a day after the bucket has left the view's retention; never for a view
 * that keeps everything. A query is refused past retention (query-request.ts), so a deleted row is never missed.
 */
export function batchRowExpiresAt(view: ViewDefinition, bucket: number): number | undefined {
  const kept = retentionMs(view);
  if (kept === null) return undefined;
  return Math.ceil((bucket + GRANULARITY_MS[view.granularity] + kept + RETENTION_GRACE_MS) / 1000);
}

function rowAttributes(view: ViewDefinition, row: BatchAggregate): Record<string, AttributeValue> {
  const expiresAt = batchRowExpiresAt(view, row.bucket);
  return {
    ...measureAttributes(row.measures, view.stored),
    ...(expiresAt === undefined ? {} : { [TTL_ATTRIBUTE]: { N: String(expiresAt) } }),
  };
}

/**
 * What one arrival window added to a key and bucket. Its key is a function of the view, key, bucket and window
 * alone, so a resumed window rewrites the same items with the same content (the idempotent write of DESIGN.md §6).
 */
export function windowItem(
  view: ViewDefinition,
  window: ArrivalWindow,
  row: BatchAggregate,
): Record<string, AttributeValue> {
  const { pk, sk } = windowItemKey(view.name, row.dimensionKey, row.bucket, window.to);
  return {
    pk: { S: pk },
    sk: { S: sk },
    [WINDOW_ATTRIBUTES.from]: { N: String(window.from) },
    [WINDOW_ATTRIBUTES.to]: { N: String(window.to) },
    ...rowAttributes(view, row),
  };
}

/** A key and bucket of a rebuild's base. */
export function baseItem(view: ViewDefinition, baseId: string, row: BatchAggregate): Record<string, AttributeValue> {
  const { pk, sk } = baseItemKey(view.name, baseId, row.dimensionKey, row.bucket);
  return { pk: { S: pk }, sk: { S: sk }, ...rowAttributes(view, row) };
}

/** Reads a batch row (base or window) back; the caller knows the key it queried, the item knows its bucket. */
export function batchAggregateFromItem(
  view: Pick<ViewDefinition, 'stored'>,
  dimensionKey: string,
  item: StoredAttributes,
): BatchAggregate {
  return {
    dimensionKey,
    bucket: bucketOfBatchSortKey(item.sk?.S ?? ''),
    measures: measuresFromAttributes(item, view.stored),
  };
}
