import { storedValue, type Measures } from './measures';
import { COUNT_ATTRIBUTE, type StoredMeasure } from './view-declaration';

/** DynamoDB attribute values in their wire shape; the core stays free of the SDK. */
export type AttributeValue = { S: string } | { N: string };

/** What a stored item's attributes look like when read back (any other shapes are ignored). */
export type StoredAttributes = Readonly<Record<string, { S?: string; N?: string } | undefined>>;

export function numberAttribute(value: number): AttributeValue {
  if (!Number.isFinite(value)) throw new Error(`cannot store the non-finite number ${value} in DynamoDB`);
  return { N: String(value) };
}

/** The count and the view's stored measures as attributes, each under its attribute name. */
export function measureAttributes(
  measures: Measures,
  stored: readonly StoredMeasure[],
): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = { [COUNT_ATTRIBUTE]: numberAttribute(measures.count) };
  for (const measure of stored) attributes[measure.attribute] = numberAttribute(storedValue(measures, measure));
  return attributes;
}

/**
 * Measures from a stored item, for the view's stored attributes; an absent attribute reads as its identity, so
 * merging with it changes nothing (an item written before the attribute was declared).
 */
export function measuresFromAttributes(item: StoredAttributes | undefined, stored: readonly StoredMeasure[]): Measures {
  const sum: Record<string, number> = {};
  const min: Record<string, number> = {};
  const max: Record<string, number> = {};
  const parts = { sum, min, max };
  for (const measure of stored) {
    const text = item?.[measure.attribute]?.N;
    if (text !== undefined) parts[measure.kind][measure.attribute] = Number(text);
  }
  const count = item?.[COUNT_ATTRIBUTE]?.N;
  return { count: count === undefined ? 0 : Number(count), sum, min, max };
}
