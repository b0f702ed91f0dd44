import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { DEFAULT_EVENT_SCHEMA, type EventSchema } from '../../functions/core/event-schema';
import { defineEventSchema } from '../../functions/core/event-schema-definition';
import { measureAttributes, measuresFromAttributes } from '../../functions/core/aggregate-attributes';
import { DEFAULT_RELATIVE_ACCURACY, exponentialBoundaries } from '../../functions/core/histogram';
import { mergeAllMeasures, measuresOf, presentMeasures } from '../../functions/core/measures';
import {
  DEFAULT_RETENTION_DAYS,
  defineViews,
  describeMeasure,
  firstRetainedBucket,
  MAX_SKETCH_BYTES_PER_ITEM,
  maxSketchBytes,
  retentionMs,
  viewDeclarationOf,
  ViewDeclarationError,
  type ViewDefinition,
} from '../../functions/core/view-declaration';

const base = { name: 'by_device', dimensions: ['deviceId'], granularity: 'minute' };

function problemsOf(declarations: unknown, schema?: EventSchema): readonly string[] {
  try {
    defineViews(declarations, schema);
  } catch (error) {
    expect(error).toBeInstanceOf(ViewDeclarationError);
    return (error as ViewDeclarationError).problems;
  }
  throw new Error('expected the declarations to be rejected');
}

describe('view declarations', () => {
  it('the default IoT views are valid, with every measure stored', () => {
    const views = defineViews(DEFAULT_VIEW_DECLARATIONS);
    expect(views.map((view) => [view.name, view.dimensions, view.granularity])).toEqual([
      ['device_metric_minute', ['deviceId', 'metric'], 'minute'],
      ['site_metric_hour', ['site', 'metric'], 'hour'],
      ['metric_day', ['metric'], 'day'],
    ]);
    expect(views[0].measures).toEqual([
      { name: 'count', kind: 'count', field: null, attribute: 'count' },
      { name: 'sum', kind: 'sum', field: 'value', attribute: 'sum' },
      { name: 'min', kind: 'min', field: 'value', attribute: 'min' },
      { name: 'max', kind: 'max', field: 'value', attribute: 'max' },
      { name: 'avg', kind: 'avg', field: 'value', attribute: 'sum' },
    ]);
    expect(views[0].stored).toEqual([
      { attribute: 'sum', kind: 'sum', field: 'value' },
      { attribute: 'min', kind: 'min', field: 'value' },
      { attribute: 'max', kind: 'max', field: 'value' },
    ]);
    expect(views[0].schema).toBe(DEFAULT_EVENT_SCHEMA);
    expect(views[0].filter).toEqual([]);
    expect(views[0].dedupeByEventId).toBe(false);
    expect(views.map((view) => view.retentionDays)).toEqual([30, 400, null]);
  });

  it('in the list notation, always answers count, in canonical order, and avg when sum is listed', () => {
    const [view] = defineViews([{ ...base, measures: ['max', 'sum'] }]);
    expect(view.measures.map((measure) => measure.name)).toEqual(['count', 'sum', 'max', 'avg']);
    expect(view.stored.map((measure) => measure.attribute)).toEqual(['sum', 'max']);
    const [countOnly] = defineViews([{ ...base, measures: ['count'] }]);
    expect(countOnly.measures.map((measure) => measure.name)).toEqual(['count']);
    expect(countOnly.stored).toEqual([]);
  });

  it.each([
    [
      [{ ...base, dimensions: ['devic'] }],
      'views[0].dimensions[0]: unknown field "devic" (the schema\'s dimensions: deviceId, site, metric)',
    ],
    [[base, { ...base }], 'views[1].name: duplicate view name "by_device"'],
    [
      [{ ...base, dimensions: [] }],
      'views[0].dimensions: a view needs at least one dimension: without one, every write would hit one DynamoDB partition',
    ],
    [[{ ...base, dimensions: ['site', 'site'] }], 'views[0].dimensions: repeats site'],
    [[{ ...base, granularity: 'week' }], 'views[0].granularity: expected one of minute, hour, day'],
    [
      [{ ...base, measures: ['avg'] }],
      'views[0].measures[0]: avg is derived from sum and count at query time: declare sum instead',
    ],
    [
      [{ ...base, measures: ['median'] }],
      'views[0].measures[0]: unknown measure "median" (known: count, sum, min, max; ' +
        "or name measures: { maxTemp: { max: 'temperature' } })",
    ],
    [[{ ...base, measures: [] }], 'views[0].measures: a view needs at least one measure'],
    [
      [{ ...base, name: 'Bad-Name' }],
      'views[0].name: expected lower-case letters, digits and _ (starting with a letter, at most 63 characters)',
    ],
    [[{ ...base, colour: 'red' }], 'views[0]: unknown key "colour"'],
    [
      [{ ...base, filter: [{ field: 'firmware', op: 'eq', value: 'x' }] }],
      'views[0].filter[0].field: unknown field "firmware" (known: deviceId, site, metric, value)',
    ],
    [
      [{ ...base, filter: [{ field: 'value', op: 'in', value: 3 }] }],
      'views[0].filter[0].value: op in needs an array of values',
    ],
    [
      [{ ...base, filter: [{ field: 'value', op: 'eq', value: 'hot' }] }],
      'views[0].filter[0].value: value is a number field: compare it with numbers',
    ],
    [[{ ...base, retentionDays: 0 }], 'views[0].retentionDays: expected at least 1 day'],
    [[{ ...base, retentionDays: -3 }], 'views[0].retentionDays: expected at least 1 day'],
    [[{ ...base, retentionDays: 1.5 }], 'views[0].retentionDays: expected a whole number of days'],
    [
      [{ ...base, retentionDays: '30' }],
      'views[0].retentionDays: expected a whole number of days, or null to keep the buckets for ever',
    ],
    [
      [{ ...base, retentionDays: 36_501 }],
      'views[0].retentionDays: expected at most 36500 days (100 years), or null to keep the buckets for ever',
    ],
    [[], 'views: declare at least one view'],
    [{}, 'views: expected an array of view declarations'],
  ])('rejects %j: %s', (declarations, problem) => {
    expect(problemsOf(declarations)).toContain(problem);
  });

  it('rejects an order comparison on a string field', () => {
    expect(problemsOf([{ ...base, filter: [{ field: 'site', op: 'gt', value: 'a' }] }])).toEqual([
      'views[0].filter[0].op: op gt compares numbers; site is a string field (use eq, ne, in or notIn)',
    ]);
  });

  it('lists every problem in the error message', () => {
    expect(() => defineViews([{ ...base, dimensions: [], granularity: 'week' }])).toThrow(
      /invalid view declarations:\n {2}- views\[0\]\.dimensions: .*\n {2}- views\[0\]\.granularity: /,
    );
  });
});

/** The web-requests example: two numeric fields, so the list notation does not apply. */
const web = defineEventSchema({
  id: 'requestId',
  time: 'at',
  dimensions: ['path', 'status', 'country'],
  numbers: ['latencyMs', 'bytes'],
});
const byPath = { name: 'by_path', dimensions: ['path'], granularity: 'minute' };

describe('named measures and declared schemas', () => {
  it('takes the object notation: each measure named, over the field it names, stored once', () => {
    const [view] = defineViews(
      [
        {
          ...byPath,
          measures: {
            requests: 'count',
            slowest: { max: 'latencyMs' },
            fastest: { min: 'latencyMs' },
            bytes: { sum: 'bytes' },
          },
        },
      ],
      web,
    );
    expect(view.schema).toBe(web);
    expect(view.measures).toEqual([
      { name: 'requests', kind: 'count', field: null, attribute: 'count' },
      { name: 'slowest', kind: 'max', field: 'latencyMs', attribute: 'slowest' },
      { name: 'fastest', kind: 'min', field: 'latencyMs', attribute: 'fastest' },
      { name: 'bytes', kind: 'sum', field: 'bytes', attribute: 'bytes' },
    ]);
    expect(view.stored).toEqual([
      { attribute: 'slowest', kind: 'max', field: 'latencyMs' },
      { attribute: 'fastest', kind: 'min', field: 'latencyMs' },
      { attribute: 'bytes', kind: 'sum', field: 'bytes' },
    ]);
  });

  it('takes the list notation for a schema with one numeric field, whatever it is called', () => {
    const plant = defineEventSchema({ dimensions: ['boiler'], numbers: ['pressure'] });
    const [view] = defineViews(
      [{ name: 'boilers', dimensions: ['boiler'], granularity: 'hour', measures: ['min', 'sum'] }],
      plant,
    );
    expect(view.measures.map((measure) => [measure.name, describeMeasure(measure.kind, measure.field)])).toEqual([
      ['count', 'count'],
      ['sum', 'sum(pressure)'],
      ['min', 'min(pressure)'],
      ['avg', 'avg(pressure)'],
    ]);
  });

  it('refuses the list notation for a schema with two numeric fields, saying how to name the measures', () => {
    expect(problemsOf([{ ...byPath, measures: ['count', 'max'] }], web)).toEqual([
      'views[0].measures: the list notation applies to a schema with one numeric field, and this one has 2 ' +
        "(latencyMs, bytes): name each measure and its field, as in { maxTemp: { max: 'temperature' } }",
    ]);
  });

  it.each([
    [
      { ...byPath, measures: { slowest: { max: 'latency' } } },
      'views[0].measures.slowest.max: unknown numeric field "latency" (the schema\'s numeric fields: latencyMs, bytes)',
    ],
    [
      { ...byPath, measures: { hits: { sum: 'path' } } },
      'views[0].measures.hits.sum: unknown numeric field "path" (the schema\'s numeric fields: latencyMs, bytes)',
    ],
    [
      { ...byPath, dimensions: ['deviceId'] },
      'views[0].dimensions[0]: unknown field "deviceId" (the schema\'s dimensions: path, status, country)',
    ],
    [
      { ...byPath, dimensions: ['latencyMs'] },
      'views[0].dimensions[0]: unknown field "latencyMs" (the schema\'s dimensions: path, status, country)',
    ],
    [
      { ...byPath, measures: { Slowest: { max: 'latencyMs' } } },
      'views[0].measures.Slowest: a measure name is a letter a-z, then letters, digits and _ (at most 63 characters)',
    ],
    [
      { ...byPath, measures: { 'max-latency': { max: 'latencyMs' } } },
      'views[0].measures.max-latency: a measure name is a letter a-z, then letters, digits and _ (at most 63 characters)',
    ],
    [
      { ...byPath, measures: { bucket: { max: 'latencyMs' } } },
      'views[0].measures.bucket: bucket is a name items and answers use for something else (reserved: pk, sk, bucket, epoch, expiresAt, windowFrom, windowTo, start, startMs, batch, realtime, wm_*)',
    ],
    [
      { ...byPath, measures: { wm_x: { max: 'latencyMs' } } },
      'views[0].measures.wm_x: wm_x is a name items and answers use for something else (reserved: pk, sk, bucket, epoch, expiresAt, windowFrom, windowTo, start, startMs, batch, realtime, wm_*)',
    ],
    [
      { ...byPath, measures: { count: { sum: 'bytes' } } },
      'views[0].measures.count: the name count is kept for the count of events',
    ],
    [
      { ...byPath, measures: { slowest: { max: 'latencyMs' }, worst: { max: 'latencyMs' } } },
      'views[0].measures.worst: computes the same as slowest (max(latencyMs))',
    ],
    [
      { ...byPath, measures: { requests: 'count', hits: 'count' } },
      'views[0].measures.hits: computes the same as requests (count)',
    ],
    [
      { ...byPath, measures: { p99: { p99: 'latencyMs' } } },
      "views[0].measures.p99: expected 'count', one of { sum | min | max | avg | sumSquares | variance | stddev: " +
        "'<numeric field>' }, { distinct: '<string field>', precision? } or " +
        "{ histogram: '<numeric field>', boundaries | range }",
    ],
    [{ ...byPath, measures: {} }, 'views[0].measures: a view needs at least one measure'],
    [
      { ...byPath, filter: [{ field: 'bytes', op: 'gt', value: '10' }] },
      'views[0].filter[0].value: bytes is a number field: compare it with numbers',
    ],
    [
      { ...byPath, filter: [{ field: 'value', op: 'gt', value: 1 }] },
      'views[0].filter[0].field: unknown field "value" (known: path, status, country, latencyMs, bytes)',
    ],
  ])('rejects %j against the web-requests schema: %s', (declaration, problem) => {
    expect(problemsOf([declaration], web)).toContain(problem);
  });

  it('stores an avg in a declared sum of the same field, and in a sum of its own otherwise', () => {
    const [shared, own] = defineViews(
      [
        { ...byPath, measures: { bytes: { sum: 'bytes' }, meanBytes: { avg: 'bytes' } } },
        { ...byPath, name: 'own', measures: { meanLatency: { avg: 'latencyMs' } } },
      ],
      web,
    );
    expect(shared.measures.find((measure) => measure.name === 'meanBytes')?.attribute).toBe('bytes');
    expect(shared.stored).toEqual([{ attribute: 'bytes', kind: 'sum', field: 'bytes' }]);
    expect(own.stored).toEqual([{ attribute: 'meanLatency', kind: 'sum', field: 'latencyMs' }]);
    expect(own.measures.map((measure) => measure.name)).toEqual(['meanLatency']);
  });

  it('shares a sum declared after the avg too', () => {
    const [view] = defineViews(
      [{ ...byPath, measures: { meanBytes: { avg: 'bytes' }, bytes: { sum: 'bytes' } } }],
      web,
    );
    expect(view.stored).toEqual([{ attribute: 'bytes', kind: 'sum', field: 'bytes' }]);
    expect(view.measures.map((measure) => [measure.name, measure.attribute])).toEqual([
      ['meanBytes', 'bytes'],
      ['bytes', 'bytes'],
    ]);
  });

  it('defaults a schema with two numeric fields to count and sum, min, max and avg of each, named by field', () => {
    const [view] = defineViews([byPath], web);
    expect(view.measures.map((measure) => [measure.name, describeMeasure(measure.kind, measure.field)])).toEqual([
      ['count', 'count'],
      ['sumLatencyMs', 'sum(latencyMs)'],
      ['minLatencyMs', 'min(latencyMs)'],
      ['maxLatencyMs', 'max(latencyMs)'],
      ['avgLatencyMs', 'avg(latencyMs)'],
      ['sumBytes', 'sum(bytes)'],
      ['minBytes', 'min(bytes)'],
      ['maxBytes', 'max(bytes)'],
      ['avgBytes', 'avg(bytes)'],
    ]);
    expect(view.stored.map((measure) => measure.attribute)).toEqual([
      'sumLatencyMs',
      'minLatencyMs',
      'maxLatencyMs',
      'sumBytes',
      'minBytes',
      'maxBytes',
    ]);
  });

  it('defaults a schema without numeric fields to the count alone', () => {
    const counts = defineEventSchema({ dimensions: ['page'], numbers: [] });
    const [view] = defineViews([{ name: 'pages', dimensions: ['page'], granularity: 'day' }], counts);
    expect(view.measures.map((measure) => measure.name)).toEqual(['count']);
    expect(view.stored).toEqual([]);
  });

  it('gives back a declaration that defines an equal view, in either notation and for defaults', () => {
    const declarations = [
      {
        ...byPath,
        description: 'Per path.',
        measures: { requests: 'count', slowest: { max: 'latencyMs' }, meanBytes: { avg: 'bytes' } },
        filter: [{ field: 'status', op: 'ne', value: '500' }],
        dedupeByEventId: true,
        retentionDays: 7,
      },
      { name: 'by_country', dimensions: ['country', 'status'], granularity: 'hour' },
    ];
    const views = defineViews(declarations, web);
    expect(defineViews(views.map(viewDeclarationOf), web)).toEqual(views);
    const iot = defineViews([...DEFAULT_VIEW_DECLARATIONS, { ...base, name: 'listed', measures: ['count', 'max'] }]);
    const again = defineViews(JSON.parse(JSON.stringify(iot.map(viewDeclarationOf))));
    expect(again).toEqual(iot);
  });

  it('filters on a numeric field of a declared schema by number, and on a dimension by string', () => {
    const [view] = defineViews(
      [
        {
          ...byPath,
          filter: [
            { field: 'latencyMs', op: 'gte', value: 250 },
            { field: 'status', op: 'in', value: ['500', '503'] },
          ],
        },
      ],
      web,
    );
    expect(view.filter).toEqual([
      { field: 'latencyMs', op: 'gte', value: 250 },
      { field: 'status', op: 'in', value: ['500', '503'] },
    ]);
    expect(problemsOf([{ ...byPath, filter: [{ field: 'status', op: 'lt', value: '500' }] }], web)).toEqual([
      'views[0].filter[0].op: op lt compares numbers; status is a string field (use eq, ne, in or notIn)',
    ]);
  });
});

describe('sketch and spread measures', () => {
  const EITHER_BOUNDARIES_OR_RANGE =
    'views[0].measures.l: expected either boundaries: [b0, b1, ...] or range: [low, high] ' +
    '(with an optional relativeAccuracy)';

  it('takes a distinct of a dimension or the id field, at precision 12 unless it says otherwise', () => {
    const [view] = defineViews(
      [
        {
          ...byPath,
          measures: { countries: { distinct: 'country' }, requests: { distinct: 'requestId', precision: 16 } },
        },
      ],
      web,
    );
    // Stored under a name that says the precision: registers of another precision do not merge.
    expect(view.measures).toEqual([
      { name: 'countries', kind: 'distinct', field: 'country', precision: 12, attribute: 'countries.hll12' },
      { name: 'requests', kind: 'distinct', field: 'requestId', precision: 16, attribute: 'requests.hll16' },
    ]);
    expect(view.stored).toEqual([
      { attribute: 'countries.hll12', kind: 'distinct', field: 'country', precision: 12 },
      { attribute: 'requests.hll16', kind: 'distinct', field: 'requestId', precision: 16 },
    ]);
    expect(maxSketchBytes(view.stored[0]!)).toBe('countries.hll12'.length + 4097);
  });

  it('takes a histogram with declared boundaries as they are', () => {
    const [view] = defineViews(
      [{ ...byPath, measures: { latency: { histogram: 'latencyMs', boundaries: [-1, 0, 2.5, 1e3] } } }],
      web,
    );
    // Stored under a name that says the boundaries: c3e7a709 begins the MD5 of '-1,0,2.5,1000'.
    expect(view.measures).toEqual([
      {
        name: 'latency',
        kind: 'histogram',
        field: 'latencyMs',
        boundaries: [-1, 0, 2.5, 1e3],
        attribute: 'latency.binsc3e7a709',
      },
    ]);
    expect(view.stored).toEqual([
      { attribute: 'latency.binsc3e7a709', kind: 'histogram', field: 'latencyMs', boundaries: [-1, 0, 2.5, 1e3] },
    ]);
  });

  it("generates a histogram range's boundaries, at relative accuracy 0.01 unless it says otherwise", () => {
    const [byDefault, coarse] = defineViews(
      [
        { ...byPath, measures: { latency: { histogram: 'latencyMs', range: [1, 10_000] } } },
        {
          ...byPath,
          name: 'coarse',
          measures: { latency: { histogram: 'latencyMs', range: [1, 10_000], relativeAccuracy: 0.1 } },
        },
      ],
      web,
    );
    expect(byDefault.measures[0]?.boundaries).toEqual(exponentialBoundaries(0.01, 1, 10_000));
    // 1464ae1e begins the MD5 of the 462 boundaries' text, joined by commas.
    expect(byDefault.stored[0]).toEqual({
      attribute: 'latency.bins1464ae1e',
      kind: 'histogram',
      field: 'latencyMs',
      boundaries: exponentialBoundaries(DEFAULT_RELATIVE_ACCURACY, 1, 10_000),
    });
    expect(DEFAULT_RELATIVE_ACCURACY).toBe(0.01);
    // ln(10^4) / ln(1.01/0.99) = 460.5: 1 × ratio^k for k = 0 to 461, the first at or past 10,000.
    expect(byDefault.measures[0]?.boundaries).toHaveLength(462);
    expect(coarse.measures[0]?.boundaries).toEqual(exponentialBoundaries(0.1, 1, 10_000));
    // ln(10^4) / ln(1.1/0.9) = 45.9: k = 0 to 46.
    expect(coarse.measures[0]?.boundaries).toHaveLength(47);
    expect(coarse.measures[0]?.attribute).not.toBe(byDefault.measures[0]?.attribute);
  });

  it("stores a variance and a stddev of a field in one sum and one sum of squares, under the first one's name", () => {
    const [view] = defineViews(
      [{ ...byPath, measures: { latencyVariance: { variance: 'latencyMs' }, latencySpread: { stddev: 'latencyMs' } } }],
      web,
    );
    expect(view.measures).toEqual([
      {
        name: 'latencyVariance',
        kind: 'variance',
        field: 'latencyMs',
        attribute: 'latencyVariance.sumSquares',
        sumAttribute: 'latencyVariance.sum',
      },
      {
        name: 'latencySpread',
        kind: 'stddev',
        field: 'latencyMs',
        attribute: 'latencyVariance.sumSquares',
        sumAttribute: 'latencyVariance.sum',
      },
    ]);
    expect(view.stored).toEqual([
      { attribute: 'latencyVariance.sumSquares', kind: 'sumSquares', field: 'latencyMs' },
      { attribute: 'latencyVariance.sum', kind: 'sum', field: 'latencyMs' },
    ]);
  });

  it('shares a declared sum and sum of squares with a variance and a stddev of the field, in any order', () => {
    const [view] = defineViews(
      [
        {
          ...byPath,
          measures: {
            spread: { stddev: 'latencyMs' },
            squares: { sumSquares: 'latencyMs' },
            total: { sum: 'latencyMs' },
            mean: { avg: 'latencyMs' },
            variance: { variance: 'latencyMs' },
            bytesSpread: { stddev: 'bytes' },
          },
        },
      ],
      web,
    );
    expect(view.measures.map((measure) => [measure.name, measure.attribute, measure.sumAttribute])).toEqual([
      ['spread', 'squares.sumSquares', 'total'],
      ['squares', 'squares.sumSquares', undefined],
      ['total', 'total', undefined],
      ['mean', 'total', undefined],
      ['variance', 'squares.sumSquares', 'total'],
      ['bytesSpread', 'bytesSpread.sumSquares', 'bytesSpread.sum'],
    ]);
    expect(view.stored).toEqual([
      { attribute: 'squares.sumSquares', kind: 'sumSquares', field: 'latencyMs' },
      { attribute: 'total', kind: 'sum', field: 'latencyMs' },
      { attribute: 'bytesSpread.sumSquares', kind: 'sumSquares', field: 'bytes' },
      { attribute: 'bytesSpread.sum', kind: 'sum', field: 'bytes' },
    ]);
  });

  it.each([
    [
      { u: { distinct: 'latencyMs' } },
      'views[0].measures.u.distinct: unknown string field "latencyMs" (distinct counts a dimension or the id field: ' +
        'path, status, country, requestId)',
    ],
    [
      { u: { distinct: 'visitor' } },
      'views[0].measures.u.distinct: unknown string field "visitor" (distinct counts a dimension or the id field: ' +
        'path, status, country, requestId)',
    ],
    [{ u: { distinct: 7 } }, 'views[0].measures.u.distinct: expected a field name'],
    [{ u: { distinct: 'path', precision: 3 } }, 'views[0].measures.u.precision: expected at least 4'],
    [
      { u: { distinct: 'path', precision: 17 } },
      'views[0].measures.u.precision: expected at most 16 (2^16 registers, a standard error of 0.41%)',
    ],
    [{ u: { distinct: 'path', precision: 12.5 } }, 'views[0].measures.u.precision: expected a whole number'],
    [{ u: { distinct: 'path', precision: '12' } }, 'views[0].measures.u.precision: expected a whole number'],
    [{ u: { distinct: 'path', registers: 4096 } }, 'views[0].measures.u: unknown key "registers"'],
    [
      { a: { distinct: 'path' }, b: { distinct: 'path', precision: 14 } },
      'views[0].measures.b: computes the same as a (distinct(path))',
    ],
    [{ l: { histogram: 'latencyMs', boundaries: [1, 2], range: [1, 10] } }, EITHER_BOUNDARIES_OR_RANGE],
    [{ l: { histogram: 'latencyMs' } }, EITHER_BOUNDARIES_OR_RANGE],
    [
      { l: { histogram: 'latencyMs', boundaries: [1, 2], relativeAccuracy: 0.1 } },
      'views[0].measures.l: relativeAccuracy applies to a range, not to declared boundaries',
    ],
    [
      { l: { histogram: 'latencyMs', boundaries: [1, 5, 5] } },
      'views[0].measures.l.boundaries: expected increasing boundaries',
    ],
    [
      { l: { histogram: 'latencyMs', boundaries: [3, 2] } },
      'views[0].measures.l.boundaries: expected increasing boundaries',
    ],
    [
      { l: { histogram: 'latencyMs', boundaries: [] } },
      'views[0].measures.l.boundaries: expected at least one boundary',
    ],
    [
      { l: { histogram: 'latencyMs', boundaries: [1, '2'] } },
      'views[0].measures.l.boundaries[1]: expected a finite number',
    ],
    [
      { l: { histogram: 'latencyMs', boundaries: Array.from({ length: 1001 }, (_, index) => index) } },
      'views[0].measures.l.boundaries: expected at most 1000 boundaries',
    ],
    [
      { l: { histogram: 'latencyMs', range: [0, 10] } },
      'views[0].measures.l.range: expected [low, high] with 0 < low < high',
    ],
    [
      { l: { histogram: 'latencyMs', range: [5, 1] } },
      'views[0].measures.l.range: expected [low, high] with 0 < low < high',
    ],
    [
      { l: { histogram: 'latencyMs', range: [5, 5] } },
      'views[0].measures.l.range: expected [low, high] with 0 < low < high',
    ],
    [{ l: { histogram: 'latencyMs', range: [1, 10, 100] } }, 'views[0].measures.l.range: expected [low, high]'],
    [
      { l: { histogram: 'latencyMs', range: [1, 10], relativeAccuracy: 0.0005 } },
      'views[0].measures.l.relativeAccuracy: expected at least 0.001',
    ],
    [
      { l: { histogram: 'latencyMs', range: [1, 10], relativeAccuracy: 0.6 } },
      'views[0].measures.l.relativeAccuracy: expected at most 0.5',
    ],
    [
      { l: { histogram: 'latencyMs', range: [1e-9, 1e9], relativeAccuracy: 0.001 } },
      'views[0].measures.l.range: at relative accuracy 0.001 the range needs more than 1000 boundaries (the batch ' +
        'SQL spells each one, and Athena caps a query at 256 KB): narrow the range or raise relativeAccuracy',
    ],
    [
      { l: { histogram: 'path', range: [1, 10] } },
      'views[0].measures.l.histogram: unknown numeric field "path" (the schema\'s numeric fields: latencyMs, bytes)',
    ],
    [{ l: { histogram: 'latencyMs', range: [1, 10], bins: 10 } }, 'views[0].measures.l: unknown key "bins"'],
    [
      { v: { variance: 'country' } },
      'views[0].measures.v.variance: unknown numeric field "country" (the schema\'s numeric fields: latencyMs, bytes)',
    ],
    [
      { s: { stddev: 'latency' } },
      'views[0].measures.s.stddev: unknown numeric field "latency" (the schema\'s numeric fields: latencyMs, bytes)',
    ],
    [{ s: { stddev: 'bytes' }, t: { stddev: 'bytes' } }, 'views[0].measures.t: computes the same as s (stddev(bytes))'],
  ])('rejects the measures %j: %s', (measures, problem) => {
    expect(problemsOf([{ ...byPath, measures }], web)).toEqual([problem]);
  });

  it('refuses sketches that may not fit in an item, naming the bytes they take', () => {
    const wide = defineEventSchema({ dimensions: ['a', 'b', 'c', 'd', 'e'], numbers: [] });
    const distincts = (fields: string[]) =>
      Object.fromEntries(fields.map((field) => [`n${field}`, { distinct: field, precision: 16 }]));
    const view = { name: 'wide', dimensions: ['a'], granularity: 'hour' };
    // Four dense sketches of 2^16 registers fit (4 × 65,545 bytes, 'na.hll16' and the registers); a fifth does not.
    const [four] = defineViews([{ ...view, measures: distincts(['a', 'b', 'c', 'd']) }], wide);
    expect(four.stored.map((measure) => measure.attribute)).toEqual(['na.hll16', 'nb.hll16', 'nc.hll16', 'nd.hll16']);
    expect(four.stored.reduce((total, measure) => total + maxSketchBytes(measure), 0)).toBe(4 * (8 + 65_537));
    expect(problemsOf([{ ...view, measures: distincts(['a', 'b', 'c', 'd', 'e']) }], wide)).toEqual([
      `views[0].measures: the view's sketches take up to ${5 * (8 + 65_537)} bytes per item, and at most ` +
        `${MAX_SKETCH_BYTES_PER_ITEM} fit beside the keys, sums and watermarks in a DynamoDB item (400 KB): ` +
        'lower a distinct precision or declare fewer histogram boundaries',
    ]);
  });

  it(
    'stores a redeclared sketch (another precision or other boundaries) and a sum turned into a sum of squares ' +
      'under a new attribute, so that old items read as not holding it',
    () => {
      const unchanged = {
        requests: 'count',
        total: { sum: 'latencyMs' },
        countries: { distinct: 'country' },
      } as const;
      const [before, after] = defineViews(
        [
          {
            ...byPath,
            measures: {
              ...unchanged,
              paths: { distinct: 'path', precision: 12 },
              latency: { histogram: 'latencyMs', boundaries: [10, 100, 1000] },
              load: { sum: 'bytes' },
            },
          },
          {
            ...byPath,
            name: 'by_path_redeclared',
            measures: {
              ...unchanged,
              paths: { distinct: 'path', precision: 14 },
              latency: { histogram: 'latencyMs', boundaries: [10, 100, 1000, 10_000] },
              load: { sumSquares: 'bytes' },
            },
          },
        ],
        web,
      ) as [ViewDefinition, ViewDefinition];
      const attributeOf = (view: ViewDefinition, name: string) =>
        view.measures.find((measure) => measure.name === name)?.attribute;
      for (const name of ['paths', 'latency', 'load']) {
        expect(attributeOf(after, name)).toBeDefined();
        expect(attributeOf(after, name)).not.toBe(attributeOf(before, name));
      }
      for (const name of Object.keys(unchanged)) expect(attributeOf(after, name)).toBe(attributeOf(before, name));

      // An item written under the first declaration, with values the second would misread under the same names:
      // paths in the dense form of precision 12 (4,096 registers, not 16,384), latencies counted in bin 3 (above
      // 1000 for the first boundaries, (1000, 10000] for the second), a sum where a sum of squares is expected.
      const events = Array.from({ length: 3000 }, (_, index) => ({
        requestId: `r${index}`,
        at: index,
        path: `/p${index}`,
        status: '200',
        country: index % 2 === 0 ? 'FR' : 'DE',
        latencyMs: 5000,
        bytes: 3,
      }));
      const written = measureAttributes(
        mergeAllMeasures(events.map((event) => measuresOf(before, event))),
        before.stored,
      );
      expect(written[attributeOf(before, 'paths')!]).toEqual({ S: expect.stringMatching(/^d/) });
      expect(written[attributeOf(before, 'latency')!]).toEqual({ S: '3:3000' });
      expect(written[attributeOf(before, 'load')!]).toEqual({ N: '9000' });

      const read = measuresFromAttributes(written, after.stored);
      expect(presentMeasures(after, read)).toEqual({
        requests: 3000,
        total: 15_000_000,
        countries: 2,
        paths: null,
        latency: null,
        load: null,
      });
    },
  );

  it('gives back a declaration that defines an equal view, for every kind of measure', () => {
    const declarations = [
      {
        ...byPath,
        measures: {
          requests: 'count',
          total: { sum: 'latencyMs' },
          fastest: { min: 'latencyMs' },
          slowest: { max: 'latencyMs' },
          mean: { avg: 'latencyMs' },
          squares: { sumSquares: 'latencyMs' },
          variance: { variance: 'latencyMs' },
          spread: { stddev: 'latencyMs' },
          bytesSpread: { stddev: 'bytes' },
          countries: { distinct: 'country' },
          visitors: { distinct: 'requestId', precision: 14 },
          latency: { histogram: 'latencyMs', range: [0.5, 60_000], relativeAccuracy: 0.02 },
          size: { histogram: 'bytes', boundaries: [0, 1024, 1_048_576] },
        },
      },
    ];
    const views = defineViews(declarations, web);
    expect(defineViews(views.map(viewDeclarationOf), web)).toEqual(views);
    expect(defineViews(JSON.parse(JSON.stringify(views.map(viewDeclarationOf))), web)).toEqual(views);
  });
});

describe('view retention', () => {
  const DAY_MS = 86_400_000;

  it.each([
    ['minute', 30],
    ['hour', 400],
    ['day', null],
  ] as const)('defaults %s views to %p days (null: for ever)', (granularity, days) => {
    expect(DEFAULT_RETENTION_DAYS[granularity]).toBe(days);
    const [view] = defineViews([{ ...base, granularity }]);
    expect(view.retentionDays).toBe(days);
    expect(retentionMs(view)).toBe(days === null ? null : days * DAY_MS);
  });

  it('takes an explicit number of days, and an explicit null to keep a minute view for ever', () => {
    const [week, forever, hourly] = defineViews([
      { ...base, retentionDays: 7 },
      { ...base, name: 'kept', retentionDays: null },
      { ...base, name: 'hourly', granularity: 'hour', retentionDays: 36_500 },
    ]);
    expect([week.retentionDays, forever.retentionDays, hourly.retentionDays]).toEqual([7, null, 36_500]);
    expect([retentionMs(week), retentionMs(forever)]).toEqual([7 * DAY_MS, null]);
  });

  it('a day view can be given a retention', () => {
    const [view] = defineViews([{ ...base, granularity: 'day', retentionDays: 3650 }]);
    expect(view.retentionDays).toBe(3650);
  });

  it('keeps a bucket while its start is at or after now - retention', () => {
    const [minute] = defineViews([{ ...base, retentionDays: 1 }]);
    const [hour] = defineViews([{ ...base, granularity: 'hour', retentionDays: 1 }]);
    const now = Date.UTC(2026, 10, 24, 12, 30, 15);
    // now - 1 day = 2026-11-23T12:30:15: the 12:30 minute bucket starts before it, the 12:31 one after.
    expect(firstRetainedBucket(minute, now)).toBe(Date.UTC(2026, 10, 23, 12, 31));
    expect(firstRetainedBucket(hour, now)).toBe(Date.UTC(2026, 10, 23, 13));
    // At an exact boundary the bucket that starts at now - retention is still kept.
    const aligned = Date.UTC(2026, 10, 24, 12, 30);
    expect(firstRetainedBucket(minute, aligned)).toBe(Date.UTC(2026, 10, 23, 12, 30));
    expect(firstRetainedBucket(minute, aligned + 1)).toBe(Date.UTC(2026, 10, 23, 12, 31));
    expect(firstRetainedBucket(hour, Date.UTC(2026, 10, 24, 12))).toBe(Date.UTC(2026, 10, 23, 12));
  });

  it('keeps everything of a view without retention, and never answers a bucket before 1970', () => {
    const [forever] = defineViews([{ ...base, granularity: 'day' }]);
    expect(firstRetainedBucket(forever, Date.UTC(2026, 10, 24))).toBe(0);
    const [minute] = defineViews([base]);
    expect(firstRetainedBucket(minute, 5 * DAY_MS)).toBe(0);
  });
});
