import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FirehoseTransformationEventRecord } from 'aws-lambda';
import { DEFAULT_EVENT_SCHEMA, partitionKeyOf, type EventSchema } from '../../functions/core/event-schema';
import type { StreamRecord } from '../../functions/core/stream-record';
import { createFirehoseTransformHandler } from '../../functions/firehose-transform/firehose-transform-handler';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';

/** The transform Lambda for a schema, as the batch layer's stack configures it (one per schema a suite uses). */
const transforms = new Map<EventSchema, ReturnType<typeof createFirehoseTransformHandler>>();
function transformFor(schema: EventSchema): ReturnType<typeof createFirehoseTransformHandler> {
  let transform = transforms.get(schema);
  if (transform === undefined) {
    transform = createFirehoseTransformHandler({
      eventTimeSkewMs: 86_400_000,
      logger: new RecordingLogger(),
      metrics: new RecordingMetrics(),
      schema,
    });
    transforms.set(schema, transform);
  }
  return transform;
}
let deliveryCounter = 0;

/** A delivery as Firehose hands it to the transform: the producer's payload and the Kinesis metadata. */
export function firehoseRecord(
  record: StreamRecord,
  payload: string = JSON.stringify(record.event),
  schema: EventSchema = DEFAULT_EVENT_SCHEMA,
): FirehoseTransformationEventRecord {
  deliveryCounter += 1;
  return {
    recordId: `${record.sequenceNumber}${String(deliveryCounter).padStart(8, '0')}`,
    approximateArrivalTimestamp: record.arrivalMs,
    data: Buffer.from(payload).toString('base64'),
    kinesisRecordMetadata: {
      shardId: record.shardId,
      partitionKey: partitionKeyOf(schema, record.event),
      approximateArrivalTimestamp: record.arrivalMs,
      sequenceNumber: record.sequenceNumber,
      subsequenceNumber: String(record.subSequenceNumber),
    },
  };
}

export interface ArchiveOptions {
  /** Records per transform invocation; each invocation's output becomes its own objects. @default 7 */
  readonly invocationSize?: number;
  /** @default 'events/' */
  readonly prefix?: string;
  /** @default 'errors/' */
  readonly errorPrefix?: string;
  /** The schema the transform validates against. @default DEFAULT_EVENT_SCHEMA */
  readonly schema?: EventSchema;
}

/**
 * Archives deliveries as Firehose does with dynamic partitioning and a transform Lambda: it invokes the transform
 * with a batch at a time, writes the `Ok` records of each batch as one GZIP object per partition the transform
 * named (`events/dt=.../hour=.../`, as lib/batch-layer.ts configures the prefix), and the `ProcessingFailed` ones
 * as Firehose's error records (JSON lines with errorCode and the raw data) under the error prefix.
 */
export async function archiveThroughTransform(
  s3: S3Client,
  bucket: string,
  records: readonly FirehoseTransformationEventRecord[],
  options: ArchiveOptions = {},
): Promise<{ archived: number; failed: number }> {
  const size = options.invocationSize ?? 7;
  const prefix = options.prefix ?? 'events/';
  const errorPrefix = options.errorPrefix ?? 'errors/';
  let archived = 0;
  let failed = 0;
  for (let start = 0; start < records.length; start += size) {
    deliveryCounter += 1;
    const batch = records.slice(start, start + size);
    const result = await transformFor(options.schema ?? DEFAULT_EVENT_SCHEMA)({
      invocationId: `invocation-${deliveryCounter}`,
      deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/archive',
      sourceKinesisStreamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/events',
      region: 'us-east-1',
      records: [...batch],
    });
    expect(result.records.map((answer) => answer.recordId)).toEqual(batch.map((record) => record.recordId));
    const partitions = new Map<string, Buffer[]>();
    const errors: string[] = [];
    for (const [index, answer] of result.records.entries()) {
      if (answer.result === 'Ok') {
        const { dt, hour } = answer.metadata?.partitionKeys ?? {};
        const partition = `${prefix}dt=${dt}/hour=${hour}/`;
        partitions.set(partition, [...(partitions.get(partition) ?? []), Buffer.from(answer.data ?? '', 'base64')]);
      } else {
        const now = Date.now();
        errors.push(
          JSON.stringify({
            attemptsMade: 1,
            arrivalTimestamp: batch[index].approximateArrivalTimestamp,
            errorCode: 'Lambda.ProcessingFailed',
            errorMessage: 'The Lambda function was successfully invoked but it returned an error result.',
            attemptEndingTimestamp: now,
            rawData: batch[index].data,
            lambdaArn: 'arn:aws:lambda:us-east-1:000000000000:function:transform',
          }),
        );
      }
    }
    for (const [partition, lines] of partitions) {
      await put(s3, bucket, `${partition}archive-${deliveryCounter}.gz`, gzipSync(Buffer.concat(lines)));
      archived += lines.length;
    }
    if (errors.length > 0) {
      const day = new Date().toISOString().slice(0, 10);
      await put(
        s3,
        bucket,
        `${errorPrefix}processing-failed/dt=${day}/archive-${deliveryCounter}.gz`,
        gzipSync(errors.join('\n')),
      );
      failed += errors.length;
    }
  }
  return { archived, failed };
}

async function put(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}
