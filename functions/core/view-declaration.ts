import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_EVENT_SCHEMA, type EventSchema } from './event-schema';
import { MAX_DIMENSIONS_PER_VIEW } from './event-limits';
import { GRANULARITIES, GRANULARITY_MS, type Granularity } from './granularity';
import { describeIssues, objectError } from './schema-issues';
import {
  DEFAULT_HLL_PRECISION,
  hllStandardError,
  MAX_HLL_PRECISION,
  maxEncodedRegisterBytes,
  MIN_HLL_PRECISION,
} from './hyperloglog';
import {
  DEFAULT_RELATIVE_ACCURACY,
  exponentialBoundaries,
  MAX_HISTOGRAM_BOUNDARIES,
  MAX_RELATIVE_ACCURACY,
  maxEncodedBinBytes,
  MIN_RELATIVE_ACCURACY,
} from './histogram';
import {
  BASELINE_DEFAULTS,
  MAX_TRAINING_WINDOW_DAYS,
  SEASONALITIES,
  type BaselineDeclaration,
  type BaselineDefinition,
} from './baseline';

/** The measures of the list notation, which apply to a schema's one numeric field. */
export const LEGACY_MEASURES = ['count', 'sum', 'min', 'max'] as const;
export type LegacyMeasure = (typeof LEGACY_MEASURES)[number];

/**
 * What a measure computes. avg, variance and stddev are derived at query time from stored sums and the count;
 * distinct and histogram are sketches (DESIGN.md §11).
 */
export const MEASURE_KINDS = [
  'count',
  'sum',
  'min',
  'max',
  'avg',
  'sumSquares',
  'variance',
  'stddev',
  'distinct',
  'histogram',
] as const;
export type MeasureKind = (typeof MEASURE_KINDS)[number];
/** The kinds of a numeric field that one `{ <kind>: '<field>' }` declares. */
const NUMERIC_KINDS = ['sum', 'min', 'max', 'avg', 'sumSquares', 'variance', 'stddev'] as const;
type NumericKind = (typeof NUMERIC_KINDS)[number];
/** The kinds a stored attribute can hold: count is stored apart; avg, variance and stddev read sums. */
export type StoredKind = 'sum' | 'min' | 'max' | 'sumSquares' | 'distinct' | 'histogram';

/**
 * One measure as declared in the object notation: `'count'`; `{ <kind>: '<numeric field>' }`, for example
 * `{ max: 'temperature' }`; `{ distinct: '<string field>', precision? }`; or `{ histogram: '<numeric field>' }` with
 * `boundaries`, or with a `range` and a `relativeAccuracy`.
 */
export type MeasureDeclaration =
  | 'count'
  | { readonly sum: string }
  | { readonly min: string }
  | { readonly max: string }
  | { readonly avg: string }
  | { readonly sumSquares: string }
  | { readonly variance: string }
  | { readonly stddev: string }
  | DistinctDeclaration
  | HistogramDeclaration;

export interface DistinctDeclaration {
  /** A dimension or the id field: the values counted are strings, hashed alike in every layer. */
  readonly distinct: string;
  /**
   * log2 of the number of registers, MIN_HLL_PRECISION to MAX_HLL_PRECISION: the standard error is 1.04/√2^precision
   * and a dense sketch takes 2^precision bytes. @default DEFAULT_HLL_PRECISION (1.6%, 4 KB)
   */
  readonly precision?: number;
}

export interface HistogramDeclaration {
  readonly histogram: string;
  /** Bin boundaries, increasing; at most MAX_HISTOGRAM_BOUNDARIES. Or give a range. */
  readonly boundaries?: readonly number[];
  /** [low, high], 0 < low < high: exponential boundaries from low to high, generated from relativeAccuracy. */
  readonly range?: readonly [number, number];
  /** The relative error of a quantile inside the range. @default DEFAULT_RELATIVE_ACCURACY (1%) */
  readonly relativeAccuracy?: number;
}

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
  /**
   * Learn what one numeric field's readings usually are, per key and season slot, and score every reading the
   * speed layer folds against it (DESIGN.md §12, baseline.ts). @default none
   */
  readonly baseline?: BaselineDeclaration;
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
  /** The field; null for count. */
  readonly field: string | null;
  /**
   * The stored attribute holding it: COUNT_ATTRIBUTE for count, a sum's attribute for avg, a sum of squares' for
   * variance and stddev.
   */
  readonly attribute: string;
  /** variance and stddev: the attribute of the field's sum. */
  readonly sumAttribute?: string;
  /** distinct: the sketch's precision. */
  readonly precision?: number;
  /** histogram: the bin boundaries. */
  readonly boundaries?: readonly number[];
}

/** A stored measure: one attribute of every realtime and batch item of the view, besides the count. */
export type StoredMeasure =
  | { readonly attribute: string; readonly kind: 'sum' | 'min' | 'max' | 'sumSquares'; readonly field: string }
  | { readonly attribute: string; readonly kind: 'distinct'; readonly field: string; readonly precision: number }
  | {
      readonly attribute: string;
      readonly kind: 'histogram';
      readonly field: string;
      readonly boundaries: readonly number[];
    };

/**
 * How many bytes a view's sketches may take in one item at most: DynamoDB holds 400 KB per item, and the keys, the
 * count, the sums and a watermark per shard need the rest.
 */
export const MAX_SKETCH_BYTES_PER_ITEM = 300_000;

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
  /** The view's baseline, when it declares one. */
  readonly baseline?: BaselineDefinition;
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

const finite = z.number({ error: 'expected a finite number' }).refine(Number.isFinite, 'expected a finite number');

const distinctDeclarationSchema = z
  .object(
    {
      distinct: z.string({ error: 'expected a field name' }),
      precision: z
        .number({ error: 'expected a whole number' })
        .int('expected a whole number')
        .min(MIN_HLL_PRECISION, `expected at least ${MIN_HLL_PRECISION}`)
        .max(
          MAX_HLL_PRECISION,
          `expected at most ${MAX_HLL_PRECISION} (2^${MAX_HLL_PRECISION} registers, a standard error of ` +
            `${percent(hllStandardError(MAX_HLL_PRECISION))})`,
        )
        .optional(),
    },
    { error: objectError("a distinct measure { distinct: '<string field>', precision? }") },
  )
  .strict();

const histogramDeclarationSchema = z
  .object(
    {
      histogram: z.string({ error: 'expected a field name' }),
      boundaries: z
        .array(finite)
        .min(1, 'expected at least one boundary')
        .max(MAX_HISTOGRAM_BOUNDARIES, `expected at most ${MAX_HISTOGRAM_BOUNDARIES} boundaries`)
        .refine(
          (boundaries) => boundaries.every((boundary, index) => index === 0 || boundary > (boundaries[index - 1] ?? 0)),
          'expected increasing boundaries',
        )
        .optional(),
      range: z
        .tuple([finite, finite], { error: 'expected [low, high]' })
        .refine(([low, high]) => low > 0 && high > low, 'expected [low, high] with 0 < low < high')
        .optional(),
      relativeAccuracy: z
        .number({ error: 'expected a number' })
        .min(MIN_RELATIVE_ACCURACY, `expected at least ${MIN_RELATIVE_ACCURACY}`)
        .max(MAX_RELATIVE_ACCURACY, `expected at most ${MAX_RELATIVE_ACCURACY}`)
        .optional(),
    },
    { error: objectError("a histogram measure { histogram: '<numeric field>', boundaries | range }") },
  )
  .strict()
  .superRefine((declaration, ctx) => {
    if ((declaration.boundaries === undefined) === (declaration.range === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected either boundaries: [b0, b1, ...] or range: [low, high] (with an optional relativeAccuracy)',
      });
    } else if (declaration.boundaries !== undefined && declaration.relativeAccuracy !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'relativeAccuracy applies to a range, not to declared boundaries' });
    }
  });

const measureDeclarationSchema = z.union(
  [
    z.literal('count'),
    ...NUMERIC_KINDS.map((kind) => z.object({ [kind]: z.string() }).strict()),
    distinctDeclarationSchema,
    histogramDeclarationSchema,
  ],
  {
    error:
      "expected 'count', one of { sum | min | max | avg | sumSquares | variance | stddev: '<numeric field>' }, " +
      "{ distinct: '<string field>', precision? } or { histogram: '<numeric field>', boundaries | range }",
  },
);

function percent(fraction: number): string {
  return `${(fraction * 100).toPrecision(2)}%`;
}

const baselineDeclarationSchema = z
  .object(
    {
      measure: z.string({ error: 'expected the numeric field whose readings are scored' }),
      seasonality: z.enum(SEASONALITIES, { error: `expected one of ${SEASONALITIES.join(', ')}` }).optional(),
      trainingWindowDays: z
        .number({ error: 'expected a whole number of days' })
        .int('expected a whole number of days')
        .min(1, 'expected at least 1 day')
        .max(
          MAX_TRAINING_WINDOW_DAYS,
          `expected at most ${MAX_TRAINING_WINDOW_DAYS} days: a baseline reads every bucket of its window`,
        )
        .optional(),
      threshold: z
        .number({ error: 'expected a number of standard deviations' })
        .positive('expected a positive number of standard deviations')
        .max(100, 'expected at most 100 standard deviations')
        .optional(),
      minEvents: z
        .number({ error: 'expected a whole number of readings' })
        .int('expected a whole number of readings')
        .min(2, 'expected at least 2 readings: a standard deviation needs two')
        .optional(),
    },
    { error: objectError('a baseline object') },
  )
  .strict();

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
      baseline: baselineDeclarationSchema.optional(),
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
  .record(z.string(), z.unknown(), {
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
  const declared = measuresOf(declaration.measures, schema, `${where}.measures`, problems);
  const { measures } = declared;
  const stored = [...declared.stored];
  const retentionDays =
    declaration.retentionDays === undefined
      ? DEFAULT_RETENTION_DAYS[declaration.granularity]
      : declaration.retentionDays;
  const baseline =
    declaration.baseline === undefined
      ? undefined
      : baselineOf(
          declaration.baseline,
          { ...declaration, retentionDays },
          schema,
          stored,
          `${where}.baseline`,
          problems,
        );
  return Object.freeze({
    name: declaration.name,
    description: declaration.description ?? '',
    schema,
    dimensions: Object.freeze([...declaration.dimensions]),
    granularity: declaration.granularity,
    measures,
    stored: Object.freeze(stored),
    filter: Object.freeze([...(declaration.filter ?? [])]),
    dedupeByEventId: declaration.dedupeByEventId ?? false,
    retentionDays,
    ...(baseline === undefined ? {} : { baseline }),
  });
}

/**
 * A declared baseline, checked against the view, with the stored attributes it reads: the field's declared sum and
 * sum of squares when the view has them, else attributes of its own (`<field>.baselineSum`, `<field>.baselineSumSquares`:
 * no measure name has a dot, and no derived attribute ends so), appended to `stored` so that every layer computes them.
 */
function baselineOf(
  declared: BaselineDeclaration,
  view: { readonly granularity: Granularity; readonly retentionDays: number | null },
  schema: EventSchema,
  stored: StoredMeasure[],
  where: string,
  problems: string[],
): BaselineDefinition | undefined {
  const seasonality = declared.seasonality ?? BASELINE_DEFAULTS.seasonality;
  const trainingWindowDays = declared.trainingWindowDays ?? BASELINE_DEFAULTS.trainingWindowDays;
  const before = problems.length;
  if (!schema.numbers.includes(declared.measure)) {
    problems.push(
      `${where}.measure: unknown numeric field ${JSON.stringify(declared.measure)} ` +
        `(the schema's numeric fields: ${schema.numbers.join(', ') || 'none'})`,
    );
  }
  if (view.granularity === 'minute') {
    problems.push(
      `${where}: a baseline reads every bucket of its training window, and a ${trainingWindowDays}-day window of minutes is ` +
        `${trainingWindowDays * 1440} buckets per key: declare it on an hour view`,
    );
  } else if (view.granularity === 'day' && seasonality !== 'none') {
    problems.push(
      `${where}.seasonality: ${seasonality} needs hour buckets, and this view's are days: ` +
        "declare it on an hour view, or use seasonality 'none'",
    );
  }
  if (seasonality === 'hourOfWeek' && trainingWindowDays < 7) {
    problems.push(`${where}.trainingWindowDays: hourOfWeek needs at least 7 days, to see each hour of the week once`);
  }
  if (view.retentionDays !== null && trainingWindowDays > view.retentionDays) {
    problems.push(
      `${where}.trainingWindowDays: ${trainingWindowDays} days is longer than the view keeps its buckets ` +
        `(retentionDays ${view.retentionDays})`,
    );
  }
  if (problems.length > before) return undefined;
  const field = declared.measure;
  const attributeFor = (kind: 'sum' | 'sumSquares', attribute: string): string => {
    const existing = stored.find((measure) => measure.kind === kind && measure.field === field);
    if (existing !== undefined) return existing.attribute;
    stored.push(Object.freeze({ attribute, kind, field }));
    return attribute;
  };
  return Object.freeze({
    field,
    seasonality,
    trainingWindowDays,
    threshold: declared.threshold ?? BASELINE_DEFAULTS.threshold,
    minEvents: declared.minEvents ?? BASELINE_DEFAULTS.minEvents,
    sumAttribute: attributeFor('sum', `${field}.baselineSum`),
    sumSquaresAttribute: attributeFor('sumSquares', `${field}.baselineSumSquares`),
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

/** A declared measure, parsed: its kind, its field (null for count) and a sketch's parameters. */
interface ParsedMeasure {
  readonly name: string;
  readonly kind: MeasureKind;
  readonly field: string | null;
  readonly precision?: number;
  readonly boundaries?: readonly number[];
}

/** The schema one declared measure is read with: a sketch's own (so that its errors name its keys), or the union. */
function declarationSchemaFor(declaration: unknown): z.ZodType<MeasureDeclaration> {
  if (typeof declaration === 'object' && declaration !== null) {
    if ('distinct' in declaration) return distinctDeclarationSchema;
    if ('histogram' in declaration) return histogramDeclarationSchema as z.ZodType<MeasureDeclaration>;
  }
  return measureDeclarationSchema as z.ZodType<MeasureDeclaration>;
}

function parseMeasure(name: string, declaration: MeasureDeclaration, where: string, problems: string[]) {
  if (declaration === 'count') return { name, kind: 'count' as const, field: null };
  if ('distinct' in declaration) {
    return {
      name,
      kind: 'distinct' as const,
      field: declaration.distinct,
      precision: declaration.precision ?? DEFAULT_HLL_PRECISION,
    };
  }
  if ('histogram' in declaration) {
    const { range, boundaries } = declaration;
    const generated =
      boundaries ??
      exponentialBoundaries(
        declaration.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY,
        range?.[0] ?? 1,
        range?.[1] ?? 1,
      );
    if (generated.length > MAX_HISTOGRAM_BOUNDARIES) {
      problems.push(
        `${where}.${name}.range: at relative accuracy ${declaration.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY} ` +
          `the range needs more than ${MAX_HISTOGRAM_BOUNDARIES} boundaries (the batch SQL spells each one, and ` +
          'Athena caps a query at 256 KB): narrow the range or raise relativeAccuracy',
      );
      return undefined;
    }
    return { name, kind: 'histogram' as const, field: declaration.histogram, boundaries: Object.freeze(generated) };
  }
  const [kind, field] = Object.entries(declaration)[0] as [NumericKind, string];
  return { name, kind, field };
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
    declared = {};
    for (const [name, declaration] of Object.entries(parsed.data)) {
      const measure = declarationSchemaFor(declaration).safeParse(declaration);
      if (measure.success) declared[name] = measure.data;
      else problems.push(...describeIssues(measure.error.issues, `${where}.${name}`));
    }
  }

  const entries = Object.entries(declared).flatMap(([name, declaration]) => {
    const parsed = parseMeasure(name, declaration, where, problems);
    return parsed === undefined ? [] : [parsed];
  });
  const stored: StoredMeasure[] = [];
  const storedAttribute = (measure: StoredMeasure): string => {
    const existing = stored.find((other) => other.kind === measure.kind && other.field === measure.field);
    if (existing !== undefined) return existing.attribute;
    stored.push(measure);
    return measure.attribute;
  };
  const measures: ParsedMeasure[] = [];
  for (const measure of entries) {
    const { name, kind, field } = measure;
    const problem = measureNameProblem(name, kind);
    if (problem !== undefined) {
      problems.push(`${where}.${name}: ${problem}`);
      continue;
    }
    const fieldProblem = measureFieldProblem(kind, field, schema);
    if (fieldProblem !== undefined) {
      problems.push(`${where}.${name}.${kind}: ${fieldProblem}`);
      continue;
    }
    const twin = measures.find((other) => other.kind === kind && other.field === field);
    if (twin !== undefined) {
      problems.push(`${where}.${name}: computes the same as ${twin.name} (${describeMeasure(kind, field)})`);
      continue;
    }
    measures.push(measure);
  }
  // Stored attributes: what is stored under its own name first, so that a derived measure shares a declared one's
  // attribute (the list notation's avg reads `sum`, as items written before named measures existed hold it). A
  // derived measure with nothing to share stores under its name, or `<name>.<kind>` for its second attribute: a
  // measure name has no dot, so no declared name can take it. What is replaced rather than added (realtime-update.ts)
  // is stored under a name that says what it holds (`<name>.sumSquares`, `<name>.hll<precision>`,
  // `<name>.bins<boundaries' fingerprint>`): a redeclared measure (another precision, other boundaries, a sum turned
  // into a sum of squares) then starts a new attribute, and items written before read as not holding it, as for a
  // new measure, instead of holding something no write can merge with.
  const resolved = measures.map((measure): MeasureDefinition => {
    const { name, kind, field } = measure;
    if (kind === 'count' || field === null) return { name, kind, field, attribute: COUNT_ATTRIBUTE };
    if (kind === 'distinct') {
      const precision = measure.precision ?? DEFAULT_HLL_PRECISION;
      const attribute = storedAttribute({ attribute: `${name}.hll${precision}`, kind, field, precision });
      return { name, kind, field, precision, attribute };
    }
    if (kind === 'histogram') {
      const boundaries = measure.boundaries ?? [];
      const attribute = storedAttribute({
        attribute: `${name}.bins${fingerprint(boundaries)}`,
        kind,
        field,
        boundaries,
      });
      return { name, kind, field, boundaries, attribute };
    }
    if (kind === 'sumSquares') {
      return { name, kind, field, attribute: storedAttribute({ attribute: `${name}.sumSquares`, kind, field }) };
    }
    if (kind === 'sum' || kind === 'min' || kind === 'max') {
      return { name, kind, field, attribute: storedAttribute({ attribute: name, kind, field }) };
    }
    return { name, kind, field, attribute: name };
  });
  const final = resolved.map((measure): MeasureDefinition => {
    const { name, kind, field } = measure;
    if (field === null) return measure;
    if (kind === 'avg') return { ...measure, attribute: storedAttribute({ attribute: name, kind: 'sum', field }) };
    if (kind === 'variance' || kind === 'stddev') {
      return {
        ...measure,
        attribute: storedAttribute({ attribute: `${name}.sumSquares`, kind: 'sumSquares', field }),
        sumAttribute: storedAttribute({ attribute: `${name}.sum`, kind: 'sum', field }),
      };
    }
    return measure;
  });
  const sketchBytes = stored.reduce((total, measure) => total + maxSketchBytes(measure), 0);
  if (sketchBytes > MAX_SKETCH_BYTES_PER_ITEM) {
    problems.push(
      `${where}: the view's sketches take up to ${sketchBytes} bytes per item, and at most ` +
        `${MAX_SKETCH_BYTES_PER_ITEM} fit beside the keys, sums and watermarks in a DynamoDB item (400 KB): ` +
        'lower a distinct precision or declare fewer histogram boundaries',
    );
  }
  return {
    measures: Object.freeze(final.map((measure) => Object.freeze(measure))),
    stored: Object.freeze(stored.map((measure) => Object.freeze(measure))),
  };
}

/** Eight hexadecimal digits of the MD5 of the boundaries' text: which boundaries a histogram attribute counts by. */
function fingerprint(boundaries: readonly number[]): string {
  return createHash('md5').update(boundaries.join(',')).digest('hex').slice(0, 8);
}

/** The most bytes a stored sketch takes in an item, its attribute name included; 0 for a number. */
export function maxSketchBytes(measure: StoredMeasure): number {
  const name = new TextEncoder().encode(measure.attribute).length;
  if (measure.kind === 'distinct') return name + maxEncodedRegisterBytes(measure.precision);
  if (measure.kind === 'histogram') return name + maxEncodedBinBytes(measure.boundaries);
  return 0;
}

function measureFieldProblem(kind: MeasureKind, field: string | null, schema: EventSchema): string | undefined {
  if (field === null) return undefined;
  if (kind === 'distinct') {
    const strings = [...schema.dimensions, schema.id];
    return strings.includes(field)
      ? undefined
      : `unknown string field ${JSON.stringify(field)} (distinct counts a dimension or the id field: ` +
          `${strings.join(', ')})`;
  }
  return schema.numbers.includes(field)
    ? undefined
    : `unknown numeric field ${JSON.stringify(field)} (the schema's numeric fields: ${schema.numbers.join(', ') || 'none'})`;
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
      view.measures.map((measure): [string, MeasureDeclaration] => [measure.name, declarationOf(measure)]),
    ),
    filter: view.filter,
    dedupeByEventId: view.dedupeByEventId,
    retentionDays: view.retentionDays,
    ...(view.baseline === undefined
      ? {}
      : {
          baseline: {
            measure: view.baseline.field,
            seasonality: view.baseline.seasonality,
            trainingWindowDays: view.baseline.trainingWindowDays,
            threshold: view.baseline.threshold,
            minEvents: view.baseline.minEvents,
          },
        }),
  };
}

function declarationOf(measure: MeasureDefinition): MeasureDeclaration {
  if (measure.kind === 'count' || measure.field === null) return 'count';
  if (measure.kind === 'distinct') return { distinct: measure.field, precision: measure.precision };
  if (measure.kind === 'histogram') return { histogram: measure.field, boundaries: measure.boundaries };
  return { [measure.kind]: measure.field } as MeasureDeclaration;
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
