import {
  measureAttributes,
  measuresFromAttributes,
  type AttributeValue,
  type StoredAttributes,
} from './aggregate-attributes';
import type { BatchAggregate } from './serving-rule';
import { batchItemKey } from './storage-keys';
import { TTL_ATTRIBUTE } from './table-layout';
import type { ViewDefinition } from './view-declaration';

/**
 * A batch view row as a DynamoDB item under its version. Items of a version are written before the manifest
 * flips to it, and expire by TTL: see batchVersionExpiresAt.
 */
export function batchItem(
  view: ViewDefinition,
  version: string,
  row: BatchAggregate,
  expiresAt: number,
): Record<string, AttributeValue> {
  const { pk, sk } = batchItemKey(view.name, version, row.dimensionKey, row.bucket);
  return {
    pk: { S: pk },
    sk: { S: sk },
    ...measureAttributes(row.measures, view.measures),
    [TTL_ATTRIBUTE]: { N: String(expiresAt) },
  };
}

/** Reads a batch item back; the caller knows the key it queried, the item knows its bucket. */
export function batchAggregateFromItem(dimensionKey: string, item: StoredAttributes): BatchAggregate {
  return { dimensionKey, bucket: Number(item.sk?.S), measures: measuresFromAttributes(item) };
}

/**
 * A batch version must stay readable for as long as realtime items would have covered its data: if batch runs
 * stop, answers are wrong once realtime items expire anyway, and the batch-age alarm fires well before either.
 */
export function batchVersionExpiresAt(
  computedAtMs: number,
  realtimeRetentionMs: number,
  batchIntervalMs: number,
): number {
  return Math.ceil((computedAtMs + Math.max(realtimeRetentionMs, 2 * batchIntervalMs) + 86_400_000) / 1000);
}
