import { KinesisClient } from '@aws-sdk/client-kinesis';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { recordPosition } from '../../functions/core/sequence-position';
import {
  emulatorClientConfig,
  startDynamoDb,
  startKinesis,
  type KinesisEmulator,
  type RunningEmulator,
} from '../../local/emulators';
import { ACCESS_DENIED } from './dynamodb-faults';
import { generateEvents, payloadsOf } from './generated-events';
import { reportedFailure } from './kinesis-batches';
import { speedFixture } from './speed-fixture';

const config = definePipelineConfig({
  views: [
    { name: 'device_minute', dimensions: ['deviceId'], granularity: 'minute' },
    { name: 'device_minute_once', dimensions: ['deviceId'], granularity: 'minute', dedupeByEventId: true },
    {
      name: 'warm_site_hour_once',
      dimensions: ['site'],
      granularity: 'hour',
      filter: [{ field: 'value', op: 'gte', value: 0 }],
      dedupeByEventId: true,
    },
  ],
});

let dynamo: RunningEmulator;
let kinesisEmulator: KinesisEmulator;
let kinesis: KinesisClient;
let streams = 0;

beforeAll(async () => {
  [dynamo, kinesisEmulator] = await Promise.all([startDynamoDb(), startKinesis()]);
  kinesis = new KinesisClient(emulatorClientConfig(kinesisEmulator.endpoint));
});
afterAll(async () => {
  kinesis.destroy();
  await Promise.all([dynamo.stop(), kinesisEmulator.stop()]);
});

/**
 * 40 events on shard 0; then, as a producer retrying PutRecords would, second copies of 10 of them on shard 0
 * and of 5 others on shard 1 (new Kinesis records, same eventIds).
 */
async function withProducerRetries(seed: number) {
  streams += 1;
  const events = generateEvents({ count: 40, seed, devices: 4 });
  const { payloads, eventsByPayload } = payloadsOf(events);
  const retriedOnShard0 = payloads.filter((_, index) => index % 4 === 1);
  const retriedOnShard1 = payloads.filter((_, index) => index % 8 === 2);
  const fixture = await speedFixture({
    kinesis,
    dynamoEndpoint: dynamo.endpoint,
    config,
    name: `dedup-${streams}`,
    shard0: [...payloads, ...retriedOnShard0],
    shard1: retriedOnShard1,
    eventsByPayload,
  });
  return { fixture, events, copies: retriedOnShard0.length + retriedOnShard1.length };
}

const totalCount = (answers: unknown, view: string) =>
  (answers as [string, { count: number }][])
    .filter(([key]) => key.startsWith(`${view}|`))
    .reduce((sum, [, measures]) => sum + measures.count, 0);

describe('eventId de-duplication in the speed layer', () => {
  it("a producer's retried event counts once in a de-duplicating view and once per Kinesis record elsewhere", async () => {
    const { fixture, events, copies } = await withProducerRetries(21);
    const [shard0, shard1] = fixture.shards;
    // The originals, then their copies, in separate batches: no copy meets its original within a batch.
    expect(await fixture.handle(shard0.batch(0, events.length))).toEqual({ batchItemFailures: [] });
    expect(await fixture.handle(shard0.batch(events.length))).toEqual({ batchItemFailures: [] });
    expect(await fixture.handle(shard1.batch(0))).toEqual({ batchItemFailures: [] });

    const [actual, expected] = await fixture.compare();
    expect(actual).toEqual(expected);
    expect(totalCount(actual, 'device_minute')).toBe(events.length + copies);
    expect(totalCount(actual, 'device_minute_once')).toBe(events.length);
    // The cost: one conditional write per Kinesis record that a de-duplicating view counts (all of them here).
    expect(fixture.faults.count('PutItemCommand')).toBe(events.length + copies);
  });

  it('a redelivered owner record is still counted, once', async () => {
    const { fixture } = await withProducerRetries(22);
    const [shard0, shard1] = fixture.shards;
    let failed = false;
    fixture.faults.failWhen(({ command, input }) => {
      const pk = (input.Key as Record<string, { S: string }> | undefined)?.pk.S ?? '';
      if (command !== 'UpdateItemCommand' || failed || !pk.startsWith('warm_site_hour_once@')) return undefined;
      failed = true;
      return ACCESS_DENIED;
    });
    const failure = reportedFailure(await fixture.handle(shard0.batch(0, 30)));
    fixture.faults.heal();
    expect(failure).toBeDefined();
    // Redelivered from the report past the original end, then the whole shard once more.
    expect(await fixture.handle(shard0.batch(shard0.indexOf(failure as string)))).toEqual({ batchItemFailures: [] });
    expect(await fixture.handle(shard0.batch(0))).toEqual({ batchItemFailures: [] });
    expect(await fixture.handle(shard1.batch(0))).toEqual({ batchItemFailures: [] });

    const [actual, expected] = await fixture.compare();
    expect(actual).toEqual(expected);
  });

  it('a failed eventId claim fails the items of its record; the redelivery from the report is exact', async () => {
    const { fixture } = await withProducerRetries(23);
    const [shard0, shard1] = fixture.shards;
    fixture.faults.failWhen(({ command, index }) =>
      command === 'PutItemCommand' && index === 3 ? ACCESS_DENIED : undefined,
    );
    const failure = reportedFailure(await fixture.handle(shard0.batch(0, 30)));
    const unclaimed = fixture.faults.injected[0].input.Item as Record<string, { S: string }>;
    fixture.faults.heal();

    // At or below the record whose claim failed: its items were not written.
    const unclaimedIndex = shard0.records.findIndex(
      (record) => `${shard0.shardId}/${recordPosition(record.SequenceNumber ?? '')}` === unclaimed.owner.S,
    );
    expect(unclaimedIndex).toBeGreaterThanOrEqual(0);
    expect(shard0.indexOf(failure as string)).toBeLessThanOrEqual(unclaimedIndex);
    expect(fixture.logger.at('error')[0].attributes.eventId).toBe(unclaimed.pk.S.replace(/^event#/, ''));

    expect(await fixture.handle(shard0.batch(shard0.indexOf(failure as string)))).toEqual({ batchItemFailures: [] });
    expect(await fixture.handle(shard1.batch(0))).toEqual({ batchItemFailures: [] });
    const [actual, expected] = await fixture.compare();
    expect(actual).toEqual(expected);
  });
});
