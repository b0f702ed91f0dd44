/**
 * An item's size as DynamoDB counts it, and the capacity units a request on it consumes, after "DynamoDB item
 * sizes and formats" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)
 * and "DynamoDB read and write operations" (…/developerguide/read-write-operations.html). Realtime items hold only
 * strings and numbers, so those are the only types sized here.
 */

/** An attribute value as the SDK returns it; only S and N are sized. */
type SizedValue = { readonly S?: string; readonly N?: string };

/**
 * A string is its UTF-8 bytes; a number is about one byte per two significant digits (leading and trailing zeros
 * trimmed) plus one byte; every attribute adds its name's UTF-8 bytes.
 */
export function itemSizeBytes(item: Readonly<Record<string, SizedValue | undefined>>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    size += Buffer.byteLength(name, 'utf8');
    if (value.S !== undefined) size += Buffer.byteLength(value.S, 'utf8');
    else if (value.N !== undefined) size += numberSizeBytes(value.N);
    else throw new Error(`attribute ${name}: only strings and numbers are sized (realtime items hold nothing else)`);
  }
  return size;
}

function numberSizeBytes(text: string): number {
  const mantissa = text
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '');
  const significant = mantissa.replace(/^0+/, '').replace(/0+$/, '').length;
  return Math.ceil(Math.max(1, significant) / 2) + 1;
}

/** One write unit per started KB; an update is charged by the larger of the item's sizes before and after it. */
export function writeUnits(beforeBytes: number, afterBytes: number): number {
  return Math.max(1, Math.ceil(Math.max(beforeBytes, afterBytes) / 1024));
}

/** One read unit per started 4 KB for a strongly consistent read (the speed layer's reads are). */
export function consistentReadUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 4096));
}
