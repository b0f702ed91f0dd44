import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { eventually } from './eventually';

/** Creates a stream and waits until it is ACTIVE; returns its ARN. */
export async function createActiveStream(
  kinesis: KinesisClient,
  streamName: string,
  shardCount: number,
): Promise<string> {
  await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
  return eventually(`stream ${streamName} to become ACTIVE`, async () => {
    const { StreamDescriptionSummary: summary } = await kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: streamName }),
    );
    return summary?.StreamStatus === 'ACTIVE' ? summary.StreamARN : undefined;
  });
}

/** Hash keys that land on the first and the last shard of a stream with evenly split hash ranges. */
export const FIRST_SHARD_HASH_KEY = '0';
export const LAST_SHARD_HASH_KEY = (2n ** 128n - 1n).toString();

/** Puts payloads in order onto the shard chosen by the explicit hash key; returns their sequence numbers. */
export async function putOnShard(
  kinesis: KinesisClient,
  streamName: string,
  payloads: readonly string[],
  explicitHashKey: string,
): Promise<string[]> {
  const sequenceNumbers: string[] = [];
  // One at a time keeps the order of sequence numbers the order of the payloads.
  for (const payload of payloads) {
    const response = await kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: [{ Data: Buffer.from(payload), PartitionKey: 'p', ExplicitHashKey: explicitHashKey }],
      }),
    );
    sequenceNumbers.push(response.Records?.[0]?.SequenceNumber ?? '');
  }
  return sequenceNumbers;
}
