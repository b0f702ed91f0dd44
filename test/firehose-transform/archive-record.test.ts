import fc from 'fast-check';
import { archiveRecord, type TransformInput } from '../../functions/firehose-transform/archive-record';
import { decodeKinesisRecord } from '../../functions/speed/kinesis-record-decoder';
import { toLambdaRecord } from '../../local/kinesis-lambda-event';

const SEQUENCE = '49680507356827391140529022913163858325634908041368305666';
const ARRIVAL = Date.UTC(2026, 10, 24, 14, 59, 59, 900);
/** The pipeline's default skew bound: event time at most a day after arrival. */
const DAY = 86_400_000;
const event = {
  eventId: 'e-1',
  deviceId: 'device-1',
  site: 'plant-a',
  metric: 'temperature',
  value: 21.5,
  ts: '2026-11-24T14:58:00Z',
};

function input(
  payload: string | Uint8Array,
  metadata: Partial<NonNullable<TransformInput['kinesisRecordMetadata']>> = {},
): TransformInput {
  return {
    recordId: 'r-1',
    approximateArrivalTimestamp: ARRIVAL,
    data: Buffer.from(payload).toString('base64'),
    kinesisRecordMetadata: {
      shardId: 'shardId-000000000001',
      partitionKey: 'device-1',
      approximateArrivalTimestamp: ARRIVAL,
      sequenceNumber: SEQUENCE,
      subsequenceNumber: '0',
      ...metadata,
    },
  };
}

const rejection = (decision: ReturnType<typeof archiveRecord>) => (decision.ok ? 'accepted' : decision.reason);

describe('archiving one Kinesis record', () => {
  it('is one JSON line: the event with ts in epoch ms and extra fields kept, then the envelope, then a newline', () => {
    const decision = archiveRecord(input(JSON.stringify({ ...event, firmware: '1.2' })), DAY);
    if (!decision.ok) throw new Error(decision.reason);
    expect(decision.line.indexOf('\n')).toBe(decision.line.length - 1);
    expect(JSON.parse(decision.line)).toEqual({
      ...event,
      firmware: '1.2',
      ts: Date.parse(event.ts),
      arrival_ms: ARRIVAL,
      shard_id: 'shardId-000000000001',
      sequence_number: SEQUENCE,
      subsequence_number: 0,
    });
  });

  it("leaves out extra fields whose names clash with another's but for case, which Athena's JSON SerDe cannot read", () => {
    const payload = { ...event, Site: 'x', firmware: 1, FIRMWARE: 2, ARRIVAL_MS: 3, arrival_ms: 4, shard_ID: 'y' };
    const decision = archiveRecord(input(JSON.stringify(payload)), DAY);
    if (!decision.ok) throw new Error(decision.reason);
    expect([...decision.droppedFields].sort()).toEqual(['ARRIVAL_MS', 'FIRMWARE', 'Site', 'shard_ID']);
    const stored = JSON.parse(decision.line);
    expect(stored).toMatchObject({
      site: 'plant-a',
      firmware: 1,
      arrival_ms: ARRIVAL,
      shard_id: 'shardId-000000000001',
    });
    const lowerCased = Object.keys(stored).map((key) => key.toLowerCase());
    expect(new Set(lowerCased).size).toBe(lowerCased.length);
  });

  it('is partitioned by arrival hour in UTC, whatever the event time', () => {
    const at = (arrival: number) => {
      const decision = archiveRecord(
        input(JSON.stringify({ ...event, ts: 0 }), { approximateArrivalTimestamp: arrival }),
        DAY,
      );
      return decision.ok ? decision.partitionKeys : decision.reason;
    };
    expect(at(ARRIVAL)).toEqual({ dt: '2026-11-24', hour: '14' });
    expect(at(Date.UTC(2026, 10, 24, 23, 59, 59, 999))).toEqual({ dt: '2026-11-24', hour: '23' });
    expect(at(Date.UTC(2026, 10, 25))).toEqual({ dt: '2026-11-25', hour: '00' });
  });

  it('takes the subsequence number as a number or a numeric string, and 0 when Firehose sends none', () => {
    const subsequence = (value: string | number | null | undefined) => {
      const decision = archiveRecord(input(JSON.stringify(event), { subsequenceNumber: value }), DAY);
      return decision.ok ? JSON.parse(decision.line).subsequence_number : decision.reason;
    };
    expect([subsequence(3), subsequence('17'), subsequence(undefined), subsequence(null), subsequence('')]).toEqual([
      3, 17, 0, 0, 0,
    ]);
  });

  it('rejects metadata that would give the record a wrong identity or epoch, naming the field', () => {
    const reason = (metadata: Partial<NonNullable<TransformInput['kinesisRecordMetadata']>>) =>
      rejection(archiveRecord(input(JSON.stringify(event), metadata), DAY));
    expect(reason({ subsequenceNumber: 'x' })).toBe(
      'kinesisRecordMetadata.subsequenceNumber: expected a non-negative integer',
    );
    expect(reason({ subsequenceNumber: -1 })).toMatch(/^kinesisRecordMetadata.subsequenceNumber/);
    expect(reason({ sequenceNumber: '12ab' })).toBe(
      'kinesisRecordMetadata.sequenceNumber: expected a decimal string of at most 129 digits',
    );
    expect(reason({ sequenceNumber: '1'.repeat(130) })).toMatch(/^kinesisRecordMetadata.sequenceNumber/);
    expect(reason({ shardId: '' })).toBe('kinesisRecordMetadata.shardId: expected a shard id');
    expect(reason({ approximateArrivalTimestamp: -5 })).toBe(
      'kinesisRecordMetadata.approximateArrivalTimestamp: expected epoch milliseconds',
    );
  });

  it("falls back to the record's own arrival time when the metadata lacks one", () => {
    const decision = archiveRecord(input(JSON.stringify(event), { approximateArrivalTimestamp: undefined }), DAY);
    expect(decision.ok && JSON.parse(decision.line).arrival_ms).toBe(ARRIVAL);
  });

  it('rejects a record without Kinesis metadata, since it cannot be made distinct or placed in an epoch', () => {
    const { kinesisRecordMetadata: _dropped, ...bare } = input(JSON.stringify(event));
    expect(rejection(archiveRecord(bare, DAY))).toBe(
      'no kinesisRecordMetadata: the delivery stream source is not a Kinesis stream',
    );
  });

  it('rejects bad payloads with the reason the speed layer gives', () => {
    const reason = (payload: string | Uint8Array) => rejection(archiveRecord(input(payload), DAY));
    expect(reason('{"not json')).toMatch(/^event: malformed JSON/);
    expect(reason(JSON.stringify({ ...event, value: 'hot' }))).toBe('value: expected a finite number');
    expect(reason(Buffer.from([0x7b, 0xff, 0x7d]))).toBe('data: not valid UTF-8');
    expect(reason(Buffer.from([0xf3, 0x89, 0x9a, 0xc2, 0x0a]))).toBe('KPL aggregated records are not supported');
    expect(rejection(archiveRecord({ ...input('{}'), data: 'not base64!' }, DAY))).toBe('data: not valid base64');
  });

  // Law: for any payload bytes, the transform archives a record iff the speed layer folds it, and archives exactly
  // the event the speed layer decodes (rejecting with the same reason otherwise), so both layers count the same
  // records. 300 runs over a mix of valid events, JSON with bad fields, arbitrary bytes, invalid UTF-8 inside
  // strings, lone surrogates, keys over the stores' limits, values outside DynamoDB's range, times past the skew
  // bound and KPL headers: every branch of both decoders is hit many times.
  it('accepts exactly the payloads the speed layer accepts, as the same event', () => {
    const validEvent = fc.record({
      eventId: fc.string({ minLength: 1, maxLength: 8, unit: 'binary' }),
      deviceId: fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constant('😀'.repeat(129))),
      site: fc.constantFrom('plant-a', 'plant-ü', ' plant', '東'.repeat(60), 'p\ud800'),
      metric: fc.constantFrom('temperature', ''),
      value: fc.oneof(fc.double(), fc.constant('21'), fc.constantFrom(1e200, -1e-200, 1e100)),
      ts: fc.oneof(
        fc.nat(),
        fc.constant('2026-11-24T01:30:00+01:00'),
        fc.constant('2026-11-24T01:30:00'),
        fc.constantFrom(ARRIVAL + DAY, ARRIVAL + DAY + 1, 8_640_000_000_000_001),
      ),
    });
    const payload = fc.oneof(
      validEvent.map((value) => Buffer.from(JSON.stringify(value))),
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
      validEvent.map((value) =>
        Buffer.concat([Buffer.from(JSON.stringify(value).slice(0, -1)), Buffer.from(',"x":"\xff"}', 'latin1')]),
      ),
      fc.uint8Array({ maxLength: 10 }).map((bytes) => Buffer.concat([Buffer.from([0xf3, 0x89, 0x9a, 0xc2]), bytes])),
    );
    fc.assert(
      fc.property(payload, (bytes) => {
        const speed = decodeKinesisRecord(
          toLambdaRecord(
            {
              Data: bytes,
              PartitionKey: 'p',
              SequenceNumber: SEQUENCE,
              ApproximateArrivalTimestamp: new Date(ARRIVAL),
            },
            { streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/events', shardId: 'shardId-000000000001' },
          ),
          DAY,
        );
        const archived = archiveRecord(input(bytes), DAY);
        if (speed.ok) {
          expect(archived.ok).toBe(true);
          if (archived.ok) {
            const { arrival_ms, shard_id, sequence_number, subsequence_number, ...stored } = JSON.parse(archived.line);
            expect({ arrival_ms, shard_id, sequence_number, subsequence_number }).toEqual({
              arrival_ms: speed.record.arrivalMs,
              shard_id: speed.record.shardId,
              sequence_number: speed.record.sequenceNumber,
              subsequence_number: speed.record.subSequenceNumber,
            });
            expect(stored).toEqual(JSON.parse(JSON.stringify(speed.record.event)));
          }
        } else {
          expect(rejection(archived)).toBe(speed.reason);
        }
      }),
      { numRuns: 300 },
    );
  });
});
