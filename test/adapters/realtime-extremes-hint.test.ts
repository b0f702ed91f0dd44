import { RealtimeExtremesHint } from '../../functions/adapters/realtime-extremes-hint';
import { defineEventSchema } from '../../functions/core/event-schema-definition';
import { EMPTY_MEASURES, measuresOf, mergeMeasures, type Measures } from '../../functions/core/measures';
import { defineViews } from '../../functions/core/view-declaration';

const [view] = defineViews([{ name: 'v', dimensions: ['deviceId'], granularity: 'minute' }]);
const { stored } = view;
const delta = (min: number, max: number) =>
  mergeMeasures(measuresOf(view, { value: min }), measuresOf(view, { value: max }));
/** What an item holds, as far as the hint uses it: its min and max. */
const holding = (extremes: { min?: number; max?: number }): Measures => ({
  ...EMPTY_MEASURES,
  min: extremes.min === undefined ? {} : { min: extremes.min },
  max: extremes.max === undefined ? {} : { max: extremes.max },
});

describe('extremes hint', () => {
  it('guesses keep for an unknown item: the stored min and max, if any, are assumed to hold', () => {
    expect(new RealtimeExtremesHint(10).guess('a', delta(1, 2), stored)).toEqual({ min: 'keep', max: 'keep' });
  });

  it('guesses replace exactly when the delta passes the extreme last seen', () => {
    const hint = new RealtimeExtremesHint(10);
    hint.remember('a', holding({ min: 5, max: 10 }));
    expect(hint.guess('a', delta(4, 10), stored)).toEqual({ min: 'replace', max: 'keep' });
    expect(hint.guess('a', delta(5, 11), stored)).toEqual({ min: 'keep', max: 'replace' });
    expect(hint.guess('a', delta(6, 9), stored)).toEqual({ min: 'keep', max: 'keep' });
  });

  it('guesses per attribute for a view with several min and max attributes', () => {
    const schema = defineEventSchema({ dimensions: ['room'], numbers: ['temperature', 'humidity'] });
    const [climate] = defineViews([{ name: 'climate', dimensions: ['room'], granularity: 'minute' }], schema);
    const reading = (temperature: number, humidity: number) => measuresOf(climate, { temperature, humidity });
    const hint = new RealtimeExtremesHint(10);
    hint.remember('a', mergeMeasures(reading(20, 40), reading(25, 60)));
    expect(hint.guess('a', mergeMeasures(reading(19, 50), reading(24, 61)), climate.stored)).toEqual({
      minTemperature: 'replace',
      maxTemperature: 'keep',
      minHumidity: 'keep',
      maxHumidity: 'replace',
    });
  });

  it('keeps only the most recently used items up to its capacity', () => {
    const hint = new RealtimeExtremesHint(2);
    hint.remember('a', holding({ min: 5 }));
    hint.remember('b', holding({ min: 5 }));
    hint.remember('a', holding({ min: 5 }));
    hint.remember('c', holding({ min: 5 }));
    expect(hint.size).toBe(2);
    expect(hint.guess('b', delta(1, 1), stored).min).toBe('keep');
    expect(hint.guess('a', delta(1, 1), stored).min).toBe('replace');
    expect(hint.guess('c', delta(1, 1), stored).min).toBe('replace');
  });

  it('with no capacity remembers nothing', () => {
    const hint = new RealtimeExtremesHint(0);
    hint.remember('a', holding({ min: 5 }));
    expect(hint.size).toBe(0);
  });
});
