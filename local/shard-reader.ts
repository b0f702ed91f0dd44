import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
} from '@aws-sdk/client-kinesis';

/**
 * Reads one shard in order from a checkpoint (or TRIM_HORIZON), re-acquiring its iterator when it expires. Both
 * local stream consumers (the event source mapping and the Firehose stand-in) read shards through this.
 */
export class ShardReader {
  private iterator: string | undefined;
  private lastRead: string | undefined;

  constructor(
    private readonly kinesis: KinesisClient,
    private readonly streamName: string,
    readonly shardId: string,
    checkpoint: string | undefined,
  ) {
    this.lastRead = checkpoint;
  }

  /** The next records after the last one read, at most `limit`; an empty list when the shard has nothing new. */
  async read(limit: number): Promise<KinesisRecord[]> {
    try {
      this.iterator ??= await this.acquireIterator();
      const page = await this.kinesis.send(new GetRecordsCommand({ ShardIterator: this.iterator, Limit: limit }));
      this.iterator = page.NextShardIterator;
      const records = page.Records ?? [];
      if (records.length > 0) this.lastRead = records[records.length - 1].SequenceNumber;
      return records;
    } catch (error) {
      if (error instanceof ExpiredIteratorException) {
        this.iterator = undefined;
        return [];
      }
      throw error;
    }
  }

  private async acquireIterator(): Promise<string> {
    const response = await this.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: this.streamName,
        ShardId: this.shardId,
        ...(this.lastRead === undefined
          ? { ShardIteratorType: 'TRIM_HORIZON' }
          : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: this.lastRead }),
      }),
    );
    if (response.ShardIterator === undefined) {
      throw new Error(`shard ${this.shardId} of ${this.streamName} returned no iterator`);
    }
    return response.ShardIterator;
  }
}

export async function listShardIds(kinesis: KinesisClient, streamName: string): Promise<string[]> {
  const shardIds: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await kinesis.send(
      new ListShardsCommand(nextToken === undefined ? { StreamName: streamName } : { NextToken: nextToken }),
    );
    shardIds.push(...(page.Shards ?? []).flatMap((shard) => (shard.ShardId === undefined ? [] : [shard.ShardId])));
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return shardIds;
}
