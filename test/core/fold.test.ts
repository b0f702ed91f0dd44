import fc from 'fast-check';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { foldRecords, mergeFolds, type Fold } from '../../functions/core/fold';
import { defineViews } from '../../functions/core/view-declaration';
import { positionOf } from '../../functions/core/stream-record';
import { defineEventSchema } from '../../functions/core/event-schema-definition';
import { measuresWith, mergeMeasures, type Measures } from '../../functions/core/measures';
import { asExpected, bruteForce } from '../support/brute-force';
import { schemaArbitrary, schemaStreamArbitrary, viewsArbitrary } from '../support/schema-arbitraries';
import { streamArbitrary } from '../support/stream-arbitraries';

const views = defineViews([
  ...DEFAULT_VIEW_DECLARATIONS,
  {
    name: 'warm_temperature_by_site',
    dimensions: ['site'],
    granularity: 'minute',
    filter: [
      { field: 'metric', op: 'eq', value: 'temperature' },
      { field: 'value', op: 'gte', value: 0 },
    ],
  },
]);
const EPOCH_MS = 15 * 60_000;

const sorted = (fold: Fold) => [...fold.entries()].sort(([a], [b]) => (a < b ? -1 : 1));

/** Splits a list into consecutive chunks at the given cut points. */
function chunk<T>(items: readonly T[], cuts: readonly number[]): T[][] {
  const points = [...new Set(cuts.map((cut) => cut % (items.length + 1)))].sort((a, b) => a - b);
  const chunks: T[][] = [];
  let start = 0;
  for (const point of [...points, items.length]) {
    chunks.push(items.slice(start, point));
    start = point;
  }
  return chunks;
}

// 300 runs of up to 60 records across 4 views: enough to hit every view with filtered-out, late and
// multi-shard records in one bucket many times over, while the file stays under a few seconds.
const runs = { numRuns: 300 };

describe('fold', () => {
  it('folding a stream in arbitrary chunks, merged in any order, equals folding it whole', () => {
    fc.assert(
      fc.property(streamArbitrary(), fc.array(fc.nat(), { maxLength: 6 }), fc.nat(), ({ records }, cuts, seed) => {
        const whole = foldRecords(records, views, EPOCH_MS);
        const parts = chunk(records, cuts).map((part) => foldRecords(part, views, EPOCH_MS));
        const shuffled = [...parts].sort((a, b) => ((a.size * 31 + seed) % 7) - ((b.size * 31 + seed) % 7));
        const merged = shuffled.reduce<Fold>((total, part) => mergeFolds(total, part), new Map());
        expect(sorted(merged)).toEqual(sorted(whole));
      }),
      runs,
    );
  });

  it('folds are a monoid: merging is associative and commutative, with the empty fold as identity', () => {
    fc.assert(
      fc.property(streamArbitrary(), streamArbitrary(), streamArbitrary(), (x, y, z) => {
        const [a, b, c] = [x, y, z].map(({ records }) => foldRecords(records, views, EPOCH_MS));
        expect(sorted(mergeFolds(mergeFolds(a, b), c))).toEqual(sorted(mergeFolds(a, mergeFolds(b, c))));
        expect(sorted(mergeFolds(a, b))).toEqual(sorted(mergeFolds(b, a)));
        expect(sorted(mergeFolds(a, new Map()))).toEqual(sorted(a));
      }),
      { numRuns: 100 },
    );
  });

  it('each aggregate carries, per shard, the highest position among the records it covers', () => {
    fc.assert(
      fc.property(streamArbitrary({ minLength: 1 }), ({ records }) => {
        const fold = foldRecords(records, views.slice(0, 1), EPOCH_MS);
        for (const partial of fold.values()) {
          for (const [shard, watermark] of Object.entries(partial.watermarks)) {
            const positions = records.filter((record) => record.shardId === shard).map(positionOf);
            expect(positions).toContain(watermark);
          }
        }
        const highest = records.map(positionOf).sort().at(-1);
        const watermarks = [...fold.values()].flatMap((partial) => Object.values(partial.watermarks)).sort();
        expect(watermarks.at(-1)).toBe(highest);
      }),
      runs,
    );
  });

  it('keys records by view, dimension key, event-time bucket and arrival epoch', () => {
    const record = {
      event: {
        eventId: 'e1',
        deviceId: 'dev|1',
        site: 's1',
        metric: 'temperature',
        value: 21.5,
        ts: Date.UTC(2026, 10, 23, 14, 7, 31),
      },
      shardId: 'shardId-000000000000',
      sequenceNumber: '100',
      subSequenceNumber: 0,
      arrivalMs: Date.UTC(2026, 10, 23, 16, 20, 0),
    };
    const [partial] = foldRecords([record], views.slice(0, 1), EPOCH_MS).values();
    expect(partial.key).toEqual({
      view: 'device_metric_minute',
      dimensionKey: 'dev%7C1|temperature',
      bucket: Date.UTC(2026, 10, 23, 14, 7),
      epoch: Date.UTC(2026, 10, 23, 16, 15),
    });
    expect(partial.measures).toEqual(
      measuresWith({ count: 1, sum: { sum: 21.5 }, min: { min: 21.5 }, max: { max: 21.5 } }),
    );
  });

  it('a view filter excludes what it does not match', () => {
    const filtered = views.filter((view) => view.name === 'warm_temperature_by_site');
    const base = { eventId: 'e', deviceId: 'd', site: 's', ts: 0 };
    const records = [
      { ...base, metric: 'temperature', value: 5 },
      { ...base, metric: 'temperature', value: -5 },
      { ...base, metric: 'humidity', value: 5 },
    ].map((event, index) => ({
      event,
      shardId: 's',
      sequenceNumber: String(index + 1),
      subSequenceNumber: 0,
      arrivalMs: 0,
    }));
    const [partial] = foldRecords(records, filtered, EPOCH_MS).values();
    expect(partial.measures.count).toBe(1);
  });

  it('folds every numeric field a view names into its own attribute, for a declared schema', () => {
    const schema = defineEventSchema({
      id: 'requestId',
      time: 'at',
      dimensions: ['path'],
      numbers: ['latencyMs', 'bytes'],
    });
    const [view] = defineViews(
      [
        {
          name: 'by_path',
          dimensions: ['path'],
          granularity: 'hour',
          measures: {
            requests: 'count',
            slowest: { max: 'latencyMs' },
            fastest: { min: 'latencyMs' },
            largest: { max: 'bytes' },
            bytes: { sum: 'bytes' },
            meanLatency: { avg: 'latencyMs' },
          },
          filter: [{ field: 'bytes', op: 'gt', value: 0 }],
        },
      ],
      schema,
    );
    const at = Date.UTC(2026, 10, 23, 14, 7);
    const records = [
      { latencyMs: 120, bytes: 500 },
      { latencyMs: 80, bytes: 1500 },
      { latencyMs: 300, bytes: 0 },
    ].map((fields, index) => ({
      event: { requestId: `r${index}`, path: '/a', at: at + index, ...fields },
      shardId: 'shardId-000000000000',
      sequenceNumber: String(index + 1),
      subSequenceNumber: 0,
      arrivalMs: at + 60_000,
    }));
    const [partial] = foldRecords(records, [view], EPOCH_MS).values();
    expect(partial.key).toMatchObject({ view: 'by_path', dimensionKey: '%2Fa', bucket: Date.UTC(2026, 10, 23, 14) });
    expect(partial.measures).toEqual(
      measuresWith({
        count: 2,
        sum: { bytes: 2000, meanLatency: 200 },
        min: { fastest: 80 },
        max: { slowest: 120, largest: 1500 },
      }),
    );
  });

  // 100 runs of a random schema (1–4 dimensions, 1–3 numeric fields), 1–2 random views with named measures and
  // filters, and up to 40 records: the fold, merged over epochs, is brute force over the records.
  it('for random schemas and views, the fold merged over epochs equals brute force over the records', () => {
    const arbitrary = schemaArbitrary.chain((declared) =>
      fc.tuple(
        fc.constant(declared),
        viewsArbitrary(declared),
        schemaStreamArbitrary(declared, { minLength: 0, maxLength: 40 }),
      ),
    );
    fc.assert(
      fc.property(arbitrary, ([declared, declarations, { records }]) => {
        const schema = defineEventSchema(declared);
        // The fold does not de-duplicate by id (the layers do, where their data lives): brute force without it.
        const randomViews = defineViews(
          declarations.map((declaration) => ({ ...declaration, dedupeByEventId: false })),
          schema,
        );
        const fold = foldRecords(records, randomViews, EPOCH_MS);
        for (const view of randomViews) {
          const merged = new Map<string, { dimensionKey: string; bucket: number; measures: Measures }>();
          for (const { key, measures } of fold.values()) {
            if (key.view !== view.name) continue;
            const id = `${key.dimensionKey}@${key.bucket}`;
            const existing = merged.get(id);
            merged.set(id, {
              dimensionKey: key.dimensionKey,
              bucket: key.bucket,
              measures: existing === undefined ? measures : mergeMeasures(existing.measures, measures),
            });
          }
          expect(asExpected(merged.values())).toEqual(bruteForce(view, records));
        }
      }),
      { numRuns: 100 },
    );
  });
});
