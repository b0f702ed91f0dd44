import { DEFAULT_EVENT_SCHEMA } from '../../functions/core/event-schema';
import {
  defineEventSchema,
  EventSchemaError,
  MAX_SCHEMA_DIMENSIONS,
  MAX_SCHEMA_NUMBERS,
} from '../../functions/core/event-schema-definition';

function problemsOf(input: unknown): readonly string[] {
  try {
    defineEventSchema(input);
  } catch (error) {
    expect(error).toBeInstanceOf(EventSchemaError);
    return (error as EventSchemaError).problems;
  }
  throw new Error('expected the schema to be rejected');
}

const web = { dimensions: ['path', 'status', 'country'], numbers: ['latencyMs', 'bytes'] };
/** The columns the pipeline adds (envelope, partitions, the batch SQL's working columns), as problems list them. */
const RESERVED_LIST =
  '(arrival_ms, shard_id, sequence_number, subsequence_number, dt, hour, skip_reason, copy_rank, previous_copy, ' +
  'hash_hex, hash_hi, hash_lo, slot, slot_value, slot_input, cells, kept_*)';
const fields = (prefix: string, count: number) => Array.from({ length: count }, (_, index) => `${prefix}${index}`);

describe('event schema declarations', () => {
  it('is the IoT example when none is declared', () => {
    expect(defineEventSchema(undefined)).toBe(DEFAULT_EVENT_SCHEMA);
    expect(DEFAULT_EVENT_SCHEMA).toEqual({
      id: 'eventId',
      time: 'ts',
      dimensions: ['deviceId', 'site', 'metric'],
      numbers: ['value'],
    });
  });

  it('takes a declared schema, with its own id and time fields', () => {
    expect(defineEventSchema({ id: 'requestId', time: 'at', ...web })).toEqual({
      id: 'requestId',
      time: 'at',
      dimensions: ['path', 'status', 'country'],
      numbers: ['latencyMs', 'bytes'],
    });
  });

  it('defaults the id and time fields to the IoT example’s, and allows no numeric field', () => {
    expect(defineEventSchema({ dimensions: ['page'], numbers: [] })).toEqual({
      id: 'eventId',
      time: 'ts',
      dimensions: ['page'],
      numbers: [],
    });
  });

  it(`takes up to ${MAX_SCHEMA_DIMENSIONS} dimensions and ${MAX_SCHEMA_NUMBERS} numeric fields`, () => {
    const schema = defineEventSchema({ dimensions: fields('d', 16), numbers: fields('n', 16) });
    expect([schema.dimensions.length, schema.numbers.length]).toEqual([16, 16]);
  });

  it.each([
    [
      { ...web, dimensions: ['path', 'sta tus'] },
      'schema.dimensions[1]: expected a letter, then letters, digits and _ (at most 64 characters)',
    ],
    [
      { ...web, numbers: ['9lives'] },
      'schema.numbers[0]: expected a letter, then letters, digits and _ (at most 64 characters)',
    ],
    [
      { ...web, id: 'x'.repeat(65) },
      'schema.id: expected a letter, then letters, digits and _ (at most 64 characters)',
    ],
    [{ ...web, time: 42 }, 'schema.time: expected a field name'],
    [
      { ...web, numbers: ['latencyMs', 'path'] },
      'schema.numbers[1]: path is already declared at schema.dimensions[0] (path)',
    ],
    [
      { ...web, dimensions: ['path', 'path'] },
      'schema.dimensions[1]: path is already declared at schema.dimensions[0] (path)',
    ],
    [
      { ...web, numbers: ['latencyMs', 'Path'] },
      'schema.numbers[1]: Path is already declared at schema.dimensions[0] (path) ' +
        '(Athena reads field names without regard to case)',
    ],
    [
      { ...web, time: 'requestTime', id: 'RequestTime' },
      'schema.time: requestTime is already declared at schema.id (RequestTime) ' +
        '(Athena reads field names without regard to case)',
    ],
    [
      { ...web, numbers: ['arrival_ms'] },
      'schema.numbers[0]: arrival_ms is a column the pipeline adds ' + RESERVED_LIST + ': rename it',
    ],
    [
      { ...web, dimensions: ['path', 'DT'] },
      'schema.dimensions[1]: DT is a column the pipeline adds ' + RESERVED_LIST + ': rename it',
    ],
    [
      { ...web, numbers: ['latencyMs', 'cells'] },
      'schema.numbers[1]: cells is a column the pipeline adds ' + RESERVED_LIST + ': rename it',
    ],
    [
      { ...web, dimensions: ['path', 'Kept_site'] },
      'schema.dimensions[1]: Kept_site is a column the pipeline adds ' + RESERVED_LIST + ': rename it',
    ],
    [
      { ...web, dimensions: ['path', 'quantiles'] },
      'schema.dimensions[1]: quantiles is a query parameter ' +
        '(from, to, granularity, orderBy, order, limit, next, quantiles): rename the dimension',
    ],
    [{ ...web, dimensions: [] }, 'schema.dimensions: declare at least one dimension: views key by dimensions'],
    [{ ...web, dimensions: fields('d', 17) }, 'schema.dimensions: at most 16 dimensions'],
    [{ ...web, numbers: fields('n', 17) }, 'schema.numbers: at most 16 numeric fields'],
    [{ ...web, colour: 'red' }, 'schema: unknown key "colour"'],
    [{ dimensions: ['path'] }, 'schema.numbers: expected an array of field names'],
    [['path'], 'schema: expected an event schema { id, time, dimensions, numbers }'],
  ])('rejects %j: %s', (input, problem) => {
    expect(problemsOf(input)).toContain(problem);
  });

  it('lists every problem in the error message', () => {
    expect(() => defineEventSchema({ dimensions: ['dt', 'a', 'A'], numbers: [] })).toThrow(
      /invalid event schema:\n {2}- schema\.dimensions\[0\]: dt .*\n {2}- schema\.dimensions\[2\]: A /,
    );
  });
});
