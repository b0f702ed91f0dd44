import { encodeDimensionKey } from './dimension-key';
import { identifierProblem, MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS } from './event-limits';
import { bucketStart, canRollUp, GRANULARITIES, GRANULARITY_MS, isGranularity, type Granularity } from './granularity';
import { firstRetainedBucket, type ViewDefinition } from './view-declaration';

/** Hard limits of one query: each bounds the DynamoDB reads a request can cause. */
export interface QueryLimits {
  /** Dimension keys (the product of the values given per dimension). @default 50 */
  readonly maxKeys: number;
  /** Buckets at the view's own granularity per key: 50,000 allows 30 days at minute granularity. @default 50000 */
  readonly maxBucketsPerKey: number;
  /** Keys × buckets. @default 200000 */
  readonly maxBuckets: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxKeys: 50, maxBucketsPerKey: 50_000, maxBuckets: 200_000 };

/** How far back a query without `from` reaches. */
export const DEFAULT_RANGE_MS = 86_400_000;

/** A validated query of one view. */
export interface ViewQuery {
  readonly view: ViewDefinition;
  readonly granularity: Granularity;
  /** Start of the first answered bucket (inclusive), aligned to the requested granularity. */
  readonly from: number;
  /** End of the range (exclusive): buckets that start before it are answered. */
  readonly to: number;
  readonly dimensionKeys: readonly string[];
  /** The view-granularity buckets to read, inclusive. */
  readonly firstBucket: number;
  readonly lastBucket: number;
}

export type QueryParseResult = { ok: true; query: ViewQuery } | { ok: false; status: 400; errors: string[] };

const RESERVED = ['from', 'to', 'granularity'] as const;

/** The times a query may name: those events may carry (event-limits.ts), so every answer's dates can be written. */
export const QUERY_TIME_RANGE = `${iso(MIN_EVENT_TIME_MS)} to ${iso(MAX_EVENT_TIME_MS)} (epoch ms ${MIN_EVENT_TIME_MS} to ${MAX_EVENT_TIME_MS})`;

/**
 * Parses `GET /views/{view}` parameters. Every dimension of the view must be given (comma-separated values allowed)
 * so that every read is a DynamoDB Query on a known partition key, never a scan. Errors name the parameter.
 * Dimension values are held to the rule ingest holds them to (identifierProblem), untrimmed, so that a query can ask
 * for exactly the keys that can be stored and is told why when it cannot.
 */
export function parseViewQuery(
  view: ViewDefinition,
  parameters: Readonly<Record<string, readonly string[] | undefined>>,
  nowMs: number,
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
): QueryParseResult {
  // Parameter names come from the caller: a Map, so `constructor` or `__proto__` are names like any other, never
  // members inherited from Object.prototype.
  const given = new Map(Object.entries(parameters));
  const errors: string[] = [];
  const single = (name: string): string | undefined => {
    const values = given.get(name);
    if (values !== undefined && values.length > 1) errors.push(`${name}: give it once`);
    return values?.[0];
  };

  for (const name of given.keys()) {
    if (!(RESERVED as readonly string[]).includes(name) && !(view.dimensions as readonly string[]).includes(name)) {
      errors.push(
        `${describeName(name)}: unknown dimension of view ${view.name} (its dimensions are ${view.dimensions.join(', ')}; ` +
          `other parameters are ${RESERVED.join(', ')})`,
      );
    }
  }
  const valuesPerDimension = view.dimensions.map((field) => {
    const values = (given.get(field) ?? []).flatMap((value) => value.split(','));
    if (values.length === 0) {
      errors.push(
        `${field}: required, one or more comma-separated values (every dimension of ${view.name} must be given)`,
      );
    }
    const distinct = [...new Set(values)];
    for (const value of distinct) {
      const problem = identifierProblem(value);
      if (problem !== undefined) errors.push(`${field}: ${problem}, got ${quote(value)}`);
    }
    return distinct;
  });

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

  const to = parseTime('to', single('to'), nowMs, errors);
  const fromRaw = parseTime('from', single('from'), Math.max(MIN_EVENT_TIME_MS, to - DEFAULT_RANGE_MS), errors);
  if (errors.length > 0) return { ok: false, status: 400, errors };
  if (fromRaw >= to)
    return { ok: false, status: 400, errors: [`from: must be before to (from ${iso(fromRaw)}, to ${iso(to)})`] };

  const from = bucketStart(fromRaw, granularity);
  const firstBucket = bucketStart(from, view.granularity);
  const lastBucket = bucketStart(to - 1, view.granularity);
  const bucketsPerKey = (lastBucket - firstBucket) / GRANULARITY_MS[view.granularity] + 1;
  const keyCount = valuesPerDimension.reduce((product, values) => product * values.length, 1);
  if (keyCount > limits.maxKeys) {
    errors.push(`dimensions: ${keyCount} keys requested, above the limit of ${limits.maxKeys} per request`);
  }
  if (bucketsPerKey > limits.maxBucketsPerKey) {
    errors.push(
      `from/to: the range covers ${bucketsPerKey} ${view.granularity} buckets, above the limit of ` +
        `${limits.maxBucketsPerKey} per key`,
    );
  }
  if (keyCount * bucketsPerKey > limits.maxBuckets) {
    errors.push(
      `from/to: ${keyCount} keys × ${bucketsPerKey} buckets is above the limit of ${limits.maxBuckets} per request`,
    );
  }
  if (errors.length > 0) return { ok: false, status: 400, errors };

  return {
    ok: true,
    query: {
      view,
      granularity,
      from,
      to,
      dimensionKeys: cartesian(valuesPerDimension).map(encodeDimensionKey),
      firstBucket,
      lastBucket,
    },
  };
}

/**
 * A time parameter: epoch milliseconds or an ISO-8601 date-time with a zone, within the range events may carry.
 * Beyond it JavaScript dates (and the answer's ISO-8601 strings) run out, so it is refused with the range.
 */
function parseTime(name: string, text: string | undefined, fallback: number, errors: string[]): number {
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
function quote(text: string): string {
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
