import type { Measures } from './measures';
import type { Measure } from './view-declaration';

/** DynamoDB attribute values in their wire shape; the core stays free of the SDK. */
export type AttributeValue = { S: string } | { N: string };

/** What a stored item's attributes look like when read back (any other shapes are ignored). */
export type StoredAttributes = Readonly<Record<string, { S?: string; N?: string } | undefined>>;

/** Attribute names of the measures in realtime and batch items alike. */
export const MEASURE_ATTRIBUTES: Readonly<Record<Measure, string>> = {
  count: 'count',
  sum: 'sum',
  min: 'min',
  max: 'max',
};

export function numberAttribute(value: number): AttributeValue {
  if (!Number.isFinite(value)) throw new Error(`cannot store the non-finite number ${value} in DynamoDB`);
  return { N: String(value) };
}

/** The view's declared measures as attributes; undeclared measures are not stored. */
export function measureAttributes(measures: Measures, declared: readonly Measure[]): Record<string, AttributeValue> {
  return Object.fromEntries(
    declared.map((measure) => [MEASURE_ATTRIBUTES[measure], numberAttribute(measures[measure])]),
  );
}

/** Measures from a stored item; an absent measure reads as its identity, so merging with it changes nothing. */
export function measuresFromAttributes(item: StoredAttributes | undefined): Measures {
  const numberAt = (name: string, identity: number) => {
    const text = item?.[name]?.N;
    return text === undefined ? identity : Number(text);
  };
  return {
    count: numberAt(MEASURE_ATTRIBUTES.count, 0),
    sum: numberAt(MEASURE_ATTRIBUTES.sum, 0),
    min: numberAt(MEASURE_ATTRIBUTES.min, Infinity),
    max: numberAt(MEASURE_ATTRIBUTES.max, -Infinity),
  };
}
