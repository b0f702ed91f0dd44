import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FirehoseTransformationEventRecord } from 'aws-lambda';
import { createFirehoseTransformHandler } from '../../functions/firehose-transform/firehose-transform-handler';
import type { StreamRecord } from '../../functions/core/stream-record';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';

const transform = createFirehoseTransformHandler({ logger: new RecordingLogger(), metrics: new RecordingMetrics() });
let objectCounter = 0;

/** A delivery as Firehose hands it to the transform: the producer's payload and the Kinesis metadata. */
export function firehoseRecord(
  record: StreamRecord,
  payload: string = JSON.stringify(record.event),
): FirehoseTransformationEventRecord {
  return {
    recordId: `${record.shardId}-${record.sequenceNumber}-${objectCounter++}`,
    approximateArrivalTimestamp: record.arrivalMs,
    data: Buffer.from(payload).toString('base64'),
    kinesisRecordMetadata: {
      shardId: record.shardId,
      partitionKey: record.event.deviceId,
      approximateArrivalTimestamp: record.arrivalMs,
      sequenceNumber: record.sequenceNumber,
      subsequenceNumber: String(record.subSequenceNumber),
    },
  };
}

/**
 * Archives deliveries exactly as Firehose does with dynamic partitioning: the transform decides, `Ok` records
 * go into one GZIP object per partition it names, `ProcessingFailed` ones under the error prefix.
 */
export async function archiveThroughTransform(
  s3: S3Client,
  bucket: string,
  records: readonly FirehoseTransformationEventRecord[],
): Promise<{ archived: number; failed: number }> {
  const result = await transform({
    invocationId: 'test',
    deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/archive',
    region: 'us-east-1',
    records: [...records],
  });
  const partitions = new Map<string, Buffer[]>();
  const failed: string[] = [];
  for (const outcome of result.records) {
    if (outcome.result === 'Ok') {
      const { dt, hour } = outcome.metadata?.partitionKeys ?? {};
      const prefix = `events/dt=${dt}/hour=${hour}/`;
      partitions.set(prefix, [...(partitions.get(prefix) ?? []), Buffer.from(outcome.data ?? '', 'base64')]);
    } else {
      failed.push(JSON.stringify({ errorCode: 'Lambda.ProcessingFailed', rawData: outcome.data }));
    }
  }
  for (const [prefix, lines] of partitions) {
    objectCounter += 1;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}archive-${objectCounter}.gz`,
        Body: gzipSync(Buffer.concat(lines)),
      }),
    );
  }
  if (failed.length > 0) {
    objectCounter += 1;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `errors/processing-failed/archive-${objectCounter}`,
        Body: failed.join('\n'),
      }),
    );
  }
  return { archived: result.records.length - failed.length, failed: failed.length };
}
