import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { defineViews, ViewDeclarationError } from '../../functions/core/view-declaration';

const base = { name: 'by_device', dimensions: ['deviceId'], granularity: 'minute' };

function problemsOf(declarations: unknown): readonly string[] {
  try {
    defineViews(declarations);
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
    expect(views[0].measures).toEqual(['count', 'sum', 'min', 'max']);
    expect(views[0].filter).toEqual([]);
    expect(views[0].dedupeByEventId).toBe(false);
  });

  it('always stores count, in canonical order, because avg and empty buckets need it', () => {
    const [view] = defineViews([{ ...base, measures: ['max', 'sum'] }]);
    expect(view.measures).toEqual(['count', 'sum', 'max']);
  });

  it.each([
    [
      [{ ...base, dimensions: ['devic'] }],
      'views[0].dimensions[0]: unknown field "devic" (known: deviceId, site, metric)',
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
      'views[0].measures[0]: unknown measure "median" (known: count, sum, min, max)',
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
