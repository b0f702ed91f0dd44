import fc from 'fast-check';
import type { StreamRecord } from '../../functions/core/stream-record';

/** A fixed reference time (2026-11-23T00:00:00Z) so that buckets and epochs are reproducible. */
export const BASE_TIME_MS = Date.UTC(2026, 10, 23);
const HOUR_MS = 3_600_000;

/**
 * Values are multiples of 1/4 below 2^20: their sums are exact in doubles in any order, so equality, not
 * closeness, is what the properties check, and a miscounted record cannot hide in rounding.
 */
export const valueArbitrary = fc.integer({ min: -(2 ** 22), max: 2 ** 22 }).map((quarters) => quarters / 4);

interface EventShape {
  deviceIndex: number;
  metricIndex: number;
  value: number;
  tsOffset: number;
  lateness: number;
  shard: number;
  eventIndex: number;
}

const eventShape: fc.Arbitrary<EventShape> = fc.record({
  deviceIndex: fc.nat(5),
  metricIndex: fc.nat(2),
  value: valueArbitrary,
  // Event times over two days, so minute, hour and day buckets all split the data.
  tsOffset: fc.nat(48 * HOUR_MS),
  // Mostly on time; one in four arrives up to 6 hours late.
  lateness: fc.oneof({ weight: 3, arbitrary: fc.nat(5_000) }, { weight: 1, arbitrary: fc.nat(6 * HOUR_MS) }),
  shard: fc.nat(1),
  eventIndex: fc.nat(1_000_000),
});

export interface GeneratedStream {
  /** Distinct Kinesis records, in per-shard sequence order. */
  readonly records: readonly StreamRecord[];
  /** The records as delivered: every record at least once, some more than once (redeliveries). */
  readonly deliveries: readonly StreamRecord[];
}

/**
 * A stream of distinct Kinesis records over two shards with realistic 56-digit sequence numbers, per-shard
 * increasing arrival times, late events, and duplicate deliveries.
 */
export function streamArbitrary(
  options: { minLength?: number; maxLength?: number } = {},
): fc.Arbitrary<GeneratedStream> {
  return fc
    .record({
      shapes: fc.array(eventShape, { minLength: options.minLength ?? 0, maxLength: options.maxLength ?? 60 }),
      duplicates: fc.array(fc.nat(), { maxLength: 10 }),
      producerRetries: fc.array(fc.nat(), { maxLength: 5 }),
    })
    .map(({ shapes, duplicates, producerRetries }) => {
      const sequenceCounters = [0n, 0n];
      const records = shapes.map((shape, index) => toRecord(shape, index, sequenceCounters));
      return withCopies(records, sequenceCounters, producerRetries, duplicates);
    });
}

function toRecord(shape: EventShape, index: number, counters: bigint[]): StreamRecord {
  counters[shape.shard] += 1n;
  const ts = BASE_TIME_MS + shape.tsOffset;
  return {
    event: {
      eventId: `evt-${index}-${shape.eventIndex}`,
      deviceId: `device-${shape.deviceIndex}`,
      site: `site-${shape.deviceIndex % 3}`,
      metric: ['temperature', 'humidity', 'pressure'][shape.metricIndex],
      value: shape.value,
      ts,
    },
    shardId: `shardId-00000000000${shape.shard}`,
    sequenceNumber: sequenceNumber(shape.shard, counters[shape.shard]),
    subSequenceNumber: 0,
    arrivalMs: ts + shape.lateness,
  };
}

/**
 * The stream as delivered, from distinct records (appended to, with `counters` the per-shard sequence counters):
 * each retry pick makes a second Kinesis record of an event, as a producer retrying PutRecords does (the same event,
 * a new sequence number, a second later), and each redelivery pick delivers a record once more.
 */
export function withCopies(
  records: StreamRecord[],
  counters: bigint[],
  retries: readonly number[],
  redeliveries: readonly number[],
): GeneratedStream {
  for (const pick of retries) {
    if (records.length === 0) break;
    const original = records[pick % records.length];
    const shard = Number(original.shardId.slice(-1));
    counters[shard] += 1n;
    records.push({
      ...original,
      sequenceNumber: sequenceNumber(shard, counters[shard]),
      arrivalMs: original.arrivalMs + 1_000,
    });
  }
  const deliveries = [
    ...records,
    ...redeliveries.filter(() => records.length > 0).map((pick) => records[pick % records.length]),
  ];
  return { records, deliveries };
}

/** Sequence numbers shaped like Kinesis's: 56 digits, increasing per shard. */
export function sequenceNumber(shard: number, counter: bigint): string {
  return (
    49_680_507_356_827_391_140_529_022_913_163_858_325_634_908_041_368_305_666n +
    BigInt(shard) * 10n ** 30n +
    counter * 1_000n
  ).toString();
}

/** A cutoff somewhere in (or around) the generated arrival range, always an epoch boundary. */
export function cutoffArbitrary(epochLengthMs: number): fc.Arbitrary<number> {
  return fc
    .integer({ min: -2, max: Math.ceil((56 * HOUR_MS) / epochLengthMs) })
    .map((n) => BASE_TIME_MS + n * epochLengthMs);
}
