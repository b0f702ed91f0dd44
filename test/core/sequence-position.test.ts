import fc from 'fast-check';
import { maxPosition, recordPosition, sequenceNumberOf, SEQUENCE_DIGITS } from '../../functions/core/sequence-position';

const sequence = fc.bigInt({ min: 0n, max: 10n ** BigInt(SEQUENCE_DIGITS) - 1n });

describe('sequence positions', () => {
  it('string order of positions is numeric order of (sequence number, subsequence number), up to 129 digits', () => {
    fc.assert(
      fc.property(sequence, fc.nat(1000), sequence, fc.nat(1000), (seqA, subA, seqB, subB) => {
        const numeric = seqA === seqB ? Math.sign(subA - subB) : seqA < seqB ? -1 : 1;
        const a = recordPosition(seqA.toString(), subA);
        const b = recordPosition(seqB.toString(), subB);
        expect(a < b ? -1 : a > b ? 1 : 0).toBe(numeric);
      }),
    );
  });

  it('gives back the Kinesis sequence number a position was made from', () => {
    fc.assert(
      fc.property(sequence, fc.nat(), (seq, sub) => {
        expect(sequenceNumberOf(recordPosition(seq.toString(), sub))).toBe(seq.toString());
      }),
    );
  });

  it('rejects what is not a Kinesis sequence number', () => {
    expect(() => recordPosition('12a')).toThrow('sequenceNumber: expected a decimal string of at most 129 digits');
    expect(() => recordPosition('1'.repeat(130))).toThrow('at most 129 digits');
    expect(() => recordPosition('1', -1)).toThrow('subSequenceNumber: expected a non-negative integer');
  });

  it('the highest of two positions, either absent', () => {
    expect(maxPosition(undefined, 'b')).toBe('b');
    expect(maxPosition('a', undefined)).toBe('a');
    expect(maxPosition('a', 'b')).toBe('b');
  });
});
