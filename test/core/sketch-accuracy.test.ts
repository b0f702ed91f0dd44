import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineEventSchema } from '../../functions/core/event-schema-definition';
import { binOf, quantileRank, type QuantileEstimate } from '../../functions/core/histogram';
import { hllStandardError, registerOfHash, valueHash, type HllRegisters } from '../../functions/core/hyperloglog';
import { measuresWith, measureValue, presentMeasures, type QuantilesAnswer } from '../../functions/core/measures';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';
import { seededRandom } from '../speed/generated-events';

/**
 * The accuracy the README states for the sketch measures, checked on reproducible data: distinct counts from 10 to
 * 10^6 values within 3 standard errors at the default precision and at 14, and quantiles of uniform, log-normal and
 * bimodal values within the histogram's relative accuracy, the true quantile inside the bounds the answer states.
 * The errors observed are written to test-output/sketch-accuracy.json, for the README and the bench to quote.
 */

const SEED = 16;
const random = seededRandom(SEED);
/** Every value of this run starts with it, so that a new seed draws new hashes. */
const RUN_PREFIX = `run-${Math.floor(random() * 2 ** 32).toString(36)}`;

const schema = defineEventSchema({ dimensions: ['region', 'deviceId'], numbers: ['latencyMs'] });
const RELATIVE_ACCURACY = 0.01;
/** Two views: one field's distinct is declared once per view (a second precision would compute the same). */
const [view, view14] = defineViews(
  [
    {
      name: 'accuracy',
      dimensions: ['region'],
      granularity: 'day',
      measures: {
        devices: { distinct: 'deviceId' },
        latency: { histogram: 'latencyMs', range: [1e-3, 1e5], relativeAccuracy: RELATIVE_ACCURACY },
      },
    },
    {
      name: 'accuracy14',
      dimensions: ['region'],
      granularity: 'day',
      measures: { devices: { distinct: 'deviceId', precision: 14 } },
    },
  ],
  schema,
) as [ViewDefinition, ViewDefinition];
const measureNamed = (definition: ViewDefinition, name: string) =>
  definition.measures.find((measure) => measure.name === name)!;

const observed: {
  seed: number;
  distinct: { cardinality: number; precision: number; estimate: number; relativeError: number; bound: number }[];
  quantiles: {
    distribution: string;
    values: number;
    q: number;
    truth: number;
    answer: QuantileEstimate;
    relativeError: number;
    bound: number;
  }[];
} = { seed: SEED, distinct: [], quantiles: [] };

afterAll(() => {
  const directory = join(__dirname, '..', '..', 'test-output');
  mkdirSync(directory, { recursive: true });
  const maxRelativeError = (rows: { relativeError: number }[]) =>
    Math.max(...rows.map(({ relativeError }) => relativeError));
  const summary = {
    distinctMaxRelativeErrorByPrecision: Object.fromEntries(
      [12, 14].map((precision) => [
        precision,
        maxRelativeError(observed.distinct.filter((row) => row.precision === precision)),
      ]),
    ),
    quantileMaxRelativeErrorByDistribution: Object.fromEntries(
      [...new Set(observed.quantiles.map(({ distribution }) => distribution))].map((distribution) => [
        distribution,
        maxRelativeError(observed.quantiles.filter((row) => row.distribution === distribution)),
      ]),
    ),
  };
  writeFileSync(join(directory, 'sketch-accuracy.json'), `${JSON.stringify({ ...observed, summary }, null, 2)}\n`);
});

/** The hashes of `device-0` … `device-(n−1)` (with the run's prefix and n), hashed once for both precisions. */
const hashes = new Map<number, Uint32Array>();
function deviceHashes(cardinality: number): Uint32Array {
  const cached = hashes.get(cardinality);
  if (cached !== undefined) return cached;
  const words = new Uint32Array(2 * cardinality);
  for (let i = 0; i < cardinality; i += 1) {
    const { hi, lo } = valueHash(`${RUN_PREFIX}-${cardinality}-device-${i}`);
    words[2 * i] = hi;
    words[2 * i + 1] = lo;
  }
  hashes.set(cardinality, words);
  return words;
}

describe('distinct accuracy', () => {
  it.each([12, 14].flatMap((precision) => [10, 100, 1_000, 10_000, 100_000, 1_000_000].map((n) => [n, precision])))(
    'estimates %i distinct values at precision %i within 3 standard errors',
    (cardinality, precision) => {
      const words = deviceHashes(cardinality);
      // registerOf's own steps (hash, then registerOfHash), folded into one Map: merging a million one-register
      // sketches would copy the map a million times. hyperloglog.test.ts proves the steps and the merge alike.
      const registers = new Map<number, number>();
      for (let i = 0; i < cardinality; i += 1) {
        const { index, rank } = registerOfHash(
          { hi: words[2 * i] as number, lo: words[2 * i + 1] as number },
          precision,
        );
        if (rank > (registers.get(index) ?? 0)) registers.set(index, rank);
      }
      const measure = measureNamed(precision === 12 ? view : view14, 'devices');
      expect(measure.precision).toBe(precision);
      const distinct: Record<string, HllRegisters> = { [measure.attribute]: registers };
      const estimate = measureValue(measuresWith({ count: cardinality, distinct }), measure) as number;
      const relativeError = Math.abs(estimate - cardinality) / cardinality;
      const bound = 3 * hllStandardError(precision);
      observed.distinct.push({ cardinality, precision, estimate, relativeError, bound });
      expect(relativeError).toBeLessThanOrEqual(bound);
    },
  );
});

/** A standard normal draw (Box–Muller) from the seeded generator. */
function normal(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const VALUES = 100_000;
const DISTRIBUTIONS: Record<string, () => number> = {
  // Milliseconds spread evenly from 10 to 1,000.
  uniform: () => 10 + random() * 990,
  // A median of e^3 ≈ 20, a 0.999-quantile of e^(3 + 3.09) ≈ 440: the long tail of latencies.
  logNormal: () => Math.exp(3 + normal()),
  // A fast path around 50 (70%) and a slow one around 500 (30%).
  bimodal: () => (random() < 0.7 ? 50 + 5 * normal() : 500 + 50 * normal()),
};

describe('quantile accuracy', () => {
  const boundaries = measureNamed(view, 'latency').boundaries!;

  it.each(Object.keys(DISTRIBUTIONS))(
    'answers the 0.5 to 0.999 quantiles of 100,000 %s values within 1%, the true one inside the stated bounds',
    (distribution) => {
      const draw = DISTRIBUTIONS[distribution]!;
      const values = Array.from({ length: VALUES }, draw);
      const bins = new Map<number, number>();
      for (const value of values) {
        const bin = binOf(boundaries, value);
        bins.set(bin, (bins.get(bin) ?? 0) + 1);
      }
      const sorted = Float64Array.from(values).sort();
      // The range covers every value: no quantile falls in an unbounded outer bin.
      expect(sorted[0]).toBeGreaterThan(boundaries[0]!);
      expect(sorted[VALUES - 1]).toBeLessThanOrEqual(boundaries[boundaries.length - 1]!);
      const quantiles = [0.5, 0.9, 0.99, 0.999];
      const answers = presentMeasures(
        view,
        measuresWith({ count: VALUES, histogram: { [measureNamed(view, 'latency').attribute]: bins } }),
        quantiles,
      )?.latency as QuantilesAnswer;
      for (const q of quantiles) {
        const truth = sorted[quantileRank(q, VALUES) - 1]!;
        const answer = answers[String(q)]!;
        const relativeError = Math.abs(answer.estimate - truth) / truth;
        const bound = RELATIVE_ACCURACY + 1e-5;
        observed.quantiles.push({ distribution, values: VALUES, q, truth, answer, relativeError, bound });
        expect(answer.lower).not.toBeNull();
        expect(answer.upper).not.toBeNull();
        expect(truth).toBeGreaterThan(answer.lower!);
        expect(truth).toBeLessThanOrEqual(answer.upper!);
        expect(relativeError).toBeLessThanOrEqual(bound);
      }
    },
  );
});
