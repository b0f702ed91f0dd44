import type { FirehoseTransformationEvent, FirehoseTransformationEventRecord } from 'aws-lambda';
import {
  createFirehoseTransformHandler,
  OVER_RESPONSE_LIMIT_REASON,
} from '../../functions/firehose-transform/firehose-transform-handler';
import {
  DEFAULT_RESPONSE_BUDGET_BYTES,
  LAMBDA_RESPONSE_LIMIT_BYTES,
} from '../../functions/firehose-transform/response-size-limit';
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

function setUp(responseBudgetBytes?: number) {
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  return {
    logger,
    metrics,
    handler: createFirehoseTransformHandler({ eventTimeSkewMs: 86_400_000, logger, metrics, responseBudgetBytes }),
  };
}

describe('Firehose transform handler', () => {
  it('answers a valid record Ok with its archived line, base64, and Hive partition keys from arrival time', async () => {
    const { handler } = setUp();
    const { records } = await handler(event([record('r1', { ...valid, ts: '2026-11-20T01:00:00Z' })]));
    expect(records).toEqual([
      {
        recordId: 'r1',
        result: 'Ok',
        data: expect.any(String),
        metadata: { partitionKeys: { dt: '2026-11-24', hour: '14' } },
      },
    ]);
    const line = Buffer.from(records[0].data ?? '', 'base64').toString();
    expect(line.endsWith('}\n')).toBe(true);
    expect(JSON.parse(line)).toMatchObject({ eventId: 'e-1', firmware: '1.2', arrival_ms: arrival });
  });

  it('archives a record whose extra fields clash but for case without them, and logs which were left out', async () => {
    const { handler, logger } = setUp();
    const { records } = await handler(event([record('r1', { ...valid, FIRMWARE: '2.0' })]));
    expect(records[0].result).toBe('Ok');
    expect(JSON.parse(Buffer.from(records[0].data ?? '', 'base64').toString())).not.toHaveProperty('FIRMWARE');
    expect(logger.at('warn').map((line) => line.attributes)).toEqual([
      expect.objectContaining({ recordId: 'r1', fields: ['FIRMWARE'] }),
    ]);
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
    expect(records[1]).toEqual({ recordId: 'b', result: 'ProcessingFailed', data: inputs[1].data });
    expect(records[2].data).toBe(inputs[2].data);
    expect(logger.at('warn').map((line) => line.attributes)).toEqual([
      expect.objectContaining({
        recordId: 'b',
        shardId: 'shardId-000000000001',
        sequenceNumber: '2',
        reason: expect.stringMatching(/^event: malformed JSON/),
      }),
      expect.objectContaining({ recordId: 'c', sequenceNumber: '3', reason: 'value: expected a finite number' }),
    ]);
    expect(metrics.total('RecordsArchived')).toBe(2);
    expect(metrics.total('RecordsRejected')).toBe(2);
    expect(metrics.published).toBe(1);
  });

  it('sends the last valid records to the error prefix, logged with the reason, when the response would exceed its budget', async () => {
    const inputs = Array.from({ length: 10 }, (_, index) => record(`r${index}`, { ...valid, eventId: `e-${index}` }));
    const { handler: unbounded } = setUp();
    const full = await unbounded(event(inputs));
    const fullBytes = Buffer.byteLength(JSON.stringify(full));

    const { handler, logger, metrics } = setUp(fullBytes - 1);
    const response = await handler(event(inputs));
    expect(Buffer.byteLength(JSON.stringify(response))).toBeLessThanOrEqual(fullBytes - 1);
    expect(response.records.map((answer) => answer.result)).toEqual([...Array(9).fill('Ok'), 'ProcessingFailed']);
    expect(response.records[9]).toEqual({ recordId: 'r9', result: 'ProcessingFailed', data: inputs[9].data });
    expect(logger.at('warn').map((line) => [line.attributes.recordId, line.attributes.reason])).toEqual([
      ['r9', OVER_RESPONSE_LIMIT_REASON],
    ]);
    expect(logger.at('error')).toHaveLength(1);
    expect(metrics.total('RecordsArchived')).toBe(9);
    expect(metrics.total('RecordsRejected')).toBe(1);
  });

  it('keeps the response within the Lambda limit for a batch of small events whose archived form would exceed it', async () => {
    // About 6.0 MB of request (within what Lambda lets Firehose send): the envelope makes the answers 6.5 MB.
    const inputs = Array.from({ length: 13_500 }, (_, index) =>
      record(`49680507356827391140529022913163858325634908041368305666${String(index).padStart(6, '0')}`, {
        eventId: `e${index}`,
        deviceId: 'd',
        site: 's',
        metric: 'm',
        value: 1,
        ts: 1,
      }),
    );
    expect(Buffer.byteLength(JSON.stringify(event(inputs)))).toBeLessThan(LAMBDA_RESPONSE_LIMIT_BYTES);
    const { handler, metrics } = setUp();
    const response = await handler(event(inputs));
    const bytes = Buffer.byteLength(JSON.stringify(response));
    expect(bytes).toBeLessThanOrEqual(DEFAULT_RESPONSE_BUDGET_BYTES);
    expect(response.records).toHaveLength(inputs.length);
    expect(metrics.total('RecordsRejected')).toBeGreaterThan(0);
    expect(metrics.total('RecordsArchived') + metrics.total('RecordsRejected')).toBe(inputs.length);
  });
});
