/**
 * Kinesis sequence numbers are decimal strings of up to 129 digits, beyond what a DynamoDB Number holds.
 * A position is (sequence number, subsequence number) as one fixed-width zero-padded string, so that plain string
 * comparison, in DynamoDB conditions and here, is numeric order. Subsequence numbers order records
 * de-aggregated from one KPL aggregate, which share a sequence number.
 */
export const SEQUENCE_DIGITS = 129;
export const SUBSEQUENCE_DIGITS = 20;

const DIGITS = /^\d+$/;

export function recordPosition(sequenceNumber: string, subSequenceNumber = 0): string {
  if (!DIGITS.test(sequenceNumber) || sequenceNumber.length > SEQUENCE_DIGITS) {
    throw new Error(`sequenceNumber: expected a decimal string of at most ${SEQUENCE_DIGITS} digits`);
  }
  if (!Number.isSafeInteger(subSequenceNumber) || subSequenceNumber < 0) {
    throw new Error('subSequenceNumber: expected a non-negative integer');
  }
  return `${sequenceNumber.padStart(SEQUENCE_DIGITS, '0')}.${String(subSequenceNumber).padStart(SUBSEQUENCE_DIGITS, '0')}`;
}

/** The Kinesis sequence number a position was made from, as Lambda expects it in `batchItemFailures`. */
export function sequenceNumberOf(position: string): string {
  const sequence = position.slice(0, SEQUENCE_DIGITS).replace(/^0+(?=\d)/, '');
  return sequence;
}

export function maxPosition(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a >= b ? a : b;
}
