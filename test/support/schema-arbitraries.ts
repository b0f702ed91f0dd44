import fc from 'fast-check';
import type { EventSchemaDeclaration } from '../../functions/core/event-schema';
import { GRANULARITIES } from '../../functions/core/granularity';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { MeasureDeclaration, ViewDeclaration } from '../../functions/core/view-declaration';
import { BASE_TIME_MS, sequenceNumber, valueArbitrary, withCopies, type GeneratedStream } from './stream-arbitraries';

const HOUR_MS = 3_600_000;

/** A field name no envelope or SQL column can take: a letter, then letters and digits, with a prefix per role. */
const fieldName = fc.stringMatching(/^[a-z][a-zA-Z0-9]{1,7}$/);

/**
 * A declared schema with random field names: 1–4 dimensions and 1–3 numeric fields, and random id and time fields,
 * all distinct without regard to case (as defineEventSchema requires).
 */
export const schemaArbitrary: fc.Arbitrary<EventSchemaDeclaration> = fc
  .record({ dimensions: fc.integer({ min: 1, max: 4 }), numbers: fc.integer({ min: 1, max: 3 }) })
  .chain(({ dimensions, numbers }) =>
    fc
      .uniqueArray(fieldName, {
        minLength: dimensions + numbers + 2,
        maxLength: dimensions + numbers + 2,
        selector: (name) => name.toLowerCase(),
      })
      .map((names) => ({
        // Prefixes keep the names clear of the envelope's and the SQL's own columns (arrival_ms, dt, hour, ...).
        id: `id${names[0]}`,
        time: `at${names[1]}`,
        dimensions: names.slice(2, 2 + dimensions).map((name) => `d${name}`),
        numbers: names.slice(2 + dimensions).map((name) => `n${name}`),
      })),
  );

/** The measures of one numeric field that `{ <kind>: field }` declares. */
const NUMERIC_KINDS = ['sum', 'min', 'max', 'avg', 'sumSquares', 'variance', 'stddev'] as const;

/**
 * Quarters that both the histograms' declared boundaries and the generated numbers draw from (besides random ones),
 * so that values fall exactly on boundaries, the case where `value <= boundary` must agree in every layer, and
 * boundaries straddle the values: around 0, small, and near the ends of valueArbitrary's range.
 */
export const BOUNDARY_VALUES = [-(2 ** 19), -1000, -2.5, -0.25, 0, 0.25, 1, 7.75, 1000, 2 ** 19] as const;

/** A generated number: mostly any quarter of valueArbitrary's range, sometimes one of BOUNDARY_VALUES. */
export const numberArbitrary: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: valueArbitrary },
  { weight: 1, arbitrary: fc.constantFrom(...BOUNDARY_VALUES) },
);

/**
 * The most records an aggregate may hold for its sum of squares to be exact: squares of quarters up to 2^20 in
 * magnitude are whole sixteenths up to 2^40, and their sums are exact in doubles in any order (so toEqual compares
 * them) while they stay below 2^53 sixteenths, i.e. for up to 2^53 / 16 / (2^20)^2 = 512 records.
 */
export const MAX_EXACT_SQUARES_RECORDS = 2 ** 53 / 16 / (2 ** 20) ** 2;

/** `{ histogram: field, ... }`: declared boundaries (quarters), or a range with a relative accuracy or the default. */
function histogramArbitrary(field: string): fc.Arbitrary<MeasureDeclaration> {
  const boundaries = fc
    .uniqueArray(fc.oneof(fc.constantFrom(...BOUNDARY_VALUES), valueArbitrary), { minLength: 1, maxLength: 6 })
    .map((values) => ({ histogram: field, boundaries: [...values].sort((a, b) => a - b) }));
  // Ranges from a boundary value up to the top of the generated magnitudes: at 1% that is about 760 boundaries.
  const range = fc
    .record({
      low: fc.constantFrom(0.25, 1, 7.75),
      high: fc.constantFrom(1000, 2 ** 19, 2 ** 20),
      relativeAccuracy: fc.constantFrom(0.01, 0.05, 0.2, undefined),
    })
    .map(({ low, high, relativeAccuracy }) => ({
      histogram: field,
      range: [low, high] as const,
      ...(relativeAccuracy === undefined ? {} : { relativeAccuracy }),
    }));
  return fc.oneof(boundaries, range);
}

/** One declared measure over a schema's fields, with its kind and field: a view may declare each pair once. */
interface GeneratedMeasure {
  readonly kind: string;
  readonly field: string;
  readonly declaration: MeasureDeclaration;
}

function measureArbitrary(schema: EventSchemaDeclaration): fc.Arbitrary<GeneratedMeasure> {
  const numeric = fc
    .record({ kind: fc.constantFrom(...NUMERIC_KINDS), field: fc.constantFrom(...schema.numbers) })
    .map(({ kind, field }) => ({ kind, field, declaration: { [kind]: field } as MeasureDeclaration }));
  const distinct = fc
    .record({
      field: fc.constantFrom(...schema.dimensions, schema.id ?? 'eventId'),
      precision: fc.constantFrom(4, 8, 12, undefined),
    })
    .map(({ field, precision }) => ({
      kind: 'distinct',
      field,
      declaration: { distinct: field, ...(precision === undefined ? {} : { precision }) },
    }));
  const histogram = fc
    .constantFrom(...schema.numbers)
    .chain((field) => histogramArbitrary(field).map((declaration) => ({ kind: 'histogram', field, declaration })));
  return fc.oneof(
    { weight: 3, arbitrary: numeric },
    { weight: 1, arbitrary: distinct },
    { weight: 1, arbitrary: histogram },
  );
}

/**
 * Views over a schema: 1–2 views of 1–3 of its dimensions, an optional filter, and named measures: the count and
 * 1–5 of sum, min, max, avg, sumSquares, variance and stddev of its numeric fields, distinct over its dimensions and
 * id field (16, 256 or 4,096 registers, or the default), and histograms of its numeric fields.
 */
export function viewsArbitrary(schema: EventSchemaDeclaration): fc.Arbitrary<ViewDeclaration[]> {
  const view = (index: number): fc.Arbitrary<ViewDeclaration> =>
    fc
      .record({
        dimensions: fc.shuffledSubarray([...schema.dimensions], {
          minLength: 1,
          maxLength: Math.min(3, schema.dimensions.length),
        }),
        granularity: fc.constantFrom(...GRANULARITIES),
        measures: fc.uniqueArray(measureArbitrary(schema), {
          minLength: 1,
          maxLength: 5,
          selector: ({ kind, field }) => `${kind}(${field})`,
        }),
        dedupeByEventId: fc.boolean(),
        filtered: fc.boolean(),
        threshold: valueArbitrary,
      })
      .map(({ dimensions, granularity, measures, dedupeByEventId, filtered, threshold }) => {
        const declared: Record<string, MeasureDeclaration> = { events: 'count' };
        measures.forEach(({ kind, declaration }, position) => {
          declared[`m${position}${kind}`] = declaration;
        });
        const [firstNumber] = schema.numbers;
        return {
          name: `view_${index}`,
          dimensions,
          granularity,
          measures: declared,
          dedupeByEventId,
          retentionDays: null,
          ...(filtered && firstNumber !== undefined
            ? { filter: [{ field: firstNumber, op: 'gte' as const, value: threshold }] }
            : {}),
        };
      });
  return fc.integer({ min: 1, max: 2 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => view(i))));
}

/** Values each dimension takes: two or three, so that group-by merges several keys and top-N has ties to break. */
export const DIMENSION_VALUES = ['alpha', 'beta', 'gamma/δ'] as const;

/**
 * Records of a schema over two shards: random dimension values from DIMENSION_VALUES, numbers as exact quarters (some
 * on histogram boundaries), event times over two days, some late arrivals, producer retries (a second record of an
 * event) and redeliveries.
 */
export function schemaStreamArbitrary(
  schema: EventSchemaDeclaration,
  options: { minLength: number; maxLength: number },
): fc.Arbitrary<GeneratedStream> {
  // Each record once, plus at most 4 producer retries: below MAX_EXACT_SQUARES_RECORDS, so sums of squares are exact.
  if (options.maxLength + 4 > MAX_EXACT_SQUARES_RECORDS) {
    throw new Error(`at most ${MAX_EXACT_SQUARES_RECORDS - 4} records, for exact sums of squares`);
  }
  const shape = fc.record({
    dimensions: fc.array(fc.nat(DIMENSION_VALUES.length - 1), {
      minLength: schema.dimensions.length,
      maxLength: schema.dimensions.length,
    }),
    numbers: fc.array(numberArbitrary, { minLength: schema.numbers.length, maxLength: schema.numbers.length }),
    tsOffset: fc.nat(48 * HOUR_MS),
    lateness: fc.oneof({ weight: 3, arbitrary: fc.nat(5_000) }, { weight: 1, arbitrary: fc.nat(6 * HOUR_MS) }),
    shard: fc.nat(1),
  });
  return fc
    .record({
      shapes: fc.array(shape, options),
      retries: fc.array(fc.nat(), { maxLength: 4 }),
      redeliveries: fc.array(fc.nat(), { maxLength: 6 }),
    })
    .map(({ shapes, retries, redeliveries }) => {
      const counters = [0n, 0n];
      const records: StreamRecord[] = shapes.map((s, index) => {
        counters[s.shard] += 1n;
        const ts = BASE_TIME_MS + s.tsOffset;
        const event: Record<string, unknown> = { [schema.id ?? 'eventId']: `e-${index}`, [schema.time ?? 'ts']: ts };
        schema.dimensions.forEach((field, i) => (event[field] = DIMENSION_VALUES[s.dimensions[i] ?? 0]));
        schema.numbers.forEach((field, i) => (event[field] = s.numbers[i]));
        return {
          event,
          shardId: `shardId-00000000000${s.shard}`,
          sequenceNumber: sequenceNumber(s.shard, counters[s.shard]),
          subSequenceNumber: 0,
          arrivalMs: ts + s.lateness,
        };
      });
      return withCopies(records, counters, retries, redeliveries);
    });
}
