/**
 * The limits every event is held to, in the units the stores count. Ingest, the Firehose transform, the speed layer
 * and the batch engines apply these same rules (the engines through batch-sql.ts), so that a record is accepted
 * everywhere or rejected everywhere with the same reason, and no accepted record can break a store write later.
 */

/** The largest payload Kinesis accepts for one record (data plus partition key): 1 MiB. */
export const MAX_RECORD_BYTES = 1_048_576;

/**
 * Identifiers (eventId and the dimension fields) in UTF-16 code units. The device id is the Kinesis partition key,
 * whose limit is 256; counting UTF-16 units (an emoji is two) is the stricter of the ways it is counted.
 */
export const MAX_IDENTIFIER_LENGTH = 256;

/**
 * An identifier URI-encoded, as it stands in a dimension key (dimension-key.ts), in bytes. DynamoDB limits a
 * partition key to 2,048 bytes; the longest key is a view name (63), a generation or batch version (under 40), two
 * separators and the dimension key. Three dimensions of 512 bytes with their two `|` make 1,538: it fits with room.
 * A CJK character encodes to 9 bytes, so 56 of them fit where 256 would not.
 */
export const MAX_ENCODED_IDENTIFIER_BYTES = 512;

/** The dimensions a view may declare, which the key budget above is computed for. */
export const MAX_DIMENSIONS_PER_VIEW = 3;

/** Nesting of objects and arrays anywhere in an event, extra fields included: deeper JSON breaks recursive code. */
export const MAX_JSON_DEPTH = 32;

/**
 * Event time range, epoch ms: 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z. Every bucket of every
 * granularity in it, and its end, is a date JavaScript and the API's ISO-8601 answers can represent.
 */
export const MIN_EVENT_TIME_MS = 0;
export const MAX_EVENT_TIME_MS = 253_402_300_799_999;

/**
 * Measured values: zero, or a magnitude from 1e-100 to 1e100. DynamoDB numbers hold magnitudes from 1e-130 to
 * under 1e126; a sum of up to 2^53 values of at most 1e100 stays under 1e116, and sums of values of at least 1e-100
 * are zero or at least an ulp of 1e-100 (about 1e-116), so no stored sum overflows or underflows.
 */
export const MAX_VALUE_MAGNITUDE = 1e100;
export const MIN_VALUE_MAGNITUDE = 1e-100;

/** How far event time may run ahead of arrival, unless configured (pipeline-config.ts). */
export const DEFAULT_EVENT_TIME_SKEW_MS = 86_400_000;

/** Characters encodeURIComponent leaves as they are; every other UTF-8 byte becomes three. */
const URI_UNRESERVED = /[A-Za-z0-9\-_.!~*'()]/g;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const EDGE_WHITE_SPACE = /^\s|\s$/;

/** The length of `encodeURIComponent(value)` in bytes, without building it (and without throwing on a lone surrogate). */
export function encodedIdentifierBytes(value: string): number {
  const unreserved = value.match(URI_UNRESERVED)?.length ?? 0;
  return 3 * Buffer.byteLength(value, 'utf8') - 2 * unreserved;
}

export function isWellFormedUnicode(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

/**
 * What is wrong with an identifier (eventId, a dimension value), or undefined. A value with white space at either
 * end is rejected rather than trimmed, so that what is stored is exactly what a query must ask for.
 */
export function identifierProblem(value: string): string | undefined {
  if (value.length === 0) return 'expected a non-empty string';
  if (!isWellFormedUnicode(value)) return 'expected well-formed Unicode (it has a lone surrogate)';
  if (EDGE_WHITE_SPACE.test(value)) return 'expected no white space at the start or end';
  if (value.length > MAX_IDENTIFIER_LENGTH) {
    return `expected at most ${MAX_IDENTIFIER_LENGTH} UTF-16 code units (it has ${value.length})`;
  }
  const bytes = encodedIdentifierBytes(value);
  if (bytes > MAX_ENCODED_IDENTIFIER_BYTES) {
    return `${bytes} bytes URI-encoded, above the limit of ${MAX_ENCODED_IDENTIFIER_BYTES} that keeps DynamoDB keys within 2,048 bytes`;
  }
  return undefined;
}

/** What is wrong with a measured value, or undefined. */
export function valueProblem(value: number): string | undefined {
  if (!Number.isFinite(value)) return 'expected a finite number';
  const magnitude = Math.abs(value);
  if (magnitude > MAX_VALUE_MAGNITUDE || (magnitude !== 0 && magnitude < MIN_VALUE_MAGNITUDE)) {
    return `expected 0 or a magnitude from ${MIN_VALUE_MAGNITUDE} to ${MAX_VALUE_MAGNITUDE} (DynamoDB's number range, with room for sums)`;
  }
  return undefined;
}

/** What is wrong with an event time given its arrival, or undefined. */
export function eventTimeProblem(ts: number, arrivalMs: number, skewMs: number): string | undefined {
  if (ts > arrivalMs + skewMs) return `more than ${describeDuration(skewMs)} after arrival`;
  return undefined;
}

/**
 * What is wrong with a decoded JSON value as a whole (depth, lone surrogates in any key or string), or undefined.
 * Iterative, so that it cannot itself overflow the stack on the input it exists to refuse.
 */
export function jsonShapeProblem(value: unknown): string | undefined {
  const pending: { value: unknown; depth: number; path: string }[] = [{ value, depth: 0, path: '' }];
  while (pending.length > 0) {
    const { value: current, depth, path } = pending.pop() as (typeof pending)[number];
    if (typeof current === 'string') {
      if (!isWellFormedUnicode(current))
        return `${path || 'event'}: expected well-formed Unicode (it has a lone surrogate)`;
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= MAX_JSON_DEPTH) return `${path || 'event'}: nested deeper than ${MAX_JSON_DEPTH} levels`;
    const entries = Array.isArray(current)
      ? current.map((item, index) => [`[${index}]`, item] as const)
      : Object.entries(current).map(([key, item]) => {
          if (!isWellFormedUnicode(key)) return [null, key] as const;
          return [path === '' ? key : `.${key}`, item] as const;
        });
    for (const [segment, item] of entries) {
      if (segment === null)
        return `${path || 'event'}: a field name is not well-formed Unicode (it has a lone surrogate)`;
      pending.push({ value: item, depth: depth + 1, path: `${path}${segment}` });
    }
  }
  return undefined;
}

/** A duration for messages: whole days, hours or minutes where it divides, milliseconds otherwise. */
export function describeDuration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1_000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${name}${ms === size ? '' : 's'}`;
  }
  return `${ms} ms`;
}
