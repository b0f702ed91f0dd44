/**
 * Counts per bin for `histogram(field)` measures (DESIGN.md §11). A view declares the bin boundaries b_0 < … < b_(n−1)
 * (or a relative accuracy and a range, from which they are generated once, at declaration time); bin 0 holds the
 * values at or below b_0, bin i the values in (b_(i−1), b_i], bin n the values above b_(n−1). A value's bin is found
 * with comparisons only, here and in the SQL of every engine, so every layer counts the same value in the same bin.
 * Bins merge by adding counts.
 */

/** Counts by bin index; bins absent from the map hold 0. */
export type BinCounts = ReadonlyMap<number, number>;

export const EMPTY_BINS: BinCounts = new Map();

/**
 * The most boundaries one histogram may have: the batch SQL finds a bin with a nested CASE (a binary search) that
 * spells each boundary once, and Athena caps a query's text at 256 KB.
 */
export const MAX_HISTOGRAM_BOUNDARIES = 1000;

/** Significant digits of generated boundaries: enough for any accuracy allowed, and the same text in every layer. */
const BOUNDARY_DIGITS = 6;

export const MIN_RELATIVE_ACCURACY = 0.001;
export const MAX_RELATIVE_ACCURACY = 0.5;
export const DEFAULT_RELATIVE_ACCURACY = 0.01;

/**
 * Exponential boundaries from `low` to at least `high` with ratio (1 + α)/(1 − α), rounded to six significant
 * digits: within each bin (a, b] the estimate 2ab/(a + b) is then within α of any value, relatively.
 */
export function exponentialBoundaries(relativeAccuracy: number, low: number, high: number): number[] {
  const ratio = (1 + relativeAccuracy) / (1 - relativeAccuracy);
  const boundaries = [low];
  for (let k = 1; (boundaries[boundaries.length - 1] ?? high) < high; k += 1) {
    boundaries.push(Number((low * ratio ** k).toPrecision(BOUNDARY_DIGITS)));
    if (boundaries.length > MAX_HISTOGRAM_BOUNDARIES) break;
  }
  return boundaries;
}

/** The bin of a value: the number of boundaries below it (a binary search of `value <= boundary`). */
export function binOf(boundaries: readonly number[], value: number): number {
  let low = 0;
  let high = boundaries.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (value <= (boundaries[middle] as number)) high = middle;
    else low = middle + 1;
  }
  return low;
}

export function singleValueBins(boundaries: readonly number[], value: number): BinCounts {
  return new Map([[binOf(boundaries, value), 1]]);
}

export function mergeBins(a: BinCounts, b: BinCounts): BinCounts {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  const merged = new Map(a);
  for (const [bin, count] of b) merged.set(bin, (merged.get(bin) ?? 0) + count);
  return merged;
}

/** The bounds of bin `bin`: values in (lower, upper]; null where the bin is unbounded. */
export function binBounds(boundaries: readonly number[], bin: number): { lower: number | null; upper: number | null } {
  return { lower: bin === 0 ? null : (boundaries[bin - 1] ?? null), upper: boundaries[bin] ?? null };
}

/**
 * The rank of the q-quantile among n values, 1-based: the smallest r with r ≥ q·n (the lower quantile), at least 1.
 * q·n is computed in floating point, so a product within a rounding error of a whole number counts as that number
 * (0.9 × 10 is 9.000000000000002).
 */
export function quantileRank(q: number, n: number): number {
  const product = q * n;
  const nearest = Math.round(product);
  const rank = Math.abs(product - nearest) <= 1e-9 * Math.max(1, product) ? nearest : Math.ceil(product);
  return Math.min(n, Math.max(1, rank));
}

/** A quantile estimate: the true q-quantile of the values counted lies in (lower, upper]; null bounds are open. */
export interface QuantileEstimate {
  readonly estimate: number;
  readonly lower: number | null;
  readonly upper: number | null;
}

/**
 * The q-quantile (the value of rank quantileRank(q, n)) from the counts: its bin bounds it, and the estimate is the
 * point of the bin with the least relative error (2ab/(a + b) for a bin of one sign, the middle for a bin around 0,
 * the finite bound for an outer bin). undefined for no values.
 */
export function estimateQuantile(
  boundaries: readonly number[],
  bins: BinCounts,
  q: number,
): QuantileEstimate | undefined {
  return estimateQuantiles(boundaries, bins, [q])[0];
}

/**
 * estimateQuantile for each of several quantiles, in their order: the counts are totalled and their bins ordered
 * once, since an answer asks for the same quantiles of every bucket. Empty for no values.
 */
export function estimateQuantiles(
  boundaries: readonly number[],
  bins: BinCounts,
  quantiles: readonly number[],
): QuantileEstimate[] {
  let total = 0;
  for (const count of bins.values()) total += count;
  if (total === 0) return [];
  const ordered = [...bins.keys()].sort((a, b) => a - b);
  return quantiles.map((q) => {
    const rank = quantileRank(q, total);
    let seen = 0;
    for (const bin of ordered) {
      seen += bins.get(bin) ?? 0;
      if (seen >= rank) {
        const { lower, upper } = binBounds(boundaries, bin);
        return { estimate: pointEstimate(lower, upper), lower, upper };
      }
    }
    throw new Error('unreachable: the ranks add up to the total');
  });
}

function pointEstimate(lower: number | null, upper: number | null): number {
  if (lower === null) return upper ?? 0;
  if (upper === null) return lower;
  if (lower > 0) return (2 * lower * upper) / (lower + upper);
  if (upper < 0) return (2 * lower * upper) / (lower + upper);
  return (lower + upper) / 2;
}

/**
 * The largest relative error of an estimate from an inner bin of one sign, (b − a)/(b + a): the accuracy the
 * boundaries give values between the first and the last boundary. null when an inner bin holds 0.
 */
export function maxRelativeError(boundaries: readonly number[]): number | null {
  let worst = 0;
  for (let bin = 1; bin < boundaries.length; bin += 1) {
    const a = Math.abs(boundaries[bin - 1] as number);
    const b = Math.abs(boundaries[bin] as number);
    if ((boundaries[bin - 1] as number) < 0 && (boundaries[bin] as number) >= 0) return null;
    if (Math.min(a, b) === 0) return null;
    worst = Math.max(worst, Math.abs(b - a) / (b + a));
  }
  return worst;
}

/**
 * The stored form: `bin:count` pairs in bin order, separated by commas, bins with no values left out. One set of
 * counts has exactly one encoding, so the speed layer's writes can compare stored histograms as strings.
 */
export function encodeBins(bins: BinCounts): string {
  return [...bins]
    .filter(([, count]) => count > 0)
    .sort(([a], [b]) => a - b)
    .map(([bin, count]) => `${bin}:${count}`)
    .join(',');
}

/**
 * Reads encodeBins' form back; throws on a string that is not one, naming what is wrong. Only the form encodeBins
 * writes is read (bins in order, each once, counts from 1, no leading zeros), so that a stored histogram read and
 * written back is the same string, which the speed layer's conditional writes compare.
 */
export function decodeBins(text: string, boundaries: readonly number[]): BinCounts {
  const bins = new Map<number, number>();
  if (text === '') return bins;
  let previous = -1;
  for (const pair of text.split(',')) {
    const match = /^(0|[1-9]\d*):([1-9]\d*)$/.exec(pair);
    const problem = (what: string) =>
      new Error(`not a stored histogram of ${boundaries.length + 1} bins: ${JSON.stringify(pair)} ${what}`);
    if (match === null) throw problem('is not bin:count (a count of at least 1)');
    const bin = Number(match[1]);
    const count = Number(match[2]);
    if (bin > boundaries.length) throw problem(`names bin ${bin}, past the last (${boundaries.length})`);
    if (bin <= previous) throw problem(`is out of bin order (after bin ${previous})`);
    if (!Number.isSafeInteger(count)) throw problem('counts past 2^53');
    bins.set(bin, count);
    previous = bin;
  }
  return bins;
}

/** The longest stored form, in bytes: every bin, each count up to 2^53. */
export function maxEncodedBinBytes(boundaries: readonly number[]): number {
  const bins = boundaries.length + 1;
  return bins * (String(boundaries.length).length + 1 + 16 + 1);
}
