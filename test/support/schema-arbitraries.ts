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

const MEASURE_KINDS = ['sum', 'min', 'max', 'avg'] as const;

/** Views over a schema: 1–2 views of 1–3 of its dimensions, named measures over its numeric fields, an optional filter. */
export function viewsArbitrary(schema: EventSchemaDeclaration): fc.Arbitrary<ViewDeclaration[]> {
  const view = (index: number): fc.Arbitrary<ViewDeclaration> =>
    fc
      .record({
        dimensions: fc.shuffledSubarray([...schema.dimensions], {
          minLength: 1,
          maxLength: Math.min(3, schema.dimensions.length),
        }),
        granularity: fc.constantFrom(...GRANULARITIES),
        measures: fc.uniqueArray(
          fc.record({ kind: fc.constantFrom(...MEASURE_KINDS), field: fc.constantFrom(...schema.numbers) }),
          { minLength: 1, maxLength: 4, selector: ({ kind, field }) => `${kind}(${field})` },
        ),
        dedupeByEventId: fc.boolean(),
        filtered: fc.boolean(),
        threshold: valueArbitrary,
      })
      .map(({ dimensions, granularity, measures, dedupeByEventId, filtered, threshold }) => {
        const declared: Record<string, MeasureDeclaration> = { events: 'count' };
        measures.forEach(({ kind, field }, position) => {
          declared[`m${position}${kind}`] = { [kind]: field } as MeasureDeclaration;
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
 * Records of a schema over two shards: random dimension values from DIMENSION_VALUES, numbers as exact quarters,
 * event times over two days, some late arrivals, producer retries (a second record of an event) and redeliveries.
 */
export function schemaStreamArbitrary(
  schema: EventSchemaDeclaration,
  options: { minLength: number; maxLength: number },
): fc.Arbitrary<GeneratedStream> {
  const shape = fc.record({
    dimensions: fc.array(fc.nat(DIMENSION_VALUES.length - 1), {
      minLength: schema.dimensions.length,
      maxLength: schema.dimensions.length,
    }),
    numbers: fc.array(valueArbitrary, { minLength: schema.numbers.length, maxLength: schema.numbers.length }),
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
