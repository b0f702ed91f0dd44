import { DEFAULT_ITEM_HINT_LIMITS, RealtimeItemHint } from '../../functions/adapters/realtime-item-hint';
import { measureAttributes } from '../../functions/core/aggregate-attributes';
import { defineEventSchema } from '../../functions/core/event-schema-definition';
import { decodeRegisters } from '../../functions/core/hyperloglog';
import {
  EMPTY_MEASURES,
  measuresOf,
  measuresWith,
  mergeAllMeasures,
  mergeMeasures,
  type Measures,
} from '../../functions/core/measures';
import { extremeUpdatesFor } from '../../functions/core/realtime-update';
import { defineViews, type StoredMeasure } from '../../functions/core/view-declaration';

const [view, sketches] = defineViews([
  { name: 'v', dimensions: ['deviceId'], granularity: 'minute' },
  {
    name: 'sketches',
    dimensions: ['site'],
    granularity: 'minute',
    measures: {
      events: 'count',
      devices: { distinct: 'deviceId' },
      values: { histogram: 'value', boundaries: [0, 10, 100] },
      spread: { stddev: 'value' },
      lowest: { min: 'value' },
    },
  },
]);
const { stored } = view;
/** The attribute a sketch measure is stored in: it names the precision or the boundaries (view-declaration.ts). */
const attributeOf = (name: string): string => {
  const measure = sketches.measures.find((candidate) => candidate.name === name);
  if (measure === undefined) throw new Error(`no measure ${name}`);
  return measure.attribute;
};
const delta = (min: number, max: number) =>
  mergeMeasures(measuresOf(view, { value: min }), measuresOf(view, { value: max }));
/** An item holding these measures, as a write returns it (UPDATED_NEW) or a read finds it. */
const itemHolding = (measures: Measures, of: readonly StoredMeasure[] = stored) => measureAttributes(measures, of);
/** An item holding only these extremes of the default view's stored measures. */
const holdingExtremes = (extremes: { min?: number; max?: number }) =>
  Object.fromEntries(Object.entries(extremes).map(([attribute, value]) => [attribute, { N: String(value) }]));
/** What a first attempt would choose for each min and max, from what the hint knows. */
const guess = (hint: RealtimeItemHint, itemId: string, change: Measures, of: readonly StoredMeasure[] = stored) =>
  extremeUpdatesFor(hint.known(itemId, of), change, of);
/** Sketch measures over many devices: `devices` distinct values make a dense sketch past 1,024 of them. */
const readings = (devices: number, prefix = 'device'): Measures =>
  mergeAllMeasures(
    Array.from({ length: devices }, (_, index) =>
      measuresOf(sketches, { deviceId: `${prefix}-${index}`, value: index % 150 }),
    ),
  );

describe('realtime item hint', () => {
  it('knows nothing of an unknown item, so a first attempt keeps the stored min and max, if any', () => {
    const hint = new RealtimeItemHint();
    expect(hint.known('a', stored)).toBe(EMPTY_MEASURES);
    expect(guess(hint, 'a', delta(1, 2))).toEqual({ min: 'keep', max: 'keep' });
  });

  it('replaces exactly when the delta passes the extreme last seen', () => {
    const hint = new RealtimeItemHint();
    hint.remember('a', holdingExtremes({ min: 5, max: 10 }), stored);
    expect(guess(hint, 'a', delta(4, 10))).toEqual({ min: 'replace', max: 'keep' });
    expect(guess(hint, 'a', delta(5, 11))).toEqual({ min: 'keep', max: 'replace' });
    expect(guess(hint, 'a', delta(6, 9))).toEqual({ min: 'keep', max: 'keep' });
  });

  it('judges each min and max of a view with several against its own remembered value', () => {
    const schema = defineEventSchema({ dimensions: ['room'], numbers: ['temperature', 'humidity'] });
    const [climate] = defineViews([{ name: 'climate', dimensions: ['room'], granularity: 'minute' }], schema);
    const reading = (temperature: number, humidity: number) => measuresOf(climate, { temperature, humidity });
    const hint = new RealtimeItemHint();
    hint.remember('a', itemHolding(mergeMeasures(reading(20, 40), reading(25, 60)), climate.stored), climate.stored);
    expect(guess(hint, 'a', mergeMeasures(reading(19, 50), reading(24, 61)), climate.stored)).toEqual({
      minTemperature: 'replace',
      maxTemperature: 'keep',
      minHumidity: 'keep',
      maxHumidity: 'replace',
    });
  });

  it('gives back the replaced attributes it was shown, decoded, and not the count, sums or watermarks', () => {
    const hint = new RealtimeItemHint();
    const measures = readings(40);
    hint.remember('a', { ...itemHolding(measures, sketches.stored), 'wm_shardId-0': { S: '1' } }, sketches.stored);
    const known = hint.known('a', sketches.stored);
    expect(known).toEqual(
      measuresWith({
        count: 0,
        min: measures.min,
        sumSquares: measures.sumSquares,
        distinct: measures.distinct,
        histogram: measures.histogram,
      }),
    );
  });

  it('keeps only the most recently used items up to its item limit', () => {
    const hint = new RealtimeItemHint({ maxItems: 2 });
    for (const itemId of ['a', 'b', 'a', 'c']) hint.remember(itemId, holdingExtremes({ min: 5 }), stored);
    expect(hint.size).toBe(2);
    expect(guess(hint, 'b', delta(1, 1)).min).toBe('keep');
    expect(guess(hint, 'a', delta(1, 1)).min).toBe('replace');
    expect(guess(hint, 'c', delta(1, 1)).min).toBe('replace');
  });

  it('bounds the bytes of the sketches it keeps, by their stored texts, evicting the least recently used', () => {
    const dense = itemHolding(readings(3_000), sketches.stored);
    const denseText = dense[attributeOf('devices')] as { S: string };
    // A dense sketch of precision 12: one character per register, whatever it holds.
    expect(denseText.S).toHaveLength(4_097);
    const measured = new RealtimeItemHint();
    measured.remember('a', dense, sketches.stored);
    const one = measured.bytes;
    expect(one).toBeGreaterThan(4_097);
    expect(one).toBeLessThan(5_000);

    const hint = new RealtimeItemHint({ maxBytes: 3 * one + 100 });
    for (const itemId of ['a', 'b', 'c', 'a', 'd', 'e']) hint.remember(itemId, dense, sketches.stored);
    expect(hint.size).toBe(3);
    expect(hint.bytes).toBe(3 * one);
    // 'b' and then 'c' were the least recently used when room had to be made; 'a' was used again after them.
    expect(hint.known('b', sketches.stored)).toBe(EMPTY_MEASURES);
    expect(hint.known('c', sketches.stored)).toBe(EMPTY_MEASURES);
    expect(hint.known('a', sketches.stored).distinct[attributeOf('devices')]).toEqual(decodeRegisters(denseText.S, 12));
  });

  it('does not keep an item larger than its whole budget, and forgets what it knew of it', () => {
    const hint = new RealtimeItemHint({ maxBytes: 2_000 });
    hint.remember('a', itemHolding(readings(3), sketches.stored), sketches.stored);
    expect(hint.size).toBe(1);
    hint.remember('a', itemHolding(readings(3_000), sketches.stored), sketches.stored);
    expect(hint.size).toBe(0);
    expect(hint.bytes).toBe(0);
  });

  it('forgets an item whose remembered texts do not decode as the view declares them: a hint never fails a write', () => {
    const hint = new RealtimeItemHint();
    const item = itemHolding(readings(3_000), sketches.stored);
    hint.remember('a', { ...item, [attributeOf('devices')]: { S: 'd-not-a-sketch' } }, sketches.stored);
    expect(hint.size).toBe(1);
    expect(hint.known('a', sketches.stored)).toBe(EMPTY_MEASURES);
    expect(hint.size).toBe(0);
  });

  it('knows a sketch redeclared at another precision as absent, since it is stored under another attribute', () => {
    const hint = new RealtimeItemHint();
    hint.remember('a', itemHolding(readings(3_000), sketches.stored), sketches.stored);
    const [finer] = defineViews([
      {
        name: 'sketches',
        dimensions: ['site'],
        granularity: 'minute',
        measures: { devices: { distinct: 'deviceId', precision: 14 } },
      },
    ]);
    expect(finer.stored.map((measure) => measure.attribute)).not.toContain(attributeOf('devices'));
    // A first attempt then sets the new attribute on the condition that the item lacks it, which the item does.
    expect(hint.known('a', finer.stored)).toEqual(EMPTY_MEASURES);
    expect(hint.size).toBe(1);
  });

  it('with no room remembers nothing', () => {
    for (const limits of [{ maxItems: 0 }, { maxBytes: 0 }]) {
      const hint = new RealtimeItemHint(limits);
      hint.remember('a', holdingExtremes({ min: 5 }), stored);
      expect(hint.size).toBe(0);
    }
  });

  it('defaults to 100,000 items and 64 MiB', () => {
    expect(DEFAULT_ITEM_HINT_LIMITS).toEqual({ maxItems: 100_000, maxBytes: 64 * 1024 * 1024 });
  });
});
