import type { _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/** Where a record came from, as the event source mapping stamps it into every Lambda event record. */
export interface KinesisSource {
  readonly streamArn: string;
  readonly shardId: string;
  readonly region?: string;
}

/**
 * A Kinesis record as Lambda's event source mapping delivers it: base64 data, arrival time in (fractional)
 * seconds, and `eventID` = `shardId:sequenceNumber`, which is where a handler learns the shard.
 */
export function toLambdaRecord(record: KinesisRecord, source: KinesisSource): KinesisStreamRecord {
  const arrival = record.ApproximateArrivalTimestamp ?? new Date();
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey ?? '',
      sequenceNumber: record.SequenceNumber ?? '',
      data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
      approximateArrivalTimestamp: arrival.getTime() / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${source.shardId}:${record.SequenceNumber ?? ''}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::000000000000:role/local-event-source-mapping',
    awsRegion: source.region ?? 'us-east-1',
    eventSourceARN: source.streamArn,
  };
}

export function toLambdaEvent(records: readonly KinesisRecord[], source: KinesisSource): KinesisStreamEvent {
  return { Records: records.map((record) => toLambdaRecord(record, source)) };
}
