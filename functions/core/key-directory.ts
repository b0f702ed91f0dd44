import { createHash } from 'node:crypto';
import type { AttributeValue, StoredAttributes } from './aggregate-attributes';
import { batchRowArrivals, BATCH_RESULT_COLUMNS, type SqlCell } from './batch-sql';
import { decodeDimensionKey, encodeDimensionKey } from './dimension-key';
import type { ViewDefinition } from './view-declaration';

/**
 * The key directory (DESIGN.md §10): one item per view and dimension key ever seen, in its own table, so that a
 * query that leaves dimensions out, a top-N and `GET /views/{view}/keys` can find the keys to read with a Query on
 * the view's partition, never a Scan of the views' tables. Both layers write it, and always before the rows of a key
 * become visible (the speed layer before its realtime items, a batch window and a rebuild before their flip, a replay
 * before its generation flips), so every key that holds data in a served answer is listed.
 *
 * Items: pk = view name, sk = directorySortKey(key); attributes `key` (the dimension key), `firstSeen` and
 * `lastSeen` (arrival times, epoch ms), and one attribute per dimension value (`d0`, `d1`, ...) that filters test.
 */
export const DIRECTORY_ATTRIBUTES = {
  key: 'key',
  firstSeen: 'firstSeen',
  lastSeen: 'lastSeen',
  dimension: (index: number) => `d${index}`,
} as const;

/**
 * DynamoDB sort keys are at most 1,024 bytes, and a dimension key may reach 1,538 (event-limits.ts). A dimension key
 * is ASCII (URI-encoded parts joined by `|`), so its length is its size: keys up to this many bytes are their own
 * sort key; longer ones keep this many bytes less 65 and end with `#` and a SHA-256, which sorts them beside their
 * prefix. `#` never appears in an encoded key, so the two forms cannot collide.
 */
export const MAX_PLAIN_SORT_KEY_BYTES = 1000;

export function directorySortKey(dimensionKey: string): string {
  if (dimensionKey.length <= MAX_PLAIN_SORT_KEY_BYTES) return dimensionKey;
  const digest = createHash('sha256').update(dimensionKey).digest('hex');
  return `${dimensionKey.slice(0, MAX_PLAIN_SORT_KEY_BYTES - 65)}#${digest}`;
}

/** A key the directory lists, with when it was first and last seen arriving (epoch ms). */
export interface DirectoryEntry {
  readonly dimensionKey: string;
  readonly firstSeenMs: number;
  readonly lastSeenMs: number;
}

/** What a layer saw of a key: the earliest and latest arrival among its records. */
export interface KeySighting {
  readonly dimensionKey: string;
  readonly firstMs: number;
  readonly lastMs: number;
}

export function directoryItemKey(view: string, dimensionKey: string): { pk: AttributeValue; sk: AttributeValue } {
  return { pk: { S: view }, sk: { S: directorySortKey(dimensionKey) } };
}

/** The dimension attributes of a directory item, for filters. */
export function directoryDimensionAttributes(dimensionKey: string): Record<string, AttributeValue> {
  return Object.fromEntries(
    decodeDimensionKey(dimensionKey).map((value, index) => [DIRECTORY_ATTRIBUTES.dimension(index), { S: value }]),
  );
}

export function directoryEntryFromItem(item: StoredAttributes): DirectoryEntry {
  return {
    dimensionKey: item[DIRECTORY_ATTRIBUTES.key]?.S ?? '',
    firstSeenMs: Number(item[DIRECTORY_ATTRIBUTES.firstSeen]?.N ?? 0),
    lastSeenMs: Number(item[DIRECTORY_ATTRIBUTES.lastSeen]?.N ?? 0),
  };
}

/** Sightings merged per key: the earliest first and the latest last arrival. */
export function mergeSightings(sightings: Iterable<KeySighting>): KeySighting[] {
  const merged = new Map<string, KeySighting>();
  for (const sighting of sightings) {
    const known = merged.get(sighting.dimensionKey);
    merged.set(
      sighting.dimensionKey,
      known === undefined
        ? sighting
        : {
            dimensionKey: sighting.dimensionKey,
            firstMs: Math.min(known.firstMs, sighting.firstMs),
            lastMs: Math.max(known.lastMs, sighting.lastMs),
          },
    );
  }
  return [...merged.values()];
}

/**
 * A directory filter: per dimension of the view (by index), the values a key must have one of. Dimensions it does
 * not name match any value. The leading dimensions that each name one value form a prefix of the sort key, which the
 * Query's key condition uses; the rest is a filter expression.
 */
export type DirectoryFilter = ReadonlyMap<number, readonly string[]>;

/** Whether a key passes a filter: the in-memory twin of the Query's conditions. */
export function matchesDirectoryFilter(dimensionKey: string, filter: DirectoryFilter): boolean {
  const values = decodeDimensionKey(dimensionKey);
  for (const [index, allowed] of filter) {
    if (!allowed.includes(values[index] ?? '')) return false;
  }
  return true;
}

/** The sort-key prefix the leading single-valued dimensions fix, or undefined when the first is not fixed. */
export function directoryPrefix(view: Pick<ViewDefinition, 'dimensions'>, filter: DirectoryFilter): string | undefined {
  const fixed: string[] = [];
  for (let index = 0; index < view.dimensions.length; index += 1) {
    const values = filter.get(index);
    if (values?.length !== 1) break;
    fixed.push(values[0] as string);
  }
  if (fixed.length === 0) return undefined;
  const prefix = encodeDimensionKey(fixed);
  // A whole key is followed by nothing; a prefix of one by `|`.
  const prefixed = fixed.length === view.dimensions.length ? prefix : `${prefix}|`;
  return prefixed.length <= MAX_PLAIN_SORT_KEY_BYTES - 65 ? prefixed : undefined;
}

const TOKEN_PREFIX = 'k1.';

/** The opaque `next` token of a listing: the sort key to continue after. */
export function encodeDirectoryToken(sortKey: string): string {
  return TOKEN_PREFIX + Buffer.from(sortKey, 'utf8').toString('base64url');
}

/** The sort key a `next` token continues after, or undefined when it is not a token this API gave. */
export function decodeDirectoryToken(token: string): string | undefined {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  const body = token.slice(TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]{1,1400}$/.test(body)) return undefined;
  const sortKey = Buffer.from(body, 'base64url').toString('utf8');
  return sortKey.length > 0 && sortKey.length <= 1024 && !sortKey.includes('\ufffd') ? sortKey : undefined;
}

/**
 * What a batch result (a window's, a rebuild's or a replay's rows) saw of each key: the earliest and latest arrival
 * of its rows' records, merged per key.
 */
export function batchRowSightings(
  view: Pick<ViewDefinition, 'dimensions'>,
  rows: Iterable<Readonly<Record<string, SqlCell>>>,
): KeySighting[] {
  const sightings: KeySighting[] = [];
  for (const row of rows) {
    const { first, last } = batchRowArrivals(row);
    const values = view.dimensions.map((_, index) => String(row[BATCH_RESULT_COLUMNS.dimension(index)] ?? ''));
    sightings.push({ dimensionKey: encodeDimensionKey(values), firstMs: first, lastMs: last });
  }
  return mergeSightings(sightings);
}
