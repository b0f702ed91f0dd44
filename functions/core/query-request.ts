import { decodeDimensionKey, encodeDimensionKey } from './dimension-key';
import { identifierProblem, MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS } from './event-limits';
import { bucketStart, canRollUp, GRANULARITIES, GRANULARITY_MS, isGranularity, type Granularity } from './granularity';
import { decodeDirectoryToken, type DirectoryFilter } from './key-directory';
import { isOrderable, orderableMeasures } from './key-ranking';
import { DEFAULT_QUANTILES } from './measures';
import { firstRetainedBucket, type MeasureDefinition, type ViewDefinition } from './view-declaration';

/** Hard limits of one query: each bounds the DynamoDB reads a request can cause. */
export interface QueryLimits {
  /**
   * Combinations of the values given per dimension: the keys of a full-key query or a top-N that gives every
   * dimension, the series (groups) of a group-by, the filter of a top-N. @default 50
   */
  readonly maxKeys: number;
  /** Buckets at the view's own granularity per key: 50,000 allows 30 days at minute granularity. @default 50000 */
  readonly maxBucketsPerKey: number;
  /** Keys × buckets, counting every key a group-by or top-N merges. @default 200000 */
  readonly maxBuckets: number;
  /**
   * Directory keys a group-by or top-N merges (or ranks); fewer when keys × buckets would pass maxBuckets. Reading
   * the key directory stops as soon as this is passed. @default 1000
   */
  readonly maxMergedKeys: number;
  /** The largest `limit` of a top-N. @default 100 */
  readonly maxTopLimit: number;
  /** The largest `limit` of a page of GET /views/{view}/keys. @default 1000 */
  readonly maxKeysPage: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxKeys: 50,
  maxBucketsPerKey: 50_000,
  maxBuckets: 200_000,
  maxMergedKeys: 1000,
  maxTopLimit: 100,
  maxKeysPage: 1000,
};

/** The keys a top-N answers when `limit` is not given. */
export const DEFAULT_TOP_LIMIT = 10;
/** The entries a page of GET /views/{view}/keys holds when `limit` is not given. */
export const DEFAULT_KEYS_PAGE = 100;

/**
 * The most quantiles one query may ask for: each is answered in every bucket of every series (and in both parts of
 * it), so they multiply the size of an answer.
 */
export const MAX_QUANTILES = 20;

/** How far back a query without `from` reaches. */
export const DEFAULT_RANGE_MS = 86_400_000;

export const TOP_ORDERS = ['desc', 'asc'] as const;
export type TopOrder = (typeof TOP_ORDERS)[number];

/**
 * Which keys a query answers, and how:
 * - `keys`: every dimension given (no orderBy): one series per key of the product of the values;
 * - `group`: some dimensions left out: one series per combination of the given values, merged over every key of the
 *   directory that has them;
 * - `top`: orderBy: the `limit` keys that rank first by a measure over the range, each its own series.
 */
export type KeySelection =
  | { readonly mode: 'keys'; readonly dimensionKeys: readonly string[] }
  | {
      readonly mode: 'group';
      /** The dimensions given, in the view's order: the series' keys hold only these. */
      readonly groupBy: readonly string[];
      /** Each combination of the given values, as a dimension key of the given dimensions: one series each. */
      readonly groups: readonly string[];
      /** The keys of the directory to merge: those with one of the given values of each given dimension. */
      readonly filter: DirectoryFilter;
    }
  | {
      readonly mode: 'top';
      readonly orderBy: MeasureDefinition;
      readonly order: TopOrder;
      readonly limit: number;
      /** The keys to rank when every dimension is given; null: those of the directory that pass the filter. */
      readonly dimensionKeys: readonly string[] | null;
      readonly filter: DirectoryFilter;
    };

/** A validated query of one view. */
export interface ViewQuery {
  readonly view: ViewDefinition;
  readonly granularity: Granularity;
  /** Start of the first answered bucket (inclusive), aligned to the requested granularity. */
  readonly from: number;
  /** End of the range (exclusive): buckets that start before it are answered. */
  readonly to: number;
  readonly selection: KeySelection;
  /** The view-granularity buckets to read, inclusive. */
  readonly firstBucket: number;
  readonly lastBucket: number;
  /** Buckets per key read: (lastBucket - firstBucket) / granularity + 1. */
  readonly bucketsPerKey: number;
  /** The most directory keys a group-by or top-N of this query may merge (QueryLimits.maxMergedKeys and maxBuckets). */
  readonly maxMergedKeys: number;
  /** The quantiles each histogram measure answers, in the order given; DEFAULT_QUANTILES when none are. */
  readonly quantiles: readonly number[];
}

export type QueryParseResult = { ok: true; query: ViewQuery } | { ok: false; status: 400; errors: string[] };

const RANGE_PARAMETERS = ['from', 'to', 'granularity'] as const;
const TOP_PARAMETERS = ['orderBy', 'order', 'limit'] as const;
const RESERVED: readonly string[] = [...RANGE_PARAMETERS, ...TOP_PARAMETERS, 'quantiles'];

/** The times a query may name: those events may carry (event-limits.ts), so every answer's dates can be written. */
export const QUERY_TIME_RANGE = `${iso(MIN_EVENT_TIME_MS)} to ${iso(MAX_EVENT_TIME_MS)} (epoch ms ${MIN_EVENT_TIME_MS} to ${MAX_EVENT_TIME_MS})`;

/**
 * Parses `GET /views/{view}` parameters. A dimension left out is grouped over (or ranked over, with orderBy): the
 * keys that have it come from the key directory, so that every read is still a DynamoDB Query on a known partition
 * key, never a scan. Errors name the parameter. Dimension values are held to the rule ingest holds them to
 * (identifierProblem), untrimmed, so that a query can ask for exactly the keys that can be stored and is told why
 * when it cannot.
 */
export function parseViewQuery(
  view: ViewDefinition,
  parameters: Readonly<Record<string, readonly string[] | undefined>>,
  nowMs: number,
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
): QueryParseResult {
  const { given, errors, single } = readParameters(parameters);

  unknownParameters(view, given, RESERVED, errors);
  const valuesPerDimension = dimensionValuesOf(view, given, errors);

  const granularityText = single('granularity') ?? view.granularity;
  const allowed = GRANULARITIES.filter((g) => canRollUp(view.granularity, g));
  let granularity: Granularity = view.granularity;
  if (!isGranularity(granularityText) || !canRollUp(view.granularity, granularityText)) {
    errors.push(
      `granularity: expected one of ${allowed.join(', ')} for view ${view.name}, got ${JSON.stringify(granularityText)}`,
    );
  } else {
    granularity = granularityText;
  }

  const top = parseTop(view, single('orderBy'), single('order'), single('limit'), limits, errors);
  const quantiles = parseQuantiles(view, single('quantiles'), errors);

  const to = parseTime('to', single('to'), nowMs, errors);
  const fromRaw = parseTime('from', single('from'), Math.max(MIN_EVENT_TIME_MS, to - DEFAULT_RANGE_MS), errors);
  if (errors.length > 0) return { ok: false, status: 400, errors };
  if (fromRaw >= to)
    return { ok: false, status: 400, errors: [`from: must be before to (from ${iso(fromRaw)}, to ${iso(to)})`] };

  const from = bucketStart(fromRaw, granularity);
  const firstBucket = bucketStart(from, view.granularity);
  const lastBucket = bucketStart(to - 1, view.granularity);
  const bucketsPerKey = (lastBucket - firstBucket) / GRANULARITY_MS[view.granularity] + 1;
  const givenValues = valuesPerDimension.filter((values) => values.length > 0);
  const everyDimension = givenValues.length === view.dimensions.length;
  const combinations = givenValues.reduce((product, values) => product * values.length, 1);
  if (combinations > limits.maxKeys) {
    errors.push(
      everyDimension && top === undefined
        ? `dimensions: ${combinations} keys requested, above the limit of ${limits.maxKeys} per request`
        : `dimensions: ${combinations} combinations of the values given, above the limit of ${limits.maxKeys} per request`,
    );
  }
  if (bucketsPerKey > limits.maxBucketsPerKey) {
    errors.push(
      `from/to: the range covers ${bucketsPerKey} ${view.granularity} buckets, above the limit of ` +
        `${limits.maxBucketsPerKey} per key`,
    );
  }
  // Keys known up front are checked here; a group-by's or top-N's directory keys against maxMergedKeys as read.
  if (everyDimension && combinations * bucketsPerKey > limits.maxBuckets) {
    errors.push(
      `from/to: ${combinations} keys × ${bucketsPerKey} buckets is above the limit of ${limits.maxBuckets} per request`,
    );
  }
  if (errors.length > 0) return { ok: false, status: 400, errors };

  const filter: DirectoryFilter = new Map(
    valuesPerDimension.flatMap((values, index): [number, readonly string[]][] =>
      values.length > 0 ? [[index, values]] : [],
    ),
  );
  const allKeys = () => cartesian(valuesPerDimension).map(encodeDimensionKey);
  let selection: KeySelection;
  if (top !== undefined) selection = { mode: 'top', ...top, dimensionKeys: everyDimension ? allKeys() : null, filter };
  else if (everyDimension) selection = { mode: 'keys', dimensionKeys: allKeys() };
  else {
    selection = {
      mode: 'group',
      groupBy: view.dimensions.filter((_, index) => filter.has(index)),
      groups: cartesian(givenValues).map(encodeDimensionKey),
      filter,
    };
  }
  return {
    ok: true,
    query: {
      view,
      granularity,
      from,
      to,
      selection,
      firstBucket,
      lastBucket,
      bucketsPerKey,
      maxMergedKeys: Math.min(limits.maxMergedKeys, Math.floor(limits.maxBuckets / bucketsPerKey)),
      quantiles,
    },
  };
}

/**
 * `quantiles`: comma-separated decimals from 0 to 1 (0 is the smallest value counted, 1 the largest), each once, at
 * most MAX_QUANTILES; only for a view with a histogram measure, where they would otherwise be silently ignored.
 * Decimals only (no exponents, no signs): the answer keys each quantile by its number's decimal text, so `0.50`
 * is answered under `0.5`, and given twice in two spellings is a repeat.
 */
function parseQuantiles(view: ViewDefinition, text: string | undefined, errors: string[]): readonly number[] {
  if (text === undefined) return DEFAULT_QUANTILES;
  if (!view.measures.some((measure) => measure.kind === 'histogram')) {
    errors.push(
      `quantiles: view ${view.name} has no histogram measure (its measures: ` +
        `${view.measures.map((m) => m.name).join(', ')}); quantiles apply to histogram measures only`,
    );
    return DEFAULT_QUANTILES;
  }
  const items = text.split(',');
  if (items.length > MAX_QUANTILES) {
    errors.push(`quantiles: expected at most ${MAX_QUANTILES} quantiles, got ${items.length}`);
    return DEFAULT_QUANTILES;
  }
  const quantiles: number[] = [];
  for (const item of items) {
    const q = /^(\d+(\.\d*)?|\.\d+)$/.test(item) ? Number(item) : NaN;
    if (!(q >= 0 && q <= 1)) {
      errors.push(`quantiles: expected numbers from 0 to 1 separated by commas, got ${quote(item)}`);
    } else if (quantiles.includes(q)) {
      errors.push(`quantiles: expected each quantile once, got ${q} more than once`);
    } else {
      quantiles.push(q);
    }
  }
  return quantiles;
}

/** orderBy, order and limit: a top-N when orderBy is given; order and limit mean nothing without it. */
function parseTop(
  view: ViewDefinition,
  orderBy: string | undefined,
  orderText: string | undefined,
  limitText: string | undefined,
  limits: QueryLimits,
  errors: string[],
): { orderBy: MeasureDefinition; order: TopOrder; limit: number } | undefined {
  if (orderBy === undefined) {
    for (const [name, text] of [
      ['order', orderText],
      ['limit', limitText],
    ] as const) {
      if (text !== undefined) errors.push(`${name}: only with orderBy=<measure>, which ranks keys (a top-N)`);
    }
    return undefined;
  }
  const measure = view.measures.find((candidate) => candidate.name === orderBy);
  const orderable = orderableMeasures(view)
    .map((m) => m.name)
    .join(', ');
  if (measure === undefined) {
    errors.push(`orderBy: expected a measure of view ${view.name} (${orderable}), got ${quote(orderBy)}`);
  } else if (!isOrderable(measure)) {
    errors.push(
      `orderBy: ${measure.name} is a histogram, which answers quantiles, not one number to rank keys by ` +
        `(measures of view ${view.name} keys can be ranked by: ${orderable})`,
    );
  }
  const order = orderText ?? 'desc';
  if (!(TOP_ORDERS as readonly string[]).includes(order)) {
    errors.push(`order: expected ${TOP_ORDERS.join(' or ')}, got ${quote(order)}`);
  }
  const limit = parseCount('limit', limitText, DEFAULT_TOP_LIMIT, limits.maxTopLimit, errors);
  if (measure === undefined || !isOrderable(measure) || limit === undefined) return undefined;
  return { orderBy: measure, order: order as TopOrder, limit };
}

/** A page of `GET /views/{view}/keys`. */
export interface KeyListingQuery {
  readonly view: ViewDefinition;
  /** Keys with one of the given values of each given dimension; every key when none is given. */
  readonly filter: DirectoryFilter;
  readonly limit: number;
  /** The sort key the page continues after, from `next`. */
  readonly after: string | undefined;
}

export type KeyListingParseResult = { ok: true; query: KeyListingQuery } | { ok: false; status: 400; errors: string[] };

/**
 * The caller's parameters, the errors found so far, and a reader of a parameter given at most once. Parameter names
 * come from the caller: a Map, so `constructor` or `__proto__` are names like any other, never members inherited from
 * Object.prototype.
 */
export function readParameters(parameters: Readonly<Record<string, readonly string[] | undefined>>) {
  const given = new Map(Object.entries(parameters));
  const errors: string[] = [];
  const single = (name: string): string | undefined => {
    const values = given.get(name);
    if (values !== undefined && values.length > 1) errors.push(`${name}: give it once`);
    return values?.[0];
  };
  return { given, errors, single };
}

const LISTING_PARAMETERS: readonly string[] = ['limit', 'next'];

/** Parses `GET /views/{view}/keys` parameters: dimension values (any, or none), limit and next. Errors name the parameter. */
export function parseKeyListing(
  view: ViewDefinition,
  parameters: Readonly<Record<string, readonly string[] | undefined>>,
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
): KeyListingParseResult {
  const { given, errors, single } = readParameters(parameters);
  unknownParameters(view, given, LISTING_PARAMETERS, errors);
  const valuesPerDimension = dimensionValuesOf(view, given, errors);
  const limit = parseCount('limit', single('limit'), DEFAULT_KEYS_PAGE, limits.maxKeysPage, errors);
  const next = single('next');
  const after = next === undefined ? undefined : decodeDirectoryToken(next);
  if (next !== undefined && after === undefined) {
    errors.push(`next: not a token this API gave, got ${quote(next)} (pass the next of the previous page as it is)`);
  }
  if (errors.length > 0 || limit === undefined) return { ok: false, status: 400, errors };
  return {
    ok: true,
    query: {
      view,
      filter: new Map(
        valuesPerDimension.flatMap((values, index): [number, readonly string[]][] =>
          values.length > 0 ? [[index, values]] : [],
        ),
      ),
      limit,
      after,
    },
  };
}

/**
 * Why a group-by or top-N may not merge the keys the directory holds for it, once more than `query.maxMergedKeys`
 * match: the message says how many, what bounds them, and what to do.
 */
export function tooManyKeysProblem(query: ViewQuery, limits: QueryLimits = DEFAULT_QUERY_LIMITS): string {
  const { view, selection, maxMergedKeys } = query;
  const filter = selection.mode === 'keys' ? new Map<number, readonly string[]>() : selection.filter;
  const matching =
    filter.size === 0
      ? `of view ${view.name}`
      : `of view ${view.name} with ${[...filter]
          .map(([index, values]) => `${view.dimensions[index]}=${values.map(quote).join(',')}`)
          .join(' and ')}`;
  const what = selection.mode === 'top' ? 'a top-N ranks' : 'a group-by merges';
  return (
    `dimensions: more than ${maxMergedKeys} keys ${matching}; ${what} at most ${maxMergedKeys} keys over ` +
    `${query.bucketsPerKey} ${view.granularity} buckets (at most ${limits.maxMergedKeys} keys, and keys × buckets ` +
    `at most ${limits.maxBuckets}). Give more dimensions or values that match fewer keys, query a view with fewer ` +
    'or coarser buckets, or a shorter range (from/to).'
  );
}

/** The dimension key of the given dimensions only: the group a directory key falls in. */
export function groupKeyOf(filter: DirectoryFilter, dimensionKey: string): string {
  const values = decodeDimensionKey(dimensionKey);
  return encodeDimensionKey([...filter.keys()].sort((a, b) => a - b).map((index) => values[index] ?? ''));
}

export function unknownParameters(
  view: ViewDefinition,
  given: ReadonlyMap<string, unknown>,
  reserved: readonly string[],
  errors: string[],
): void {
  for (const name of given.keys()) {
    if (!reserved.includes(name) && !(view.dimensions as readonly string[]).includes(name)) {
      errors.push(
        `${describeName(name)}: unknown dimension of view ${view.name} (its dimensions are ${view.dimensions.join(', ')}; ` +
          `other parameters are ${reserved.join(', ')})`,
      );
    }
  }
}

/** Per dimension of the view, the distinct values given (none: left out); comma is the separator. */
export function dimensionValuesOf(
  view: ViewDefinition,
  given: ReadonlyMap<string, readonly string[] | undefined>,
  errors: string[],
): string[][] {
  return view.dimensions.map((field) => {
    const distinct = [...new Set((given.get(field) ?? []).flatMap((value) => value.split(',')))];
    for (const value of distinct) {
      const problem = identifierProblem(value);
      if (problem !== undefined) errors.push(`${field}: ${problem}, got ${quote(value)}`);
    }
    return distinct;
  });
}

/** A whole number from 1 to `max`, or the default when not given; undefined after an error. */
export function parseCount(
  name: string,
  text: string | undefined,
  fallback: number,
  max: number,
  errors: string[],
): number | undefined {
  if (text === undefined) return fallback;
  const count = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(count >= 1 && count <= max)) {
    errors.push(`${name}: expected a whole number from 1 to ${max}, got ${quote(text)}`);
    return undefined;
  }
  return count;
}

/**
 * A time parameter: epoch milliseconds or an ISO-8601 date-time with a zone, within the range events may carry.
 * Beyond it JavaScript dates (and the answer's ISO-8601 strings) run out, so it is refused with the range.
 */
export function parseTime(name: string, text: string | undefined, fallback: number, errors: string[]): number {
  if (text === undefined) return fallback;
  let ms: number | undefined;
  if (/^-?\d+$/.test(text)) ms = Number(text);
  else if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(text) && Number.isFinite(Date.parse(text))) {
    ms = Date.parse(text);
  }
  if (ms === undefined) {
    errors.push(`${name}: expected epoch milliseconds or an ISO-8601 date-time with a zone, got ${quote(text)}`);
    return fallback;
  }
  if (ms < MIN_EVENT_TIME_MS || ms > MAX_EVENT_TIME_MS) {
    errors.push(`${name}: expected a time from ${QUERY_TIME_RANGE}, got ${quote(text)}`);
    return fallback;
  }
  return ms;
}

/** A caller's text in a message: quoted, and cut short so that a 10 KB value does not make a 10 KB message. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/** A parameter name in a message: as it is when it reads as a name, quoted otherwise (empty, spaces, very long). */
function describeName(name: string): string {
  return /^[A-Za-z_$][\w$.-]{0,63}$/.test(name) ? name : quote(name);
}

function cartesian(lists: readonly (readonly string[])[]): string[][] {
  return lists.reduce<string[][]>(
    (combinations, list) => combinations.flatMap((prefix) => list.map((value) => [...prefix, value])),
    [[]],
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Why a query reaches past the view's retention (DESIGN.md §6), naming the views that still cover its range; or
 * undefined when the view keeps every bucket the query asks for. A partial answer is never given: the rows of
 * buckets past retention expire, so the answer would silently miss them.
 */
export function retentionProblem(
  view: ViewDefinition,
  views: readonly ViewDefinition[],
  fromMs: number,
  nowMs: number,
): string | undefined {
  const kept = firstRetainedBucket(view, nowMs);
  if (fromMs >= kept) return undefined;
  const covering = views
    .filter(
      (other) =>
        other.name !== view.name && bucketStart(fromMs, other.granularity) >= firstRetainedBucket(other, nowMs),
    )
    .map(
      (other) =>
        `${other.name} (${other.granularity} buckets by ${other.dimensions.join(', ')}, ` +
        `${other.retentionDays === null ? 'kept for ever' : `${other.retentionDays} days`})`,
    );
  return (
    `from: ${view.name} keeps ${view.retentionDays} days of ${view.granularity} buckets, from ${iso(kept)}; ` +
    `${iso(fromMs)} is past its retention. ` +
    (covering.length === 0 ? 'No view covers that range.' : `Views that cover it: ${covering.join('; ')}.`)
  );
}
