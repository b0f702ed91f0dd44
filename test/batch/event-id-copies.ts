import fc from 'fast-check';
import { sequenceNumber, type GeneratedStream } from '../support/stream-arbitraries';

/** A producer's retry of one generated record: a new Kinesis record of the same event, `lagMs` later. */
export interface EventIdCopy {
  /** Which record is copied (modulo the number of records). */
  readonly pick: number;
  readonly lagMs: number;
  /** Whether Firehose delivers the copy twice as well. */
  readonly redelivered: boolean;
}

/**
 * Copies whose lag sits around the de-dup horizon H: just inside it, on it, just past it, anywhere up to 3 H, or a
 * few seconds (the usual producer retry). A copy of a copy is a chain: each is judged by the one before it.
 */
export function eventIdCopiesArbitrary(horizonMs: number, maxLength = 6): fc.Arbitrary<EventIdCopy[]> {
  const lag = fc.oneof(
    fc.constantFrom(horizonMs - 1, horizonMs, horizonMs + 1),
    fc.integer({ min: 0, max: 3 * horizonMs }),
    fc.integer({ min: 0, max: 5_000 }),
  );
  return fc.array(fc.record({ pick: fc.nat(), lagMs: lag, redelivered: fc.boolean() }), { maxLength });
}

/**
 * The stream with the copies added, on a shard of their own (shard 2), with the copied event unchanged (eventId,
 * event time and all). A copy may itself be copied by a later pick, since it joins the records it is picked from.
 */
export function withEventIdCopies(stream: GeneratedStream, copies: readonly EventIdCopy[]): GeneratedStream {
  if (stream.records.length === 0) return stream;
  const records = [...stream.records];
  const deliveries = [...stream.deliveries];
  let counter = 0n;
  for (const { pick, lagMs, redelivered } of copies) {
    const original = records[pick % records.length];
    counter += 1n;
    const copy = {
      ...original,
      shardId: 'shardId-000000000002',
      sequenceNumber: sequenceNumber(2, counter),
      arrivalMs: original.arrivalMs + lagMs,
    };
    records.push(copy);
    deliveries.push(copy, ...(redelivered ? [copy] : []));
  }
  return { records, deliveries };
}
