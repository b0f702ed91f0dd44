import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { IotEvent } from '../../functions/core/event-schema';
import type { PipelineConfig } from '../../functions/core/pipeline-config';
import type { StreamRecord } from '../../functions/core/stream-record';
import { createSpeedHandler, type SpeedHandlerDependencies } from '../../functions/speed/speed-handler';
import { emulatorClientConfig } from '../../local/emulators';
import { createActiveStream, FIRST_SHARD_HASH_KEY, LAST_SHARD_HASH_KEY } from '../support/kinesis-stream';
import { DynamoDbFaults } from './dynamodb-faults';
import { putPayloads, readShard, ShardLog, SHARD_0, SHARD_1 } from './kinesis-batches';
import {
  createTable,
  expectedAnswers,
  expectedMeasures,
  realtimeAnswers,
  realtimeMeasures,
  sortedEntries,
} from './realtime-table';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';

export interface SpeedFixture {
  readonly dynamodb: DynamoDBClient;
  readonly faults: DynamoDbFaults;
  readonly metrics: RecordingMetrics;
  readonly logger: RecordingLogger;
  readonly realtimeTable: string;
  readonly dedupTable: string;
  readonly shards: readonly [ShardLog, ShardLog];
  readonly handle: (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;
  /** The distinct valid records on both shards: what the realtime views must equal a brute force of. */
  readonly records: () => StreamRecord[];
  /** Realtime items vs the brute force, per (view, epoch, key, bucket): [actual, expected]. */
  readonly compare: () => Promise<[unknown, unknown]>;
  /** The same, as decoded stored measures: register for register, bin for bin. */
  readonly compareStored: () => Promise<[unknown, unknown]>;
}

export interface FixtureOptions {
  readonly kinesis: KinesisClient;
  readonly dynamoEndpoint: string;
  readonly config: PipelineConfig;
  readonly name: string;
  /** What each shard holds, in order: payloads of valid events or raw poison. */
  readonly shard0: readonly (string | Uint8Array)[];
  readonly shard1?: readonly (string | Uint8Array)[];
  /** Every valid event put, by its payload. */
  readonly eventsByPayload: ReadonlyMap<string, IotEvent>;
  readonly handler?: Partial<SpeedHandlerDependencies>;
}

/**
 * A fresh two-shard stream holding the given payloads, read back with GetRecords, fresh realtime and de-dup
 * tables, and a speed handler over them whose DynamoDB client injects chosen faults. Retries do not wait.
 */
export async function speedFixture(options: FixtureOptions): Promise<SpeedFixture> {
  const { kinesis, config, name } = options;
  const streamArn = await createActiveStream(kinesis, name, 2);
  await putPayloads(kinesis, name, options.shard0, FIRST_SHARD_HASH_KEY);
  await putPayloads(kinesis, name, options.shard1 ?? [], LAST_SHARD_HASH_KEY);
  const shards = [
    new ShardLog(SHARD_0, streamArn, await readShard(kinesis, name, SHARD_0)),
    new ShardLog(SHARD_1, streamArn, await readShard(kinesis, name, SHARD_1)),
  ] as const;

  const dynamodb = new DynamoDBClient({ ...emulatorClientConfig(options.dynamoEndpoint), maxAttempts: 1 });
  const faults = new DynamoDbFaults().attachTo(dynamodb);
  const realtimeTable = `${name}-realtime`;
  const dedupTable = `${name}-dedup`;
  await createTable(dynamodb, realtimeTable);
  await createTable(dynamodb, dedupTable);
  const metrics = new RecordingMetrics();
  const logger = new RecordingLogger();
  const handle = createSpeedHandler({
    config,
    dynamodb,
    realtimeTable,
    dedupTable,
    logger,
    metrics,
    retry: { sleep: async () => undefined },
    ...options.handler,
  });
  const records = () => shards.flatMap((shard) => shard.streamRecords(options.eventsByPayload));
  return {
    dynamodb,
    faults,
    metrics,
    logger,
    realtimeTable,
    dedupTable,
    shards,
    handle,
    records,
    compare: async () => {
      const expected = expectedAnswers(config.views, records(), config.epochLengthMs);
      // A comparison of two empty tables would prove nothing.
      if (expected.size === 0) throw new Error('the scenario aggregates nothing');
      const actual = await realtimeAnswers(dynamodb, realtimeTable, config.views);
      return [sortedEntries(actual), sortedEntries(expected)];
    },
    compareStored: async () => {
      const expected = expectedMeasures(config.views, records(), config.epochLengthMs);
      if (expected.size === 0) throw new Error('the scenario aggregates nothing');
      const actual = await realtimeMeasures(dynamodb, realtimeTable, config.views);
      return [sortedEntries(actual), sortedEntries(expected)];
    },
  };
}
