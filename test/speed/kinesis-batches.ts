import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  PutRecordsCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { IotEvent } from '../../functions/core/event-schema';
import type { StreamRecord } from '../../functions/core/stream-record';
import { toLambdaEvent } from '../../local/kinesis-lambda-event';

export const SHARD_0 = 'shardId-000000000000';
export const SHARD_1 = 'shardId-000000000001';

/** Puts payloads with PutRecords (500 per request) onto the shard owning the explicit hash key. */
export async function putPayloads(
  kinesis: KinesisClient,
  streamName: string,
  payloads: readonly (string | Uint8Array)[],
  explicitHashKey: string,
): Promise<void> {
  for (let start = 0; start < payloads.length; start += 500) {
    const response = await kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: payloads.slice(start, start + 500).map((payload) => ({
          Data: typeof payload === 'string' ? Buffer.from(payload) : payload,
          PartitionKey: 'p',
          ExplicitHashKey: explicitHashKey,
        })),
      }),
    );
    if ((response.FailedRecordCount ?? 0) > 0) throw new Error(`PutRecords failed ${response.FailedRecordCount}`);
  }
}

/** Every record of a shard, read with GetRecords from TRIM_HORIZON, in sequence order. */
export async function readShard(kinesis: KinesisClient, streamName: string, shardId: string): Promise<KinesisRecord[]> {
  const { ShardIterator } = await kinesis.send(
    new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
  );
  const records: KinesisRecord[] = [];
  let iterator = ShardIterator;
  while (iterator !== undefined) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    records.push(...(page.Records ?? []));
    if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
    iterator = page.NextShardIterator;
  }
  return records;
}

/** A shard's records as the Kinesis event source mapping hands them to Lambda. */
export class ShardLog {
  constructor(
    readonly shardId: string,
    readonly streamArn: string,
    readonly records: readonly KinesisRecord[],
  ) {}

  /** The Lambda event of records [from, to), as the event source mapping builds it. */
  batch(from: number, to: number = this.records.length): KinesisStreamEvent {
    return toLambdaEvent(this.records.slice(from, to), { streamArn: this.streamArn, shardId: this.shardId });
  }

  /** The index of the record with this sequence number: where a redelivery after a reported failure starts. */
  indexOf(sequenceNumber: string): number {
    const index = this.records.findIndex((record) => record.SequenceNumber === sequenceNumber);
    if (index < 0) throw new Error(`sequence number ${sequenceNumber} is not on ${this.shardId}`);
    return index;
  }

  /** The valid events among the records, as the distinct stream records a brute force aggregates. */
  streamRecords(eventsByPayload: ReadonlyMap<string, IotEvent>): StreamRecord[] {
    return this.records.flatMap((record) => {
      const event = eventsByPayload.get(Buffer.from(record.Data ?? new Uint8Array()).toString('utf8'));
      if (event === undefined) return [];
      return [
        {
          event,
          shardId: this.shardId,
          sequenceNumber: record.SequenceNumber ?? '',
          subSequenceNumber: 0,
          arrivalMs: record.ApproximateArrivalTimestamp?.getTime() ?? Number.NaN,
        },
      ];
    });
  }
}

/** The failure a batch response reports, or undefined. */
export function reportedFailure(response: { batchItemFailures: { itemIdentifier: string }[] }): string | undefined {
  if (response.batchItemFailures.length > 1) throw new Error('the speed layer reports at most one failure');
  return response.batchItemFailures[0]?.itemIdentifier;
}
