import { z } from 'zod';
import { DEFAULT_EVENT_SCHEMA, type EventSchema } from './event-schema';
import { MAX_DIMENSIONS_PER_VIEW } from './event-limits';
import { GRANULARITIES, GRANULARITY_MS, type Granularity } from './granularity';
import { describeIssues, objectError } from './schema-issues';

/** The measures of the list notation, which apply to a schema's one numeric field. */
export const LEGACY_MEASURES = ['count', 'sum', 'min', 'max'] as const;
export type LegacyMeasure = (typeof LEGACY_MEASURES)[number];

/** What a measure computes. avg is derived at query time from a stored sum and the count. */
export const MEASURE_KINDS = ['count', 'sum', 'min', 'max', 'avg'] as const;
export type MeasureKind = (typeof MEASURE_KINDS)[number];
/** The kinds a stored attribute can hold: count is stored apart, avg reads a sum. */
export type StoredKind = 'sum' | 'min' | 'max';

/**
 * One measure as declared in the object notation: `'count'`, or `{ <kind>: '<numeric field>' }`, for example
 * `{ max: 'temperature' }`.
 */
export type MeasureDeclaration =
  'count' | { readonly sum: string } | { readonly min: string } | { readonly max: string } | { readonly avg: string };

export const FILTER_OPERATORS = ['eq', 'ne', 'in', 'notIn', 'gt', 'gte', 'lt', 'lte'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];
const ORDER_OPERATORS: readonly FilterOperator[] = ['gt', 'gte', 'lt', 'lte'];

/**
 * One condition of a view's filter. The filter is declarative, not a function, because the same declaration is
 * evaluated in memory by the speed layer and compiled to SQL for the batch layer.
 */
export interface FilterCondition {
  /** A dimension or a numeric field of the schema. */
  readonly field: string;
  readonly op: FilterOperator;
  readonly value: string | number | readonly (string | number)[];
}

/** A view as a user declares it: in TypeScript, or as JSON in cdk.json context. */
export interface ViewDeclaration {
  /** Lower-case letters, digits and `_`; it appears in URLs and DynamoDB keys. */
  readonly name: string;
  readonly description?: string;
  /** Dimensions of the schema forming the dimension key, in key order. One to MAX_DIMENSIONS_PER_VIEW. */
  readonly dimensions: readonly string[];
  readonly granularity: Granularity;
  /**
   * Named measures, each naming the numeric field it aggregates: `{ maxTemp: { max: 'temperature' }, events:
   * 'count' }`. The list notation (`['count', 'sum', 'min', 'max']`) applies to a schema with one numeric field
   * and keeps the names count, sum, min, max and avg. @default count, and sum, min, max and avg of every numeric
   * field (named as the list notation does for a schema with one numeric field, `maxTemperature` otherwise)
   */
  readonly measures?: readonly LegacyMeasure[] | Readonly<Record<string, MeasureDeclaration>>;
  /** Conditions that must all hold for an event to count. @default no filter */
  readonly filter?: readonly FilterCondition[];
  /**
   * Count a producer's retried event once, by its id field, as well as each Kinesis record once. It costs the
   * speed layer one conditional write per event. @default false
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

/** The attribute every realtime and batch item stores its event count in, whatever the count measure is named. */
export const COUNT_ATTRIBUTE = 'count';

/** A measure as answered: its name, what it computes over which field, and the stored attribute it reads. */
export interface MeasureDefinition {
  readonly name: string;
  readonly kind: MeasureKind;
  /** The numeric field; null for count. */
  readonly field: string | null;
  /** The stored attribute holding it: COUNT_ATTRIBUTE for count, a sum's attribute for avg. */
  readonly attribute: string;
}

/** A stored measure: one attribute of every realtime and batch item of the view, besides the count. */
export interface StoredMeasure {
  readonly attribute: string;
  readonly kind: StoredKind;
  readonly field: string;
}

/** A validated view with every default applied: what every layer consumes. */
export interface ViewDefinition {
  readonly name: string;
  readonly description: string;
  /** The schema the view reads events of. */
  readonly schema: EventSchema;
  readonly dimensions: readonly string[];
  readonly granularity: Granularity;
  /** The measures answered, in declared order. */
  readonly measures: readonly MeasureDefinition[];
  /** The attributes stored besides the count, each once, in declared order. */
  readonly stored: readonly StoredMeasure[];
  readonly filter: readonly FilterCondition[];
  readonly dedupeByEventId: boolean;
  /** Days of buckets kept; null for ever. */
  readonly retentionDays: number | null;
}

export const VIEW_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/** Measure names: they are attribute names of every item and keys of every answer. */
export const MEASURE_NAME_PATTERN = /^[a-z][A-Za-z0-9_]{0,62}$/;

/**
 * Names items use for other things (keys, TTL, window bounds), and an answer's bucket does (its start and its batch
 * and realtime parts), which a measure may not take.
 */
const RESERVED_ATTRIBUTES = [
  'pk',
  'sk',
  'bucket',
  'epoch',
  'expiresAt',
  'windowFrom',
  'windowTo',
  'start',
  'startMs',
  'batch',
  'realtime',
];

const filterConditionSchema = z
  .object(
    {
      field: z.string({ error: 'expected a field name' }),
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
    }
  });

const measureDeclarationSchema = z.union(
  [
    z.literal('count'),
    z.object({ sum: z.string() }).strict(),
    z.object({ min: z.string() }).strict(),
    z.object({ max: z.string() }).strict(),
    z.object({ avg: z.string() }).strict(),
  ],
  { error: "expected 'count' or one of { sum | min | max | avg: '<numeric field>' }" },
);

const viewDeclarationSchema = z
  .object(
    {
      name: z.string().regex(VIEW_NAME_PATTERN, {
        error: 'expected lower-case letters, digits and _ (starting with a letter, at most 63 characters)',
      }),
      description: z.string().optional(),
      dimensions: z
        .array(z.string({ error: 'expected a field name' }))
        // An undimensioned view would put every write of the view on one DynamoDB partition key.
        .min(1, 'a view needs at least one dimension: without one, every write would hit one DynamoDB partition')
        .max(
          MAX_DIMENSIONS_PER_VIEW,
          `at most ${MAX_DIMENSIONS_PER_VIEW} dimensions: the DynamoDB key budget (2,048 bytes) is computed for them`,
        )
        .superRefine((dimensions, ctx) => {
          const repeated = dimensions.filter((field, index) => dimensions.indexOf(field) !== index);
          if (repeated.length > 0) ctx.addIssue({ code: 'custom', message: `repeats ${repeated.join(', ')}` });
        }),
      granularity: z.enum(GRANULARITIES, { error: `expected one of ${GRANULARITIES.join(', ')}` }),
      // Parsed in a second step (measuresOf), which knows the schema and which notation it is.
      measures: z.unknown().optional(),
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

const legacyMeasuresSchema = z
  .array(
    z.string().refine((measure): measure is LegacyMeasure => (LEGACY_MEASURES as readonly string[]).includes(measure), {
      error: (issue) =>
        issue.input === 'avg'
          ? 'avg is derived from sum and count at query time: declare sum instead'
          : `unknown measure ${JSON.stringify(issue.input)} (known: ${LEGACY_MEASURES.join(', ')}; ` +
            `or name measures: { maxTemp: { max: 'temperature' } })`,
    }),
  )
  .min(1, 'a view needs at least one measure');

const namedMeasuresSchema = z
  .record(z.string(), measureDeclarationSchema, {
    error: "expected a list of count, sum, min, max, or named measures: { maxTemp: { max: 'temperature' } }",
  })
  .refine((measures) => Object.keys(measures).length > 0, 'a view needs at least one measure');

/** A bad view declaration. The message lists every problem, each naming where it is. */
export class ViewDeclarationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid view declarations:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ViewDeclarationError';
  }
}

/**
 * Validates view declarations against the event schema and applies their defaults. It throws at synth or start
 * time, never at run time, so that a bad declaration cannot reach a deployed pipeline.
 */
export function defineViews(declarations: unknown, schema: EventSchema = DEFAULT_EVENT_SCHEMA): ViewDefinition[] {
  const parsed = viewListSchema.safeParse(declarations);
  if (!parsed.success) throw new ViewDeclarationError(describeIssues(parsed.error.issues, 'views'));
  const problems: string[] = [];
  const views = parsed.data.map((declaration, index) => toDefinition(declaration, schema, `views[${index}]`, problems));
  views.forEach((view, index) => {
    if (views.findIndex((other) => other.name === view.name) !== index) {
      problems.push(`views[${index}].name: duplicate view name "${view.name}"`);
    }
  });
  if (problems.length > 0) throw new ViewDeclarationError(problems);
  return views;
}

function toDefinition(
  declaration: z.output<typeof viewDeclarationSchema>,
  schema: EventSchema,
  where: string,
  problems: string[],
): ViewDefinition {
  declaration.dimensions.forEach((field, index) => {
    if (!schema.dimensions.includes(field)) {
      problems.push(
        `${where}.dimensions[${index}]: unknown field ${JSON.stringify(field)} ` +
          `(the schema's dimensions: ${schema.dimensions.join(', ')})`,
      );
    }
  });
  (declaration.filter ?? []).forEach((condition, index) =>
    problems.push(...filterProblems(condition, schema).map((problem) => `${where}.filter[${index}].${problem}`)),
  );
  const { measures, stored } = measuresOf(declaration.measures, schema, `${where}.measures`, problems);
  return Object.freeze({
    name: declaration.name,
    description: declaration.description ?? '',
    schema,
    dimensions: Object.freeze([...declaration.dimensions]),
    granularity: declaration.granularity,
    measures,
    stored,
    filter: Object.freeze([...(declaration.filter ?? [])]),
    dedupeByEventId: declaration.dedupeByEventId ?? false,
    retentionDays:
      declaration.retentionDays === undefined
        ? DEFAULT_RETENTION_DAYS[declaration.granularity]
        : declaration.retentionDays,
  });
}

function filterProblems(condition: FilterCondition, schema: EventSchema): string[] {
  const numeric = schema.numbers.includes(condition.field);
  if (!numeric && !schema.dimensions.includes(condition.field)) {
    return [
      `field: unknown field ${JSON.stringify(condition.field)} ` +
        `(known: ${[...schema.dimensions, ...schema.numbers].join(', ')})`,
    ];
  }
  const problems: string[] = [];
  const values = Array.isArray(condition.value) ? condition.value : [condition.value];
  if (values.some((value) => typeof value !== (numeric ? 'number' : 'string'))) {
    problems.push(
      `value: ${condition.field} is a ${numeric ? 'number' : 'string'} field: compare it with ${numeric ? 'numbers' : 'strings'}`,
    );
  }
  if (!numeric && ORDER_OPERATORS.includes(condition.op)) {
    problems.push(
      `op: op ${condition.op} compares numbers; ${condition.field} is a string field (use eq, ne, in or notIn)`,
    );
  }
  return problems;
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** The measures a view answers when it declares none. */
function defaultMeasures(schema: EventSchema): Record<string, MeasureDeclaration> {
  const [only] = schema.numbers;
  if (schema.numbers.length === 1 && only !== undefined) {
    return { count: 'count', sum: { sum: only }, min: { min: only }, max: { max: only }, avg: { avg: only } };
  }
  const measures: Record<string, MeasureDeclaration> = { count: 'count' };
  for (const field of schema.numbers) {
    measures[`sum${capitalized(field)}`] = { sum: field };
    measures[`min${capitalized(field)}`] = { min: field };
    measures[`max${capitalized(field)}`] = { max: field };
    measures[`avg${capitalized(field)}`] = { avg: field };
  }
  return measures;
}

/**
 * The list notation in the object notation: count always (it tells an empty bucket apart, and avg divides by it),
 * then the listed measures of the one numeric field in canonical order, and avg when sum is listed.
 */
function fromList(list: readonly LegacyMeasure[], field: string): Record<string, MeasureDeclaration> {
  const measures: Record<string, MeasureDeclaration> = { count: 'count' };
  if (list.includes('sum')) measures.sum = { sum: field };
  if (list.includes('min')) measures.min = { min: field };
  if (list.includes('max')) measures.max = { max: field };
  if (list.includes('sum')) measures.avg = { avg: field };
  return measures;
}

function measuresOf(
  input: unknown,
  schema: EventSchema,
  where: string,
  problems: string[],
): { measures: readonly MeasureDefinition[]; stored: readonly StoredMeasure[] } {
  let declared: Record<string, MeasureDeclaration>;
  if (input === undefined) {
    declared = defaultMeasures(schema);
  } else if (Array.isArray(input)) {
    const parsed = legacyMeasuresSchema.safeParse(input);
    if (!parsed.success) {
      problems.push(...describeIssues(parsed.error.issues, where));
      return { measures: [], stored: [] };
    }
    const [only] = schema.numbers;
    if (schema.numbers.length !== 1 || only === undefined) {
      problems.push(
        `${where}: the list notation applies to a schema with one numeric field, and this one has ` +
          `${schema.numbers.length} (${schema.numbers.join(', ') || 'none'}): name each measure and its field, ` +
          `as in { maxTemp: { max: 'temperature' } }`,
      );
      return { measures: [], stored: [] };
    }
    declared = fromList(parsed.data, only);
  } else {
    const parsed = namedMeasuresSchema.safeParse(input);
    if (!parsed.success) {
      problems.push(...describeIssues(parsed.error.issues, where));
      return { measures: [], stored: [] };
    }
    declared = parsed.data;
  }

  const entries = Object.entries(declared).map(([name, declaration]) => {
    if (declaration === 'count') return { name, kind: 'count' as const, field: null };
    const [kind, field] = Object.entries(declaration)[0] as [Exclude<MeasureKind, 'count'>, string];
    return { name, kind, field };
  });
  const stored: StoredMeasure[] = [];
  const storedAttribute = (kind: StoredKind, field: string, name: string): string => {
    const existing = stored.find((measure) => measure.kind === kind && measure.field === field);
    if (existing !== undefined) return existing.attribute;
    stored.push({ attribute: name, kind, field });
    return name;
  };
  const measures: MeasureDefinition[] = [];
  for (const { name, kind, field } of entries) {
    const problem = measureNameProblem(name, kind);
    if (problem !== undefined) {
      problems.push(`${where}.${name}: ${problem}`);
      continue;
    }
    if (field !== null && !schema.numbers.includes(field)) {
      problems.push(
        `${where}.${name}.${kind}: unknown numeric field ${JSON.stringify(field)} ` +
          `(the schema's numeric fields: ${schema.numbers.join(', ') || 'none'})`,
      );
      continue;
    }
    const twin = measures.find((other) => other.kind === kind && other.field === field);
    if (twin !== undefined) {
      problems.push(`${where}.${name}: computes the same as ${twin.name} (${describeMeasure(kind, field)})`);
      continue;
    }
    measures.push({ name, kind, field, attribute: name });
  }
  // Stored attributes: sums, mins and maxes under their own names first, so that an avg shares a declared sum's
  // attribute (the list notation's avg reads `sum`, as items written before named measures existed hold it).
  const resolved = measures.map((measure) => {
    if (measure.kind === 'count' || measure.field === null) return { ...measure, attribute: COUNT_ATTRIBUTE };
    if (measure.kind === 'avg') return measure;
    return { ...measure, attribute: storedAttribute(measure.kind, measure.field, measure.name) };
  });
  const final = resolved.map((measure) =>
    measure.kind === 'avg' && measure.field !== null
      ? { ...measure, attribute: storedAttribute('sum', measure.field, measure.name) }
      : measure,
  );
  return {
    measures: Object.freeze(final.map((measure) => Object.freeze(measure))),
    stored: Object.freeze(stored.map((measure) => Object.freeze(measure))),
  };
}

function measureNameProblem(name: string, kind: MeasureKind): string | undefined {
  if (!MEASURE_NAME_PATTERN.test(name)) {
    return 'a measure name is a letter a-z, then letters, digits and _ (at most 63 characters)';
  }
  if (RESERVED_ATTRIBUTES.includes(name) || name.startsWith('wm_')) {
    return `${name} is a name items and answers use for something else (reserved: ${RESERVED_ATTRIBUTES.join(', ')}, wm_*)`;
  }
  if (name === COUNT_ATTRIBUTE && kind !== 'count') return 'the name count is kept for the count of events';
  return undefined;
}

export function describeMeasure(kind: MeasureKind, field: string | null): string {
  return field === null ? kind : `${kind}(${field})`;
}

/** A definition back in the declaration notation: defining it again gives an equal definition. */
export function viewDeclarationOf(view: ViewDefinition): ViewDeclaration {
  return {
    name: view.name,
    description: view.description,
    dimensions: view.dimensions,
    granularity: view.granularity,
    measures: Object.fromEntries(
      view.measures.map((measure): [string, MeasureDeclaration] => [
        measure.name,
        measure.kind === 'count' || measure.field === null
          ? 'count'
          : ({ [measure.kind]: measure.field } as MeasureDeclaration),
      ]),
    ),
    filter: view.filter,
    dedupeByEventId: view.dedupeByEventId,
    retentionDays: view.retentionDays,
  };
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
