import { z } from 'zod';
import { GRANULARITIES, GRANULARITY_MS, type Granularity } from './granularity';
import { describeIssues, objectError } from './schema-issues';

/** Event fields a view can key by: the string fields of the event schema. */
export const DIMENSION_FIELDS = ['deviceId', 'site', 'metric'] as const;
export type DimensionField = (typeof DIMENSION_FIELDS)[number];

/** Fields a filter can test: the dimensions and the measured value. */
export const FILTER_FIELDS = [...DIMENSION_FIELDS, 'value'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];

/** Stored measures; avg is derived at query time from sum and count. */
export const MEASURES = ['count', 'sum', 'min', 'max'] as const;
export type Measure = (typeof MEASURES)[number];

export const FILTER_OPERATORS = ['eq', 'ne', 'in', 'notIn', 'gt', 'gte', 'lt', 'lte'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];
const ORDER_OPERATORS: readonly FilterOperator[] = ['gt', 'gte', 'lt', 'lte'];

/**
 * One condition of a view's filter. The filter is declarative, not a function, because the same declaration is
 * evaluated in memory by the speed layer and compiled to SQL for the batch layer.
 */
export interface FilterCondition {
  readonly field: FilterField;
  readonly op: FilterOperator;
  readonly value: string | number | readonly (string | number)[];
}

/** A view as a user declares it: in TypeScript, or as JSON in cdk.json context. */
export interface ViewDeclaration {
  /** Lower-case letters, digits and `_`; it appears in URLs and DynamoDB keys. */
  readonly name: string;
  readonly description?: string;
  /** Event fields forming the dimension key, in key order. At least one. */
  readonly dimensions: readonly DimensionField[];
  readonly granularity: Granularity;
  /** @default ['count', 'sum', 'min', 'max'] */
  readonly measures?: readonly Measure[];
  /** Conditions that must all hold for an event to count. @default no filter */
  readonly filter?: readonly FilterCondition[];
  /**
   * Count a producer's retried event once, by eventId, as well as each Kinesis record once. It costs the speed
   * layer one conditional write per event. @default false
   */
  readonly dedupeByEventId?: boolean;
  /**
   * How many days of buckets the view keeps (by event time); older rows expire by TTL, and a query reaching
   * further back is refused. `null` keeps them for ever. @default DEFAULT_RETENTION_DAYS for the granularity
   */
  readonly retentionDays?: number | null;
}

/**
 * How long a view keeps its buckets unless it says otherwise: finer granularities have more rows per day and are
 * rarely asked for far back (DESIGN.md §6). Day buckets are kept for ever.
 */
export const DEFAULT_RETENTION_DAYS: Readonly<Record<Granularity, number | null>> = {
  minute: 30,
  hour: 400,
  day: null,
};

const DAY_MS = 86_400_000;

/** A validated view with every default applied: what every layer consumes. */
export interface ViewDefinition {
  readonly name: string;
  readonly description: string;
  readonly dimensions: readonly DimensionField[];
  readonly granularity: Granularity;
  readonly measures: readonly Measure[];
  readonly filter: readonly FilterCondition[];
  readonly dedupeByEventId: boolean;
  /** Days of buckets kept; null for ever. */
  readonly retentionDays: number | null;
}

export const VIEW_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

const knownField = <T extends readonly string[]>(fields: T, what: string) =>
  z.string().refine((field): field is T[number] => fields.includes(field), {
    error: (issue) => `unknown ${what} ${JSON.stringify(issue.input)} (known: ${fields.join(', ')})`,
  });

const filterConditionSchema = z
  .object(
    {
      field: knownField(FILTER_FIELDS, 'field'),
      op: z.enum(FILTER_OPERATORS, { error: `expected one of ${FILTER_OPERATORS.join(', ')}` }),
      value: z.union([z.string(), z.number(), z.array(z.union([z.string(), z.number()])).min(1)], {
        error: 'expected a string, a number or a non-empty array of them',
      }),
    },
    { error: objectError('a filter condition { field, op, value }') },
  )
  .strict()
  .superRefine((condition, ctx) => {
    const listOperator = condition.op === 'in' || condition.op === 'notIn';
    if (listOperator !== Array.isArray(condition.value)) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: listOperator ? `op ${condition.op} needs an array of values` : `op ${condition.op} needs one value`,
      });
      return;
    }
    const numeric = condition.field === 'value';
    const values = Array.isArray(condition.value) ? condition.value : [condition.value];
    if (values.some((value) => typeof value !== (numeric ? 'number' : 'string'))) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: `${condition.field} is a ${numeric ? 'number' : 'string'} field: compare it with ${numeric ? 'numbers' : 'strings'}`,
      });
    }
    if (!numeric && ORDER_OPERATORS.includes(condition.op)) {
      ctx.addIssue({
        code: 'custom',
        path: ['op'],
        message: `op ${condition.op} compares numbers; ${condition.field} is a string field (use eq, ne, in or notIn)`,
      });
    }
  });

const viewDeclarationSchema = z
  .object(
    {
      name: z.string().regex(VIEW_NAME_PATTERN, {
        error: 'expected lower-case letters, digits and _ (starting with a letter, at most 63 characters)',
      }),
      description: z.string().optional(),
      dimensions: z
        .array(knownField(DIMENSION_FIELDS, 'field'))
        // An undimensioned view would put every write of the view on one DynamoDB partition key.
        .min(1, 'a view needs at least one dimension: without one, every write would hit one DynamoDB partition')
        .superRefine((dimensions, ctx) => {
          const repeated = dimensions.filter((field, index) => dimensions.indexOf(field) !== index);
          if (repeated.length > 0) ctx.addIssue({ code: 'custom', message: `repeats ${repeated.join(', ')}` });
        }),
      granularity: z.enum(GRANULARITIES, { error: `expected one of ${GRANULARITIES.join(', ')}` }),
      measures: z
        .array(
          z.string().refine((measure): measure is Measure => (MEASURES as readonly string[]).includes(measure), {
            error: (issue) =>
              issue.input === 'avg'
                ? 'avg is derived from sum and count at query time: declare sum instead'
                : `unknown measure ${JSON.stringify(issue.input)} (known: ${MEASURES.join(', ')})`,
          }),
        )
        .min(1, 'a view needs at least one measure')
        .optional(),
      filter: z.array(filterConditionSchema).optional(),
      dedupeByEventId: z.boolean().optional(),
      retentionDays: z
        .number({ error: 'expected a whole number of days, or null to keep the buckets for ever' })
        .int('expected a whole number of days')
        .min(1, 'expected at least 1 day')
        .max(36_500, 'expected at most 36500 days (100 years), or null to keep the buckets for ever')
        .nullable()
        .optional(),
    },
    { error: objectError('a view declaration object') },
  )
  .strict();

const viewListSchema = z
  .array(viewDeclarationSchema, { error: 'expected an array of view declarations' })
  .min(1, 'declare at least one view');

/** A bad view declaration. The message lists every problem, each naming where it is. */
export class ViewDeclarationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid view declarations:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ViewDeclarationError';
  }
}

/**
 * Validates view declarations and applies their defaults. It throws at synth or start time, never at run time,
 * so that a bad declaration cannot reach a deployed pipeline.
 */
export function defineViews(declarations: unknown): ViewDefinition[] {
  const parsed = viewListSchema.safeParse(declarations);
  if (!parsed.success) throw new ViewDeclarationError(describeIssues(parsed.error.issues, 'views'));
  const views = parsed.data.map(toDefinition);
  const problems = views
    .map((view, index) => ({ view, index }))
    .filter(({ view, index }) => views.findIndex((other) => other.name === view.name) !== index)
    .map(({ view, index }) => `views[${index}].name: duplicate view name "${view.name}"`);
  if (problems.length > 0) throw new ViewDeclarationError(problems);
  return views;
}

function toDefinition(declaration: z.output<typeof viewDeclarationSchema>): ViewDefinition {
  const declared = declaration.measures ?? MEASURES;
  return Object.freeze({
    name: declaration.name,
    description: declaration.description ?? '',
    dimensions: Object.freeze([...declaration.dimensions]),
    granularity: declaration.granularity,
    // Stored in a canonical order, and count always: it is what tells an empty bucket apart and what avg divides by.
    measures: Object.freeze(MEASURES.filter((measure) => measure === 'count' || declared.includes(measure))),
    filter: Object.freeze([...(declaration.filter ?? [])]),
    dedupeByEventId: declaration.dedupeByEventId ?? false,
    retentionDays:
      declaration.retentionDays === undefined
        ? DEFAULT_RETENTION_DAYS[declaration.granularity]
        : declaration.retentionDays,
  });
}

/** The view's retention in milliseconds, or null when it keeps its buckets for ever. */
export function retentionMs(view: Pick<ViewDefinition, 'retentionDays'>): number | null {
  return view.retentionDays === null ? null : view.retentionDays * DAY_MS;
}

/**
 * The first bucket a view still keeps at `nowMs`: buckets that start before it are past retention. 0 for a view
 * that keeps everything.
 */
export function firstRetainedBucket(
  view: Pick<ViewDefinition, 'retentionDays' | 'granularity'>,
  nowMs: number,
): number {
  const kept = retentionMs(view);
  if (kept === null) return 0;
  const size = GRANULARITY_MS[view.granularity];
  return Math.max(0, Math.ceil((nowMs - kept) / size) * size);
}

export function findView(views: readonly ViewDefinition[], name: string): ViewDefinition | undefined {
  return views.find((view) => view.name === name);
}
