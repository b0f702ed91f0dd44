import { createHash } from 'node:crypto';

/**
 * HyperLogLog registers for `distinct(field)` measures (DESIGN.md §11). Every layer computes a value's register the
 * same way, so that the speed layer's sketch and the batch SQL's sketch are equal register for register:
 * - the hash is MD5 of the value's UTF-8 bytes, which JavaScript (node:crypto), Trino (`md5(to_utf8(x))`) and
 *   DuckDB (`md5(x)`) all compute; its first 64 bits are read as two 32-bit words, hi and lo;
 * - the register index is the top `precision` bits of hi;
 * - the rank is one more than the number of leading zeros in the remaining 64 − precision bits (65 − precision
 *   when they are all zero), which the SQL finds by comparisons with powers of two (batch-sql.ts).
 * Registers merge by taking the maximum of each, which is associative, commutative and idempotent: a record applied
 * twice cannot raise a register twice.
 */

/** 2^12 = 4,096 registers: a standard error of 1.04/√4096 ≈ 1.6%, and at most 4 KB stored per sketch. */
export const DEFAULT_HLL_PRECISION = 12;
export const MIN_HLL_PRECISION = 4;
/** 2^16 registers: 64 KB per dense sketch, which every write of a realtime item pays for in write units. */
export const MAX_HLL_PRECISION = 16;

/** Registers by index; registers absent from the map are 0. */
export type HllRegisters = ReadonlyMap<number, number>;

export const EMPTY_REGISTERS: HllRegisters = new Map();

/** The relative standard error of a cardinality estimate with 2^precision registers. */
export function hllStandardError(precision: number): number {
  return 1.04 / Math.sqrt(2 ** precision);
}

/** The first 64 bits of the MD5 of the value's UTF-8 bytes, as two unsigned 32-bit words. */
export function valueHash(value: string): { readonly hi: number; readonly lo: number } {
  const digest = createHash('md5').update(value, 'utf8').digest();
  return { hi: digest.readUInt32BE(0), lo: digest.readUInt32BE(4) };
}

/** The register a value raises, and the rank it raises it to. */
export function registerOf(value: string, precision: number): { readonly index: number; readonly rank: number } {
  return registerOfHash(valueHash(value), precision);
}

/**
 * The register and rank of a 64-bit hash given as two 32-bit words. Apart from registerOf so that the ranks no
 * string's MD5 is known to reach (all 64 − precision bits zero) can be tested.
 */
export function registerOfHash(
  { hi, lo }: { readonly hi: number; readonly lo: number },
  precision: number,
): { readonly index: number; readonly rank: number } {
  const rest = 32 - precision;
  const index = Math.floor(hi / 2 ** rest);
  const low = hi % 2 ** rest;
  // low < 2^rest, so Math.clz32(low) counts `precision` zeros above the bits that remain.
  if (low !== 0) return { index, rank: Math.clz32(low) - precision + 1 };
  if (lo !== 0) return { index, rank: rest + Math.clz32(lo) + 1 };
  return { index, rank: 65 - precision };
}

export function singleValueRegisters(value: string, precision: number): HllRegisters {
  const { index, rank } = registerOf(value, precision);
  return new Map([[index, rank]]);
}

/** Register-wise maximum. */
export function mergeRegisters(a: HllRegisters, b: HllRegisters): HllRegisters {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  const [large, small] = a.size >= b.size ? [a, b] : [b, a];
  const merged = new Map(large);
  for (const [index, rank] of small) {
    const existing = merged.get(index);
    if (existing === undefined || rank > existing) merged.set(index, rank);
  }
  return merged;
}

/**
 * The cardinality estimate of Ertl's improved raw estimator ("New cardinality estimation algorithms for
 * HyperLogLog sketches", 2017, algorithm 6): unbiased from a handful of values to far past 2^precision without the
 * empirical bias tables of HLL++, and the same function of the registers wherever it runs.
 */
export function estimateCardinality(registers: HllRegisters, precision: number): number {
  const m = 2 ** precision;
  const q = 64 - precision;
  const histogram = new Array<number>(q + 2).fill(0);
  for (const rank of registers.values()) histogram[rank] = (histogram[rank] ?? 0) + 1;
  histogram[0] = m - registers.size + (histogram[0] ?? 0);
  let z = m * tau(1 - (histogram[q + 1] ?? 0) / m);
  for (let k = q; k >= 1; k -= 1) z = 0.5 * (z + (histogram[k] ?? 0));
  z += m * sigma((histogram[0] ?? 0) / m);
  return (m * m) / (2 * Math.LN2 * z);
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const before = z;
    z += x * y;
    y += y;
    if (z === before) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const before = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
    if (z === before) return z / 3;
  }
}

/**
 * The stored form, a string of base64url digits: `s` and four digits (index × 64 + rank) per non-zero register in
 * index order while that is shorter than the dense form, `d` and one digit (the rank) per register otherwise. One
 * set of registers has exactly one encoding, so the speed layer's writes can compare stored sketches as strings.
 */
export function encodeRegisters(registers: HllRegisters, precision: number): string {
  const m = 2 ** precision;
  // Registers held as 0 are absent ones: counted in, they would give the same registers a second encoding.
  const entries = [...registers].filter(([, rank]) => rank > 0);
  if (entries.length * SPARSE_ENTRY_DIGITS < m) {
    entries.sort(([a], [b]) => a - b);
    return `s${entries.map(([index, rank]) => digits(index * 64 + rank, SPARSE_ENTRY_DIGITS)).join('')}`;
  }
  const dense = new Array<string>(m);
  for (let index = 0; index < m; index += 1) dense[index] = DIGITS.charAt(registers.get(index) ?? 0);
  return `d${dense.join('')}`;
}

/**
 * Reads encodeRegisters' form back; throws on a string that is not one, naming what is wrong. Only the form
 * encodeRegisters writes is read (entries in index order, ranks 1 to 65 − precision, the shorter form), so that a
 * stored sketch read and written back is the same string, which the speed layer's conditional writes compare.
 */
export function decodeRegisters(text: string, precision: number): HllRegisters {
  const m = 2 ** precision;
  const maxRank = 65 - precision;
  const registers = new Map<number, number>();
  const body = text.slice(1);
  const problem = (what: string) => new Error(`not a stored HyperLogLog of precision ${precision}: ${what}`);
  if (text.startsWith('s')) {
    if (body.length % SPARSE_ENTRY_DIGITS !== 0) {
      throw problem(`a sparse form of ${body.length} digits, not entries of ${SPARSE_ENTRY_DIGITS}`);
    }
    if (body.length >= m) {
      throw problem(`a sparse form of ${body.length / SPARSE_ENTRY_DIGITS} entries, no shorter than the dense form`);
    }
    let previous = -1;
    for (let at = 0; at < body.length; at += SPARSE_ENTRY_DIGITS) {
      const code = undigits(body.slice(at, at + SPARSE_ENTRY_DIGITS));
      const index = Math.floor(code / 64);
      const rank = code % 64;
      if (index >= m) throw problem(`a sparse entry names register ${index} of ${m}`);
      if (index <= previous) throw problem(`sparse entries out of index order (${index} after ${previous})`);
      if (rank < 1 || rank > maxRank) throw problem(`register ${index} holds rank ${rank}, not 1 to ${maxRank}`);
      registers.set(index, rank);
      previous = index;
    }
    return registers;
  }
  if (text.startsWith('d')) {
    if (body.length !== m) throw problem(`a dense form of ${body.length} registers, not ${m}`);
    for (let index = 0; index < m; index += 1) {
      const rank = undigits(body.charAt(index));
      if (rank > maxRank) throw problem(`register ${index} holds rank ${rank}, not 0 to ${maxRank}`);
      if (rank > 0) registers.set(index, rank);
    }
    if (registers.size * SPARSE_ENTRY_DIGITS < m) {
      throw problem(`a dense form of ${registers.size} registers, which the shorter sparse form holds`);
    }
    return registers;
  }
  throw problem(`${JSON.stringify(text.slice(0, 1))} is neither s (sparse) nor d (dense)`);
}

/** The longest encoding of a sketch of this precision, in bytes: the dense form. */
export function maxEncodedRegisterBytes(precision: number): number {
  return 2 ** precision + 1;
}

const SPARSE_ENTRY_DIGITS = 4;
const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function digits(value: number, width: number): string {
  let text = '';
  for (let place = width - 1; place >= 0; place -= 1) text += DIGITS.charAt(Math.floor(value / 64 ** place) % 64);
  return text;
}

function undigits(text: string): number {
  let value = 0;
  for (const character of text) {
    const digit = DIGITS.indexOf(character);
    if (digit < 0) throw new Error(`${JSON.stringify(character)} is not a base64url digit`);
    value = value * 64 + digit;
  }
  return value;
}
