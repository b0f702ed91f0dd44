import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  decodeRegisters,
  EMPTY_REGISTERS,
  encodeRegisters,
  estimateCardinality,
  hllStandardError,
  maxEncodedRegisterBytes,
  MAX_HLL_PRECISION,
  mergeRegisters,
  MIN_HLL_PRECISION,
  registerOf,
  registerOfHash,
  singleValueRegisters,
  valueHash,
  type HllRegisters,
} from '../../functions/core/hyperloglog';

/** The first 64 bits of an MD5 digest, from its hexadecimal text. */
const prefixOf = (hex: string) => BigInt(`0x${hex.slice(0, 16)}`);

/**
 * The register and rank of a 64-bit hash, computed apart from the implementation: the top p bits, and one more
 * than the leading zeros of the other 64 − p bits read as one BigInt (65 − p when all are zero).
 */
function expectedRegister(hash: bigint, precision: number): { index: number; rank: number } {
  const restBits = BigInt(64 - precision);
  const index = Number(hash >> restBits);
  const rest = hash & ((1n << restBits) - 1n);
  const rank = rest === 0n ? 65 - precision : 64 - precision - rest.toString(2).length + 1;
  return { index, rank };
}

const precisionArbitrary = fc.integer({ min: MIN_HLL_PRECISION, max: MAX_HLL_PRECISION });

/** Registers of a precision: any indexes, ranks 1 to 65 − precision. */
function registersArbitrary(precision: number, maxLength = 40): fc.Arbitrary<HllRegisters> {
  return fc
    .array(fc.tuple(fc.nat(2 ** precision - 1), fc.integer({ min: 1, max: 65 - precision })), { maxLength })
    .map((entries) => new Map(entries));
}

describe('HyperLogLog hash', () => {
  // RFC 1321 appendix A.5 test suite, and a string of 2-, 3- and 4-byte UTF-8 characters (digest from md5sum).
  it.each([
    ['', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['a', '0cc175b9c0f1b6a831c399e269772661'],
    ['abc', '900150983cd24fb0d6963f7d28e17f72'],
    ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
    ['Grüße, 東京 🌍', '6bf7256ed9853d20a88773ab5ebf4a6c'],
  ])('hashes %j to the first two 32-bit words of its MD5 (%s), big-endian', (value, digest) => {
    expect(valueHash(value)).toEqual({
      hi: Number.parseInt(digest.slice(0, 8), 16),
      lo: Number.parseInt(digest.slice(8, 16), 16),
    });
  });

  // By hand from the digests above: the index is the top p bits of hi; the rank counts the zeros after them.
  // device-3335 (94a10000 8deab2bc) and device-385367 (20300000 f2a0c32d) have hi's low 16 and 20 bits all zero,
  // so their rank at p = 16 and p = 12 counts on into lo.
  it.each([
    ['', 4, 0xd, 2],
    ['', 12, 0xd41, 1],
    ['', 16, 0xd41d, 1],
    ['abc', 4, 0x9, 12],
    ['abc', 12, 0x900, 4],
    ['abc', 16, 0x9001, 2],
    ['a', 4, 0x0, 1],
    ['message digest', 16, 0xf96b, 2],
    ['Grüße, 東京 🌍', 4, 0x6, 1],
    ['Grüße, 東京 🌍', 12, 0x6bf, 2],
    ['Grüße, 東京 🌍', 16, 0x6bf7, 3],
    ['device-3335', 4, 0x9, 2],
    ['device-3335', 12, 0x94a, 4],
    ['device-3335', 16, 0x94a1, 17],
    ['device-385367', 4, 0x2, 7],
    ['device-385367', 12, 0x203, 21],
    ['device-385367', 16, 0x2030, 17],
  ])('%j at precision %i raises register %i to rank %i', (value, precision, index, rank) => {
    expect(registerOf(value, precision)).toEqual({ index, rank });
    expect(singleValueRegisters(value, precision)).toEqual(new Map([[index, rank]]));
  });

  it('registerOf agrees with a BigInt computation from the MD5 prefix, for any string and precision', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), precisionArbitrary, (value, precision) => {
        const hex = createHash('md5').update(value, 'utf8').digest('hex');
        expect(registerOf(value, precision)).toEqual(expectedRegister(prefixOf(hex), precision));
      }),
      { numRuns: 2000 },
    );
  });

  // Hashes with long runs of zeros, which strings reach too rarely to draw: the zeros end in hi, at its last bit,
  // in lo, at lo's last bit, or never (rank 65 − p).
  it('ranks hashes with any number of leading zeros after the index as the BigInt computation does', () => {
    const word = fc.oneof(
      fc.constant(0),
      fc.constant(1),
      fc.constant(0xffffffff),
      fc.tuple(fc.nat(0xffffffff), fc.nat(32)).map(([bits, shift]) => (shift === 32 ? 0 : bits >>> shift)),
    );
    fc.assert(
      fc.property(word, word, precisionArbitrary, (hi, lo, precision) => {
        const hash = (BigInt(hi) << 32n) | BigInt(lo);
        expect(registerOfHash({ hi, lo }, precision)).toEqual(expectedRegister(hash, precision));
      }),
      { numRuns: 5000 },
    );
  });

  it.each([4, 12, 16])('ranks run from 1 to 65 − precision (precision %i)', (precision) => {
    expect(registerOfHash({ hi: 0, lo: 0 }, precision)).toEqual({ index: 0, rank: 65 - precision });
    expect(registerOfHash({ hi: 0, lo: 1 }, precision)).toEqual({ index: 0, rank: 64 - precision });
    expect(registerOfHash({ hi: 0xffffffff, lo: 0 }, precision)).toEqual({ index: 2 ** precision - 1, rank: 1 });
    expect(registerOfHash({ hi: 1, lo: 0 }, precision)).toEqual({ index: 0, rank: 32 - precision });
  });
});

describe('HyperLogLog merge', () => {
  const runs = { numRuns: 500 };
  const p = 6;

  it('is associative', () => {
    fc.assert(
      fc.property(registersArbitrary(p), registersArbitrary(p), registersArbitrary(p), (a, b, c) => {
        expect(mergeRegisters(mergeRegisters(a, b), c)).toEqual(mergeRegisters(a, mergeRegisters(b, c)));
      }),
      runs,
    );
  });

  it('is commutative', () => {
    fc.assert(
      fc.property(registersArbitrary(p), registersArbitrary(p), (a, b) => {
        expect(mergeRegisters(a, b)).toEqual(mergeRegisters(b, a));
      }),
      runs,
    );
  });

  it('is idempotent: merging registers into themselves, or again, changes nothing', () => {
    fc.assert(
      fc.property(registersArbitrary(p), registersArbitrary(p), (a, b) => {
        expect(mergeRegisters(a, a)).toEqual(a);
        const merged = mergeRegisters(a, b);
        expect(mergeRegisters(merged, b)).toEqual(merged);
      }),
      runs,
    );
  });

  it('has the empty registers as identity on both sides', () => {
    fc.assert(
      fc.property(registersArbitrary(p), (a) => {
        expect(mergeRegisters(a, EMPTY_REGISTERS)).toEqual(a);
        expect(mergeRegisters(EMPTY_REGISTERS, a)).toEqual(a);
      }),
      runs,
    );
  });

  it('holds the register-wise maximum, every register of either side present', () => {
    fc.assert(
      fc.property(registersArbitrary(p), registersArbitrary(p), (a, b) => {
        const merged = mergeRegisters(a, b);
        const indexes = Array.from({ length: 2 ** p }, (_, index) => index);
        expect(indexes.map((index) => merged.get(index) ?? 0)).toEqual(
          indexes.map((index) => Math.max(a.get(index) ?? 0, b.get(index) ?? 0)),
        );
      }),
      runs,
    );
  });

  it('does not change its arguments', () => {
    const a = new Map([[1, 3]]);
    const b = new Map([
      [1, 5],
      [2, 1],
    ]);
    mergeRegisters(a, b);
    mergeRegisters(b, a);
    expect([...a]).toEqual([[1, 3]]);
    expect([...b]).toEqual([
      [1, 5],
      [2, 1],
    ]);
  });
});

describe('HyperLogLog estimate', () => {
  it.each([4, 12, 16])('estimates 0 for no values (precision %i)', (precision) => {
    expect(estimateCardinality(EMPTY_REGISTERS, precision)).toBe(0);
  });

  it('estimates a few values as their exact number, and repeats do not count', () => {
    for (const precision of [12, 16]) {
      let registers: HllRegisters = EMPTY_REGISTERS;
      for (let n = 1; n <= 30; n += 1) {
        registers = mergeRegisters(registers, singleValueRegisters(`user-${n}`, precision));
        registers = mergeRegisters(registers, singleValueRegisters(`user-${Math.ceil(n / 2)}`, precision));
        expect(Math.round(estimateCardinality(registers, precision))).toBe(n);
      }
    }
  });

  it('states the standard error 1.04/√m', () => {
    expect(hllStandardError(12)).toBeCloseTo(0.01625, 5);
    expect(hllStandardError(16)).toBeCloseTo(0.0040625, 7);
  });
});

describe('HyperLogLog stored form', () => {
  it('round-trips any registers of any precision', () => {
    fc.assert(
      fc.property(
        precisionArbitrary.chain((precision) =>
          fc.tuple(fc.constant(precision), registersArbitrary(precision, Math.min(2 ** precision, 2000))),
        ),
        ([precision, registers]) => {
          const text = encodeRegisters(registers, precision);
          expect(decodeRegisters(text, precision)).toEqual(registers);
          expect(text.length).toBeLessThanOrEqual(maxEncodedRegisterBytes(precision));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('round-trips dense registers, every register set', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 10 }), fc.nat(), (precision, seed) => {
        const registers = new Map(
          Array.from({ length: 2 ** precision }, (_, index): [number, number] => [
            index,
            1 + ((index * 7919 + seed) % (65 - precision)),
          ]),
        );
        const text = encodeRegisters(registers, precision);
        expect(text).toHaveLength(2 ** precision + 1);
        expect(decodeRegisters(text, precision)).toEqual(registers);
      }),
      { numRuns: 100 },
    );
  });

  it('is sparse exactly while 4 digits per register are fewer than one per register of the dense form', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 8 }).chain((precision) =>
          fc.tuple(
            fc.constant(precision),
            fc.uniqueArray(fc.nat(2 ** precision - 1), { maxLength: 2 ** precision }).chain((indexes) =>
              fc
                .array(fc.integer({ min: 1, max: 65 - precision }), {
                  minLength: indexes.length,
                  maxLength: indexes.length,
                })
                .map((ranks) => new Map(indexes.map((index, at): [number, number] => [index, ranks[at] ?? 1]))),
            ),
          ),
        ),
        ([precision, registers]) => {
          const m = 2 ** precision;
          const text = encodeRegisters(registers, precision);
          const sparse = 4 * registers.size < m;
          expect(text.charAt(0)).toBe(sparse ? 's' : 'd');
          expect(text).toHaveLength(sparse ? 1 + 4 * registers.size : 1 + m);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is canonical: equal registers, in any order and with absent ones held as 0, have one encoding', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 8 }),
        fc.array(fc.tuple(fc.nat(255), fc.integer({ min: 0, max: 57 })), { maxLength: 80 }),
        fc.nat(),
        (precision, drawn, seed) => {
          const entries = drawn.map(([index, rank]): [number, number] => [index % 2 ** precision, rank]);
          const withZeros = new Map(entries);
          const without = new Map([...withZeros].filter(([, rank]) => rank > 0));
          const reordered = new Map([...without].sort(([a], [b]) => ((a * 31 + seed) % 17) - ((b * 31 + seed) % 17)));
          const text = encodeRegisters(without, precision);
          expect(encodeRegisters(withZeros, precision)).toBe(text);
          expect(encodeRegisters(reordered, precision)).toBe(text);
          expect(encodeRegisters(decodeRegisters(text, precision), precision)).toBe(text);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('encodes no registers as "s", and a register as its index × 64 + rank in four base64url digits', () => {
    expect(encodeRegisters(EMPTY_REGISTERS, 12)).toBe('s');
    expect(decodeRegisters('s', 12)).toEqual(new Map());
    // 2304 × 64 + 4 = 147460 = 0 × 64³ + 36 × 64² + 0 × 64 + 4: A, k, A, E.
    expect(encodeRegisters(singleValueRegisters('abc', 12), 12)).toBe('sAkAE');
    expect(encodeRegisters(new Map([[0, 3]]), 4)).toBe('sAAAD');
  });

  it.each([
    ['x', 4, 'not a stored HyperLogLog of precision 4: "x" is neither s (sparse) nor d (dense)'],
    ['', 4, 'not a stored HyperLogLog of precision 4: "" is neither s (sparse) nor d (dense)'],
    ['sAAA', 4, 'not a stored HyperLogLog of precision 4: a sparse form of 3 digits, not entries of 4'],
    [
      'sAAABAAACAAADAAAE',
      4,
      'not a stored HyperLogLog of precision 4: a sparse form of 4 entries, no shorter than the dense form',
    ],
    ['sAAQB', 4, 'not a stored HyperLogLog of precision 4: a sparse entry names register 16 of 16'],
    ['sAABBAAAB', 4, 'not a stored HyperLogLog of precision 4: sparse entries out of index order (0 after 1)'],
    ['sAABBAABB', 4, 'not a stored HyperLogLog of precision 4: sparse entries out of index order (1 after 1)'],
    ['sAAAA', 4, 'not a stored HyperLogLog of precision 4: register 0 holds rank 0, not 1 to 61'],
    ['sAAA-', 4, 'not a stored HyperLogLog of precision 4: register 0 holds rank 62, not 1 to 61'],
    ['dBBB', 4, 'not a stored HyperLogLog of precision 4: a dense form of 3 registers, not 16'],
    ['d-BBBBBBBBBBBBBBB', 4, 'not a stored HyperLogLog of precision 4: register 0 holds rank 62, not 0 to 61'],
    [
      'dBBBAAAAAAAAAAAAA',
      4,
      'not a stored HyperLogLog of precision 4: a dense form of 3 registers, which the shorter sparse form holds',
    ],
    ['sAA*B', 4, '"*" is not a base64url digit'],
  ])('refuses %j at precision %i: %s', (text, precision, problem) => {
    expect(() => decodeRegisters(text, precision)).toThrow(problem);
  });
});
