/**
 * A labelled synthetic stream for the anomaly bench (issue 17): per key, readings at a steady rate that follow a
 * daily cycle (a sinusoid over the UTC day) with Gaussian noise, spikes injected at random and labelled, and a level
 * shift of every reading halfway through. Seeded: the same options give the same stream.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface LabelledStreamOptions {
  /** Keys (each its own series, with its own daily level). */
  readonly keys: readonly string[];
  /** First reading's day, UTC midnight. */
  readonly startMs: number;
  readonly days: number;
  readonly readingsPerHour: number;
  /** The noise's standard deviation: every other size below is in units of it. */
  readonly sigma: number;
  /** Half the daily swing, in sigmas. */
  readonly dailyAmplitude: number;
  /** Share of readings that are spikes. */
  readonly spikeRate: number;
  /** A spike adds (or takes) this many sigmas, uniformly in the range, either sign. */
  readonly spikeSigmas: readonly [number, number];
  /** Every reading from the middle of the stream on is this many sigmas higher. */
  readonly shiftSigmas: number;
  readonly seed: number;
}

export interface LabelledReading {
  readonly key: string;
  readonly ts: number;
  readonly value: number;
  /** True for an injected spike: what a detector should flag. */
  readonly spike: boolean;
}

export interface LabelledStream {
  /** In event-time order (the keys interleaved). */
  readonly readings: readonly LabelledReading[];
  readonly shiftMs: number;
  readonly endMs: number;
}

/** mulberry32: small, fast, and the same everywhere for a seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A standard normal draw (Box–Muller). */
function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function labelledStream(options: LabelledStreamOptions): LabelledStream {
  const random = seededRandom(options.seed);
  const { sigma } = options;
  const endMs = options.startMs + options.days * DAY_MS;
  const shiftMs = options.startMs + Math.floor(options.days / 2) * DAY_MS;
  const spacing = HOUR_MS / options.readingsPerHour;
  const readings: LabelledReading[] = [];
  for (let slot = options.startMs; slot < endMs; slot += spacing) {
    for (const [index, key] of options.keys.entries()) {
      // Jittered inside its spacing, so readings are not all on the same millisecond.
      const ts = Math.floor(slot + random() * spacing);
      const phase = (2 * Math.PI * (ts % DAY_MS)) / DAY_MS;
      const level = 50 * (index + 1) + options.dailyAmplitude * sigma * Math.sin(phase);
      const shift = ts >= shiftMs ? options.shiftSigmas * sigma : 0;
      const spike = random() < options.spikeRate;
      const [low, high] = options.spikeSigmas;
      const magnitude = spike ? (low + random() * (high - low)) * sigma * (random() < 0.5 ? -1 : 1) : 0;
      readings.push({ key, ts, value: level + shift + sigma * gaussian(random) + magnitude, spike });
    }
  }
  readings.sort((a, b) => a.ts - b.ts);
  return { readings, shiftMs, endMs };
}
