import type { KinesisStreamRecord } from 'aws-lambda';
import { recordPosition } from '../../functions/core/sequence-position';
import {
  arrivalMsOf,
  decodeKinesisRecord,
  positionOfLambdaRecord,
  shardIdOf,
} from '../../functions/speed/kinesis-record-decoder';
import { toLambdaRecord } from '../../local/kinesis-lambda-event';

const SEQUENCE = '49590338271490256608559692538361571095921575989136588898';
/** The pipeline's default skew bound: event time at most a day after arrival. */
const DAY = 86_400_000;
const event = {
  eventId: 'e-1',
  deviceId: 'device-1',
  site: 'plant-a',
  metric: 'temperature',
  value: 21.5,
  ts: '2026-11-24T01:30:00Z',
};

function lambdaRecord(data: Uint8Array | string, arrival = new Date('2026-11-24T01:30:02.123Z')): KinesisStreamRecord {
  return toLambdaRecord(
    {
      Data: typeof data === 'string' ? Buffer.from(data) : data,
      PartitionKey: 'device-1',
      SequenceNumber: SEQUENCE,
      ApproximateArrivalTimestamp: arrival,
    },
    { streamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/events', shardId: 'shardId-000000000007' },
  );
}

describe('Kinesis record decoding', () => {
  it('a valid record becomes a stream record with its shard, sequence number and arrival time', () => {
    expect(decodeKinesisRecord(lambdaRecord(JSON.stringify(event)), DAY)).toEqual({
      ok: true,
      record: {
        event: { ...event, ts: Date.parse(event.ts) },
        shardId: 'shardId-000000000007',
        sequenceNumber: SEQUENCE,
        subSequenceNumber: 0,
        arrivalMs: Date.parse('2026-11-24T01:30:02.123Z'),
      },
    });
  });

  it('the shard id is the part of eventID before the colon, as the event source mapping sends it', () => {
    const record = lambdaRecord('{}');
    expect(record.eventID).toBe(`shardId-000000000007:${SEQUENCE}`);
    expect(shardIdOf(record)).toBe('shardId-000000000007');
    expect(() => shardIdOf({ ...record, eventID: SEQUENCE })).toThrow(/eventID has no shard id/);
  });

  it('arrival seconds with millisecond decimals convert back to the exact millisecond', () => {
    for (const ms of [1_795_491_002_123, 1_795_491_002_999, 1_795_491_003_000, 1_795_491_002_001]) {
      expect(arrivalMsOf(lambdaRecord('{}', new Date(ms)))).toBe(ms);
    }
    const record = lambdaRecord('{}');
    expect(
      arrivalMsOf({ ...record, kinesis: { ...record.kinesis, approximateArrivalTimestamp: 1795491002.1229999 } }),
    ).toBe(1_795_491_002_123);
  });

  it('the position of a record orders by sequence number, as the watermarks compare them', () => {
    expect(positionOfLambdaRecord(lambdaRecord('{}'))).toBe(recordPosition(SEQUENCE, 0));
  });

  it.each([
    [
      'malformed base64',
      (record: KinesisStreamRecord) => ({ ...record.kinesis, data: 'a$b=' }),
      'data: not valid base64',
    ],
    [
      'base64 with a bad length',
      (record: KinesisStreamRecord) => ({ ...record.kinesis, data: 'abcde' }),
      'data: not valid base64',
    ],
  ])('%s is rejected with the reason, not thrown', (_, mutate, reason) => {
    const record = lambdaRecord(JSON.stringify(event));
    expect(decodeKinesisRecord({ ...record, kinesis: mutate(record) }, DAY)).toEqual({
      ok: false,
      shardId: 'shardId-000000000007',
      sequenceNumber: SEQUENCE,
      reason,
    });
  });

  it.each<[string, Uint8Array | string, string | RegExp]>([
    [
      'a KPL aggregated record',
      Buffer.from([0xf3, 0x89, 0x9a, 0xc2, 0x0a, 0x01]),
      'KPL aggregated records are not supported',
    ],
    ['invalid UTF-8', Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), 'data: not valid UTF-8'],
    ['malformed JSON', '{"eventId": ', /^event: malformed JSON \(/],
    ['a JSON value that is not an object', '"text"', 'event: expected a JSON object'],
    [
      'an event that fails the schema',
      JSON.stringify({ ...event, value: 'hot', site: '' }),
      /value: expected a finite number/,
    ],
  ])('%s is rejected with the reason', (_, data, reason) => {
    const decoded = decodeKinesisRecord(lambdaRecord(data), DAY);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(reason);
  });

  it('every schema problem of an event is named in the reason', () => {
    const decoded = decodeKinesisRecord(lambdaRecord(JSON.stringify({ ...event, value: 'hot', site: '' })), DAY);
    expect(decoded).toMatchObject({
      ok: false,
      reason: 'site: expected a non-empty string; value: expected a finite number',
    });
  });
});
