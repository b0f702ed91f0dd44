import { dimensionOf, type PipelineEvent } from './event-schema';
import type { ViewDefinition } from './view-declaration';

/**
 * A dimension key: the view's dimension values in declared order, each URI-encoded and joined by `|`.
 * Encoding keeps it unambiguous whatever the values contain, and readable in the DynamoDB console.
 */
export function encodeDimensionKey(values: readonly string[]): string {
  return values.map((value) => encodeURIComponent(value)).join('|');
}

export function decodeDimensionKey(key: string): string[] {
  return key.split('|').map((part) => decodeURIComponent(part));
}

export function dimensionKeyOf(view: ViewDefinition, event: PipelineEvent): string {
  return encodeDimensionKey(view.dimensions.map((field) => dimensionOf(event, field)));
}

/** The key as a record of field to value, for responses. */
export function dimensionValues(view: ViewDefinition, key: string): Record<string, string> {
  const values = decodeDimensionKey(key);
  return Object.fromEntries(view.dimensions.map((field, index) => [field, values[index] ?? '']));
}
