import { decodeBins, EMPTY_BINS, encodeBins, type BinCounts } from './histogram';
import { decodeRegisters, EMPTY_REGISTERS, encodeRegisters, type HllRegisters } from './hyperloglog';
import { storedValue, type Measures, type NumericPart } from './measures';
import { COUNT_ATTRIBUTE, type StoredMeasure } from './view-declaration';

/** DynamoDB attribute values in their wire shape; the core stays free of the SDK. */
export type AttributeValue = { S: string } | { N: string };

/** What a stored item's attributes look like when read back (any other shapes are ignored). */
export type StoredAttributes = Readonly<Record<string, { S?: string; N?: string } | undefined>>;

export function numberAttribute(value: number): AttributeValue {
  if (!Number.isFinite(value)) throw new Error(`cannot store the non-finite number ${value} in DynamoDB`);
  return { N: String(value) };
}

/**
 * The count and the view's stored measures as attributes, each under its attribute name: sums, mins and maxes as
 * numbers, which the speed layer's writes ADD or compare; sums of squares (whose range can pass DynamoDB's 10^126)
 * and sketches as strings, which it replaces (realtime-update.ts).
 */
export function measureAttributes(
  measures: Measures,
  stored: readonly StoredMeasure[],
): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = { [COUNT_ATTRIBUTE]: numberAttribute(measures.count) };
  for (const measure of stored) attributes[measure.attribute] = storedAttribute(measures, measure);
  return attributes;
}

/** One stored measure's attribute value, its identity when the aggregate holds none. */
export function storedAttribute(measures: Measures, measure: StoredMeasure): AttributeValue {
  switch (measure.kind) {
    case 'distinct':
      return {
        S: encodeRegisters(measures.distinct[measure.attribute] ?? EMPTY_REGISTERS, measure.precision),
      };
    case 'histogram':
      return { S: encodeBins(measures.histogram[measure.attribute] ?? EMPTY_BINS) };
    case 'sumSquares': {
      const value = storedValue(measures, measure);
      if (!Number.isFinite(value)) throw new Error(`cannot store the non-finite sum of squares ${value}`);
      return { S: String(value) };
    }
    default:
      return numberAttribute(storedValue(measures, measure));
  }
}

/**
 * Measures from a stored item, for the view's stored attributes; an absent attribute reads as its identity, so
 * merging with it changes nothing (an item written before the attribute was declared).
 */
export function measuresFromAttributes(item: StoredAttributes | undefined, stored: readonly StoredMeasure[]): Measures {
  const numbers: Record<NumericPart, Record<string, number>> = { sum: {}, min: {}, max: {}, sumSquares: {} };
  const distinct: Record<string, HllRegisters> = {};
  const histogram: Record<string, BinCounts> = {};
  for (const measure of stored) {
    const value = item?.[measure.attribute];
    const text = value?.N ?? value?.S;
    if (text === undefined) continue;
    if (measure.kind === 'distinct') distinct[measure.attribute] = decodeRegisters(text, measure.precision);
    else if (measure.kind === 'histogram') histogram[measure.attribute] = decodeBins(text, measure.boundaries);
    else numbers[measure.kind][measure.attribute] = Number(text);
  }
  const count = item?.[COUNT_ATTRIBUTE]?.N;
  return { count: count === undefined ? 0 : Number(count), ...numbers, distinct, histogram };
}
