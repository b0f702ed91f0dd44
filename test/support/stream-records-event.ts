import type { KinesisStreamEvent } from 'aws-lambda';
import { toLambdaEvent } from '../../local/kinesis-lambda-event';
import { partitionKeyOf, type EventSchema } from '../../functions/core/event-schema';
import type { StreamRecord } from '../../functions/core/stream-record';

/** Records of one shard as the event source mapping delivers them to the speed layer: their events as JSON. */
export function streamRecordsEvent(
  schema: EventSchema,
  records: readonly StreamRecord[],
  source: { readonly streamArn: string; readonly shardId: string },
): KinesisStreamEvent {
  return toLambdaEvent(
    records.map((record) => ({
      Data: Buffer.from(JSON.stringify(record.event)),
      PartitionKey: partitionKeyOf(schema, record.event),
      SequenceNumber: record.sequenceNumber,
      ApproximateArrivalTimestamp: new Date(record.arrivalMs),
    })),
    source,
  );
}
