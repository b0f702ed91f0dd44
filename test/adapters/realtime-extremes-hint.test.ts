import { RealtimeExtremesHint } from '../../functions/adapters/realtime-extremes-hint';
import { measuresOf, mergeMeasures } from '../../functions/core/measures';

const delta = (min: number, max: number) => mergeMeasures(measuresOf(min), measuresOf(max));

describe('extremes hint', () => {
  it('guesses keep for an unknown item: the stored min and max, if any, are assumed to hold', () => {
    expect(new RealtimeExtremesHint(10).guess('a', delta(1, 2))).toEqual({ min: 'keep', max: 'keep' });
  });

  it('guesses replace exactly when the delta passes the extreme last seen', () => {
    const hint = new RealtimeExtremesHint(10);
    hint.remember('a', { min: 5, max: 10 });
    expect(hint.guess('a', delta(4, 10))).toEqual({ min: 'replace', max: 'keep' });
    expect(hint.guess('a', delta(5, 11))).toEqual({ min: 'keep', max: 'replace' });
    expect(hint.guess('a', delta(6, 9))).toEqual({ min: 'keep', max: 'keep' });
  });

  it('keeps only the most recently used items up to its capacity', () => {
    const hint = new RealtimeExtremesHint(2);
    hint.remember('a', { min: 5 });
    hint.remember('b', { min: 5 });
    hint.remember('a', { min: 5 });
    hint.remember('c', { min: 5 });
    expect(hint.size).toBe(2);
    expect(hint.guess('b', delta(1, 1)).min).toBe('keep');
    expect(hint.guess('a', delta(1, 1)).min).toBe('replace');
    expect(hint.guess('c', delta(1, 1)).min).toBe('replace');
  });

  it('with no capacity remembers nothing', () => {
    const hint = new RealtimeExtremesHint(0);
    hint.remember('a', { min: 5 });
    expect(hint.size).toBe(0);
  });
});
