import type { FirehoseTransformationEvent, FirehoseTransformationEventRecord } from 'aws-lambda';
import { createFirehoseTransformHandler } from '../../functions/firehose-transform/firehose-transform-handler';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';

const arrival = Date.UTC(2026, 10, 24, 14, 59, 59, 900);

function record(
  recordId: string,
  payload: unknown,
  sequenceNumber = '49680507356827391140529022913163858325634908041368305666',
): FirehoseTransformationEventRecord {
  return {
    recordId,
    approximateArrivalTimestamp: arrival,
    data: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)).toString('base64'),
    kinesisRecordMetadata: {
      shardId: 'shardId-000000000001',
      partitionKey: 'device-1',
      approximateArrivalTimestamp: arrival,
      sequenceNumber,
      subsequenceNumber: '0',
    },
  };
}

const event = (records: FirehoseTransformationEventRecord[]): FirehoseTransformationEvent => ({
  invocationId: 'invocation',
  deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/archive',
  sourceKinesisStreamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/events',
  region: 'us-east-1',
  records,
});

const valid = {
  eventId: 'e-1',
  deviceId: 'device-1',
  site: 'plant-a',
  metric: 'temperature',
  value: 21.5,
  ts: '2026-11-24T14:58:00Z',
  firmware: '1.2',
};

function setUp() {
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  return { logger, metrics, handler: createFirehoseTransformHandler({ logger, metrics }) };
}

describe('Firehose transform', () => {
  it('archives a valid event as one JSON line with the envelope, ts in epoch ms and extra fields kept', async () => {
    const { handler } = setUp();
    const { records } = await handler(event([record('r1', valid)]));
    expect(records).toHaveLength(1);
    const [result] = records;
    expect(result.result).toBe('Ok');
    const line = Buffer.from(result.data ?? '', 'base64').toString();
    expect(line.endsWith('\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(JSON.parse(line)).toEqual({
      ...valid,
      ts: Date.UTC(2026, 10, 24, 14, 58),
      arrival_ms: arrival,
      shard_id: 'shardId-000000000001',
      sequence_number: '49680507356827391140529022913163858325634908041368305666',
      subsequence_number: 0,
    });
  });

  it('returns Hive partition keys from the arrival time, not the event time', async () => {
    const { handler } = setUp();
    const { records } = await handler(event([record('r1', { ...valid, ts: '2026-11-20T01:00:00Z' })]));
    expect(records[0].metadata?.partitionKeys).toEqual({ dt: '2026-11-24', hour: '14' });
  });

  it('answers every record, in order: invalid ones as ProcessingFailed with their original data, never Dropped', async () => {
    const { handler, logger, metrics } = setUp();
    const inputs = [
      record('a', valid),
      record('b', '{"not json', '2'),
      record('c', { ...valid, value: 'hot' }, '3'),
      record('d', valid, '4'),
    ];
    const { records } = await handler(event(inputs));
    expect(records.map((r) => [r.recordId, r.result])).toEqual([
      ['a', 'Ok'],
      ['b', 'ProcessingFailed'],
      ['c', 'ProcessingFailed'],
      ['d', 'Ok'],
    ]);
    expect(records[1].data).toBe(inputs[1].data);
    expect(logger.at('warn').map((line) => [line.attributes.sequenceNumber, line.attributes.reason])).toEqual([
      ['2', expect.stringMatching(/^event: malformed JSON/)],
      ['3', 'value: expected a finite number'],
    ]);
    expect(metrics.total('RecordsArchived')).toBe(2);
    expect(metrics.total('RecordsRejected')).toBe(2);
  });

  it('rejects a record without Kinesis metadata, since it cannot be made distinct or placed in an epoch', async () => {
    const { handler, logger } = setUp();
    const { kinesisRecordMetadata: _dropped, ...bare } = record('x', valid);
    const { records } = await handler(event([bare]));
    expect(records[0].result).toBe('ProcessingFailed');
    expect(logger.at('warn')[0].attributes.reason).toBe('no kinesisRecordMetadata: the source is not a Kinesis stream');
  });
});
