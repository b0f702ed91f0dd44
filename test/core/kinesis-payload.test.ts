import { decodeKinesisPayload } from '../../functions/core/kinesis-payload';

const event = {
  eventId: 'e-1',
  deviceId: 'd-1',
  site: 'plant-a',
  metric: 'temperature',
  value: 1.5,
  ts: 1_795_491_000_000,
};
/** Arrival a minute after the event. */
const arrival = { arrivalMs: 1_795_491_060_000, eventTimeSkewMs: 86_400_000 };
const base64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');
const reasonOf = (data: unknown) => {
  const result = decodeKinesisPayload(data, arrival);
  return result.ok ? 'accepted' : result.errors.join('; ');
};

describe('Kinesis payload decoding shared by the speed layer and the Firehose transform', () => {
  it('decodes a base64 UTF-8 JSON event into the validated event', () => {
    expect(decodeKinesisPayload(base64(JSON.stringify(event)), arrival)).toEqual({ ok: true, event });
  });

  it.each<[string, unknown, string | RegExp]>([
    ['data that is not a string', 42, 'data: not valid base64'],
    ['characters outside base64', 'a$b=', 'data: not valid base64'],
    ['base64 of an impossible length', 'abcde', 'data: not valid base64'],
    [
      'a KPL aggregated record',
      base64(new Uint8Array([0xf3, 0x89, 0x9a, 0xc2, 1])),
      'KPL aggregated records are not supported',
    ],
    ['bytes that are not UTF-8', base64(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])), 'data: not valid UTF-8'],
    ['malformed JSON', base64('{"eventId": '), /^event: malformed JSON/],
    ['a schema violation', base64(JSON.stringify({ ...event, value: 'hot' })), 'value: expected a finite number'],
    [
      'an escaped lone surrogate (valid JSON, not valid Unicode)',
      base64('{"eventId":"e-1","deviceId":"d\\ud800","site":"s","metric":"m","value":1,"ts":1795491000000}'),
      'deviceId: expected well-formed Unicode (it has a lone surrogate)',
    ],
    [
      'an event time more than a day after its arrival',
      base64(JSON.stringify({ ...event, ts: arrival.arrivalMs + 86_400_001 })),
      'ts: more than 1 day after arrival',
    ],
  ])('rejects %s with a reason naming the problem', (_, data, reason) => {
    expect(reasonOf(data)).toMatch(reason);
  });
});
