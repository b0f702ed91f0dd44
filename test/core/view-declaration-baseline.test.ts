import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { defineEventSchema } from '../../functions/core/event-schema-definition';
import { measuresOf } from '../../functions/core/measures';
import {
  defineViews,
  viewDeclarationOf,
  ViewDeclarationError,
  type ViewDefinition,
} from '../../functions/core/view-declaration';

const hourly = { name: 'by_site', dimensions: ['site'], granularity: 'hour' } as const;

function problemsOf(declarations: unknown, schema?: Parameters<typeof defineViews>[1]): readonly string[] {
  try {
    defineViews(declarations, schema);
  } catch (error) {
    expect(error).toBeInstanceOf(ViewDeclarationError);
    return (error as ViewDeclarationError).problems;
  }
  throw new Error('expected the declarations to be rejected');
}

function defineOne(declaration: Record<string, unknown>): ViewDefinition {
  const [view] = defineViews([declaration]);
  return view;
}

describe('baseline declarations', () => {
  it('apply the defaults: hourOfDay, 28 days, threshold 4, 30 readings', () => {
    expect(defineOne({ ...hourly, measures: ['count'], baseline: { measure: 'value' } }).baseline).toEqual({
      field: 'value',
      seasonality: 'hourOfDay',
      trainingWindowDays: 28,
      threshold: 4,
      minEvents: 30,
      sumAttribute: 'value.baselineSum',
      sumSquaresAttribute: 'value.baselineSumSquares',
    });
  });

  it('keep what is declared', () => {
    const view = defineOne({
      ...hourly,
      baseline: { measure: 'value', seasonality: 'hourOfWeek', trainingWindowDays: 7, threshold: 3.5, minEvents: 2 },
    });
    expect(view.baseline).toMatchObject({
      seasonality: 'hourOfWeek',
      trainingWindowDays: 7,
      threshold: 3.5,
      minEvents: 2,
    });
  });

  it('the default site_metric_hour view declares one on value by hour of the day, reusing its sum', () => {
    const views = defineViews(DEFAULT_VIEW_DECLARATIONS);
    expect(views.filter((view) => view.baseline !== undefined).map((view) => view.name)).toEqual(['site_metric_hour']);
    const view = views[1];
    expect(view.baseline).toEqual({
      field: 'value',
      seasonality: 'hourOfDay',
      trainingWindowDays: 28,
      threshold: 4,
      minEvents: 30,
      sumAttribute: 'sum',
      sumSquaresAttribute: 'value.baselineSumSquares',
    });
    expect(view.stored.at(-1)).toEqual({ attribute: 'value.baselineSumSquares', kind: 'sumSquares', field: 'value' });
    // The baseline's attribute is stored, never answered as a measure.
    expect(view.measures.map((measure) => measure.name)).toEqual(['count', 'sum', 'min', 'max', 'avg']);
  });

  it('the field must be a numeric field of the schema', () => {
    expect(problemsOf([{ ...hourly, baseline: { measure: 'site' } }])).toEqual([
      'views[0].baseline.measure: unknown numeric field "site" (the schema\'s numeric fields: value)',
    ]);
    expect(problemsOf([{ ...hourly, baseline: { measure: 'nope' } }])).toEqual([
      'views[0].baseline.measure: unknown numeric field "nope" (the schema\'s numeric fields: value)',
    ]);
    expect(problemsOf([{ ...hourly, baseline: {} }])).toEqual([
      'views[0].baseline.measure: expected the numeric field whose readings are scored',
    ]);
  });

  it('is refused on a minute view, whatever the seasonality', () => {
    for (const seasonality of ['hourOfDay', 'hourOfWeek', 'none']) {
      const problems = problemsOf([
        { ...hourly, granularity: 'minute', baseline: { measure: 'value', seasonality, trainingWindowDays: 7 } },
      ]);
      expect(problems).toEqual([
        'views[0].baseline: a baseline reads every bucket of its training window, and a 7-day window of minutes is 10080 ' +
          'buckets per key: declare it on an hour view',
      ]);
    }
  });

  it("is accepted on a day view only with seasonality 'none'", () => {
    const day = { ...hourly, granularity: 'day' };
    expect(defineOne({ ...day, baseline: { measure: 'value', seasonality: 'none' } }).baseline).toMatchObject({
      seasonality: 'none',
    });
    for (const seasonality of ['hourOfDay', 'hourOfWeek']) {
      expect(problemsOf([{ ...day, baseline: { measure: 'value', seasonality } }])).toEqual([
        `views[0].baseline.seasonality: ${seasonality} needs hour buckets, and this view's are days: ` +
          "declare it on an hour view, or use seasonality 'none'",
      ]);
    }
    // The default seasonality is hourOfDay, so a day view must say 'none'.
    expect(problemsOf([{ ...day, baseline: { measure: 'value' } }])).toHaveLength(1);
  });

  it('hourOfWeek needs a window of at least 7 days', () => {
    expect(
      problemsOf([{ ...hourly, baseline: { measure: 'value', seasonality: 'hourOfWeek', trainingWindowDays: 6 } }]),
    ).toEqual([
      'views[0].baseline.trainingWindowDays: hourOfWeek needs at least 7 days, to see each hour of the week once',
    ]);
    expect(
      defineOne({ ...hourly, baseline: { measure: 'value', seasonality: 'hourOfWeek', trainingWindowDays: 7 } })
        .baseline,
    ).toMatchObject({ trainingWindowDays: 7 });
    // hourOfDay and none need one day only.
    expect(defineOne({ ...hourly, baseline: { measure: 'value', trainingWindowDays: 1 } }).baseline).toMatchObject({
      trainingWindowDays: 1,
    });
  });

  it('a window longer than the view keeps its buckets is refused; one as long is not; keeping for ever allows 90', () => {
    expect(
      problemsOf([{ ...hourly, retentionDays: 10, baseline: { measure: 'value', trainingWindowDays: 11 } }]),
    ).toEqual([
      'views[0].baseline.trainingWindowDays: 11 days is longer than the view keeps its buckets (retentionDays 10)',
    ]);
    expect(
      defineOne({ ...hourly, retentionDays: 10, baseline: { measure: 'value', trainingWindowDays: 10 } }).baseline,
    ).toMatchObject({
      trainingWindowDays: 10,
    });
    expect(
      defineOne({ ...hourly, retentionDays: null, baseline: { measure: 'value', trainingWindowDays: 90 } }).baseline,
    ).toMatchObject({ trainingWindowDays: 90 });
  });

  it('checks its numbers: whole days 1..90, a positive threshold up to 100, at least 2 readings, no unknown keys', () => {
    expect(
      problemsOf([
        {
          ...hourly,
          retentionDays: null,
          baseline: { measure: 'value', trainingWindowDays: 91, threshold: 0, minEvents: 1, extra: true },
        },
      ]),
    ).toEqual([
      'views[0].baseline.trainingWindowDays: expected at most 90 days: a baseline reads every bucket of its window',
      'views[0].baseline.threshold: expected a positive number of standard deviations',
      'views[0].baseline.minEvents: expected at least 2 readings: a standard deviation needs two',
      'views[0].baseline: unknown key "extra"',
    ]);
    expect(problemsOf([{ ...hourly, baseline: { measure: 'value', trainingWindowDays: 1.5 } }])).toEqual([
      'views[0].baseline.trainingWindowDays: expected a whole number of days',
    ]);
    expect(problemsOf([{ ...hourly, baseline: { measure: 'value', trainingWindowDays: 0 } }])).toEqual([
      'views[0].baseline.trainingWindowDays: expected at least 1 day',
    ]);
    expect(problemsOf([{ ...hourly, baseline: { measure: 'value', seasonality: 'monthly' } }])).toEqual([
      'views[0].baseline.seasonality: expected one of hourOfWeek, hourOfDay, none',
    ]);
  });

  it('reuses a declared sum and sum of squares of the field as the attributes it reads, adding nothing', () => {
    const view = defineOne({
      ...hourly,
      measures: { total: { sum: 'value' }, squares: { sumSquares: 'value' } },
      baseline: { measure: 'value' },
    });
    expect(view.baseline).toMatchObject({ sumAttribute: 'total', sumSquaresAttribute: 'squares.sumSquares' });
    expect(view.stored).toEqual([
      { attribute: 'total', kind: 'sum', field: 'value' },
      { attribute: 'squares.sumSquares', kind: 'sumSquares', field: 'value' },
    ]);
    // A declared stddev stores both, and they are reused too.
    const spread = defineOne({ ...hourly, measures: { spread: { stddev: 'value' } }, baseline: { measure: 'value' } });
    expect(spread.stored).toHaveLength(2);
    expect(spread.baseline?.sumSquaresAttribute).toBe(spread.measures[0].attribute);
    expect(spread.baseline?.sumAttribute).toBe(spread.measures[0].sumAttribute);
  });

  it('otherwise stores <field>.baselineSum and <field>.baselineSumSquares, each computed per event like any sum', () => {
    const schema = defineEventSchema({ dimensions: ['site'], numbers: ['value', 'other'] });
    const [view] = defineViews(
      [
        {
          ...hourly,
          // Sums of another field are not the baseline's.
          measures: { otherTotal: { sum: 'other' }, otherSquares: { sumSquares: 'other' } },
          baseline: { measure: 'value' },
        },
      ],
      schema,
    );
    expect(view.baseline).toMatchObject({
      sumAttribute: 'value.baselineSum',
      sumSquaresAttribute: 'value.baselineSumSquares',
    });
    expect(view.stored).toEqual([
      { attribute: 'otherTotal', kind: 'sum', field: 'other' },
      { attribute: 'otherSquares.sumSquares', kind: 'sumSquares', field: 'other' },
      { attribute: 'value.baselineSum', kind: 'sum', field: 'value' },
      { attribute: 'value.baselineSumSquares', kind: 'sumSquares', field: 'value' },
    ]);
    const measures = measuresOf(view, { site: 'a', value: -3, other: 2, ts: 0, eventId: 'e' });
    expect(measures.sum).toEqual({ otherTotal: 2, 'value.baselineSum': -3 });
    expect(measures.sumSquares).toEqual({ 'otherSquares.sumSquares': 4, 'value.baselineSumSquares': 9 });
  });

  it('a view without a baseline stores nothing for one', () => {
    const view = defineOne({ ...hourly, measures: ['count'] });
    expect(view.baseline).toBeUndefined();
    expect(view.stored).toEqual([]);
    expect('baseline' in viewDeclarationOf(view)).toBe(false);
  });

  it('viewDeclarationOf round-trips a baseline: defining it again gives an equal definition', () => {
    const views = defineViews([
      ...DEFAULT_VIEW_DECLARATIONS,
      {
        ...hourly,
        name: 'weekly',
        measures: ['count'],
        baseline: { measure: 'value', seasonality: 'hourOfWeek', trainingWindowDays: 14, threshold: 3, minEvents: 5 },
      },
      { ...hourly, name: 'spread', measures: { spread: { stddev: 'value' } }, baseline: { measure: 'value' } },
      {
        ...hourly,
        name: 'daily',
        granularity: 'day',
        baseline: { measure: 'value', seasonality: 'none', trainingWindowDays: 90 },
      },
    ]);
    const declarations = views.map(viewDeclarationOf);
    expect(declarations[3].baseline).toEqual({
      measure: 'value',
      seasonality: 'hourOfWeek',
      trainingWindowDays: 14,
      threshold: 3,
      minEvents: 5,
    });
    expect(defineViews(JSON.parse(JSON.stringify(declarations)))).toEqual(views);
  });
});
