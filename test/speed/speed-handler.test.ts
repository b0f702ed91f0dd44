import { KinesisClient } from '@aws-sdk/client-kinesis';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { aggregateKeyOf } from '../../functions/core/fold';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { watermarkAttribute } from '../../functions/core/realtime-update';
import { realtimeItemKey } from '../../functions/core/storage-keys';
import { SPEED_METRICS } from '../../functions/speed/speed-handler';
import {
  emulatorClientConfig,
  startDynamoDb,
  startKinesis,
  type KinesisEmulator,
  type RunningEmulator,
} from '../../local/emulators';
import { ACCESS_DENIED, INTERNAL_ERROR, THROTTLED } from './dynamodb-faults';
import { generateEvents, lateEvents, payloadsOf } from './generated-events';
import { reportedFailure } from './kinesis-batches';
import { expectedAnswers, realtimeAnswers, scanTable, sortedEntries } from './realtime-table';
import type { GenerationState } from '../../functions/core/generation-manifest';
import { speedFixture, type FixtureOptions } from './speed-fixture';
import { SITE_SKETCH_VIEW } from './sketch-view';

const config = definePipelineConfig({
  views: [
    ...DEFAULT_VIEW_DECLARATIONS,
    {
      name: 'warm_device_hour',
      dimensions: ['deviceId'],
      granularity: 'hour',
      measures: ['count', 'max'],
      filter: [
        { field: 'metric', op: 'eq', value: 'temperature' },
        { field: 'value', op: 'gte', value: 0 },
      ],
    },
    SITE_SKETCH_VIEW,
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

/** A fixture whose two shards hold `count0` and `count1` generated events. */
async function withEvents(count0: number, count1 = 0, seed = 1, handler?: FixtureOptions['handler']) {
  streams += 1;
  const first = payloadsOf(generateEvents({ count: count0, seed }));
  const second = payloadsOf(generateEvents({ count: count1, seed: seed + 1000 }));
  return speedFixture({
    kinesis,
    dynamoEndpoint: dynamo.endpoint,
    config,
    name: `speed-${streams}`,
    shard0: first.payloads,
    shard1: second.payloads,
    eventsByPayload: new Map([...first.eventsByPayload, ...second.eventsByPayload]),
    handler,
  });
}

describe('speed layer handler against dynalite and kinesis-local', () => {
  it('the same batch delivered twice is applied once', async () => {
    const fixture = await withEvents(60, 20);
    const [shard0, shard1] = fixture.shards;
    expect(await fixture.handle(shard0.batch(0))).toEqual({ batchItemFailures: [] });
    const writtenOnce = fixture.metrics.total(SPEED_METRICS.itemsWritten);
    expect(await fixture.handle(shard0.batch(0))).toEqual({ batchItemFailures: [] });
    expect(await fixture.handle(shard1.batch(0))).toEqual({ batchItemFailures: [] });

    const [actual, expected] = await fixture.compare();
    expect(actual).toEqual(expected);
    // The second delivery wrote nothing on shard 0's items: each was found already applied.
    const secondDelivery = fixture.logger.at('info')[1].attributes;
    expect(secondDelivery).toMatchObject({ itemsWritten: 0, itemWriteFailures: 0 });
    expect(secondDelivery.itemsAlreadyApplied).toBeGreaterThan(0);
    expect(writtenOnce).toBeGreaterThan(10);
  });

  it('a redelivery from the reported failure that extends past the original batch is applied exactly once', async () => {
    const fixture = await withEvents(80);
    const [shard] = fixture.shards;
    // A fleet-wide daily item: many records of the batch go into it, so where the report lands matters.
    let failed = false;
    fixture.faults.failWhen(({ command, input }) => {
      const pk = (input.Key as Record<string, { S: string }>).pk.S;
      if (command !== 'UpdateItemCommand' || failed || !pk.startsWith('metric_day@')) return undefined;
      failed = true;
      return ACCESS_DENIED;
    });
    const failure = reportedFailure(await fixture.handle(shard.batch(0, 50)));
    fixture.faults.heal();
    expect(failure).toBeDefined();

    // The report is at the first record of the failed item: everything below it is applied.
    const failedKey = fixture.faults.injected[0].input.Key as Record<string, { S: string }>;
    const records = fixture.records().slice(0, 50);
    const firstOfFailedItem = records.findIndex((record) =>
      config.views.some((view) => {
        const key = aggregateKeyOf(view, record, config.epochLengthMs);
        if (key === undefined) return false;
        const { pk, sk } = realtimeItemKey(key, 1);
        return pk === failedKey.pk.S && sk === failedKey.sk.S;
      }),
    );
    expect(shard.indexOf(failure as string)).toBe(firstOfFailedItem);

    expect(await fixture.handle(shard.batch(shard.indexOf(failure as string), 80))).toEqual({ batchItemFailures: [] });
    const [actual, expected] = await fixture.compare();
    expect(actual).toEqual(expected);
  });

  it('a failed whole batch, then its bisected halves, then the rest are applied exactly once', async () => {
    const fixture = await withEvents(80);
    const [shard] = fixture.shards;
    // The whole batch writes part of its items, then the invocation fails (as on a timeout): no report is used.
    fixture.faults.failWhen(({ command, index }) =>
      command === 'UpdateItemCommand' && index % 4 === 0 ? ACCESS_DENIED : undefined,
    );
    await fixture.handle(shard.batch(0, 64));
    fixture.faults.heal();
    expect(fixture.faults.injected.length).toBeGreaterThan(3);

    expect(await fixture.handle(shard.batch(0, 32))).toEqual({ batchItemFailures: [] });
    expect(await fixture.handle(shard.batch(32, 64))).toEqual({ batchItemFailures: [] });
    expect(await fixture.handle(shard.batch(64))).toEqual({ batchItemFailures: [] });
    const [actual, expected] = await fixture.compare();
    expect(actual).toEqual(expected);
  });

  it('throttling mid-batch is retried; a non-retryable error is reported, and the redelivery from it is exact', async () => {
    const fixture = await withEvents(70);
    const [shard] = fixture.shards;
    const faults = new Map([
      [3, THROTTLED],
      [7, THROTTLED],
      [8, THROTTLED],
      [11, INTERNAL_ERROR],
      [15, ACCESS_DENIED],
      [19, ACCESS_DENIED],
    ]);
    fixture.faults.failWhen(({ command, index }) => (command === 'UpdateItemCommand' ? faults.get(index) : undefined));
    const failure = reportedFailure(await fixture.handle(shard.batch(0)));
    fixture.faults.heal();

    expect(fixture.faults.injected.map(({ fault }) => fault.type)).toEqual([
      'ProvisionedThroughputExceededException',
      'ProvisionedThroughputExceededException',
      'ProvisionedThroughputExceededException',
      'InternalServerError',
      'AccessDeniedException',
      'AccessDeniedException',
    ]);
    expect(failure).toBeDefined();
    expect(fixture.metrics.total(SPEED_METRICS.itemWriteFailures)).toBe(2);
    expect(fixture.logger.at('error')).toHaveLength(2);
    // One report, at the lower of the two failed items' first records.
    const lowestOfFailed = fixture.logger
      .at('error')
      .map((line) => BigInt(line.attributes.lowestSequenceNumber as string))
      .reduce((a, b) => (a < b ? a : b));
    expect(failure).toBe(lowestOfFailed.toString());
    expect(fixture.logger.at('error')[0].attributes.error).toMatch(/AccessDeniedException/);

    expect(await fixture.handle(shard.batch(shard.indexOf(failure as string)))).toEqual({ batchItemFailures: [] });
    const [actual, expected] = await fixture.compare();
    expect(actual).toEqual(expected);
  });

  it('two shards processed in interleaved, concurrent batches share items exactly', async () => {
    const fixture = await withEvents(90, 90, 7);
    const [shard0, shard1] = fixture.shards;
    for (let start = 0; start < 90; start += 30) {
      // One batch in flight per shard, the shards in parallel, as the event source mapping runs them.
      const responses = await Promise.all([
        fixture.handle(shard0.batch(start, start + 30)),
        fixture.handle(shard1.batch(start, start + 30)),
      ]);
      expect(responses).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
    }
    // A late redelivery on one shard, after the other shard moved the shared items on.
    expect(await fixture.handle(shard1.batch(20, 70))).toEqual({ batchItemFailures: [] });

    const [actual, expected] = await fixture.compare();
    expect(actual).toEqual(expected);
    const shared = (await scanTable(fixture.dynamodb, fixture.realtimeTable)).filter(
      (item) =>
        item[watermarkAttribute(shard0.shardId)] !== undefined &&
        item[watermarkAttribute(shard1.shardId)] !== undefined,
    );
    expect(shared.length).toBeGreaterThan(3);
  });

  it('sketch measures (distinct devices and events, a histogram, a stddev) equal the brute force register for register and bin for bin, across redeliveries on two shards', async () => {
    // Many devices within a minute or two, so that the sites' sketches hold more than a handful of registers.
    streams += 1;
    const first = payloadsOf(generateEvents({ count: 120, seed: 5, devices: 60, maxAgeMs: 60_000 }));
    const second = payloadsOf(generateEvents({ count: 120, seed: 6, devices: 60, maxAgeMs: 60_000 }));
    const fixture = await speedFixture({
      kinesis,
      dynamoEndpoint: dynamo.endpoint,
      config,
      name: `speed-${streams}`,
      shard0: first.payloads,
      shard1: second.payloads,
      eventsByPayload: new Map([...first.eventsByPayload, ...second.eventsByPayload]),
    });
    const [shard0, shard1] = fixture.shards;
    const deliveries: [typeof shard0, number, number][] = [
      [shard0, 0, 40],
      [shard1, 0, 50],
      // The same batch again, then batches overlapping what was applied, on both shards.
      [shard0, 0, 40],
      [shard1, 30, 90],
      [shard0, 20, 80],
      [shard1, 60, 120],
      [shard0, 80, 120],
      [shard0, 50, 120],
    ];
    for (const [shard, from, to] of deliveries) {
      expect(await fixture.handle(shard.batch(from, to))).toEqual({ batchItemFailures: [] });
    }

    const [stored, expectedStored] = await fixture.compareStored();
    expect(stored).toEqual(expectedStored);
    const [actual, expected] = await fixture.compare();
    expect(actual).toEqual(expected);
    // The sites' items share both shards, and their sketches are not trivial.
    const sketchItems = (stored as [string, { distinct: Record<string, ReadonlyMap<number, number>> }][]).filter(
      ([key]) => key.startsWith(`${SITE_SKETCH_VIEW.name}|`),
    );
    expect(sketchItems.length).toBeGreaterThan(0);
    const sketchView = config.views.find((view) => view.name === SITE_SKETCH_VIEW.name);
    const uniqueEvents = sketchView?.measures.find((measure) => measure.name === 'uniqueEvents')?.attribute ?? '';
    expect(Math.max(...sketchItems.map(([, measures]) => measures.distinct[uniqueEvents]?.size ?? 0))).toBeGreaterThan(
      30,
    );
  });

  it('late events count in the epoch they arrived in; poison records are skipped, counted and never reported', async () => {
    streams += 1;
    const onTime = payloadsOf(generateEvents({ count: 40, seed: 11 }));
    const late = payloadsOf(lateEvents(30, 12, 30));
    const valid = generateEvents({ count: 1, seed: 13 })[0];
    const poison: (string | Uint8Array)[] = [
      'not json at all',
      '[1, 2, 3]',
      JSON.stringify({ ...valid, eventId: 'no-device', deviceId: undefined }),
      JSON.stringify({ ...valid, eventId: 'string-value', value: 'hot' }),
      JSON.stringify({ ...valid, eventId: 'zoneless', ts: '2026-11-24T01:30:00' }),
      Buffer.concat([Buffer.from([0xf3, 0x89, 0x9a, 0xc2]), Buffer.from(JSON.stringify(valid))]),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    ];
    const mixed = [...onTime.payloads, ...late.payloads];
    // The first record is corrupted in its Lambda event below; '{}' fails the schema on every field.
    const shard0 = [
      'to be corrupted',
      ...mixed.slice(0, 20),
      ...poison.slice(0, 4),
      ...mixed.slice(20, 50),
      ...poison.slice(4),
      '{}',
    ];
    const fixture = await speedFixture({
      kinesis,
      dynamoEndpoint: dynamo.endpoint,
      config,
      name: `speed-${streams}`,
      shard0: [...shard0, ...mixed.slice(50)],
      eventsByPayload: new Map([...onTime.eventsByPayload, ...late.eventsByPayload]),
    });
    const [shard] = fixture.shards;
    const first = shard.batch(0, 40);
    // Kinesis always delivers valid base64; a record that is not must still not block the shard.
    first.Records[0].kinesis.data = '@@not base64@@';

    expect(await fixture.handle(first)).toEqual({ batchItemFailures: [] });
    expect(await fixture.handle(shard.batch(40))).toEqual({ batchItemFailures: [] });

    const records = fixture.records();
    expect(records).toHaveLength(70);
    const [actual, expected] = await fixture.compare();
    expect(actual).toEqual(expected);
    expect(fixture.metrics.total(SPEED_METRICS.recordsRejected)).toBe(poison.length + 2);
    expect(fixture.metrics.total(SPEED_METRICS.recordsReceived)).toBe(shard.records.length);
    const rejections = fixture.logger.at('warn').map((line) => line.attributes);
    expect(rejections).toHaveLength(poison.length + 2);
    for (const rejection of rejections) expect(typeof rejection.sequenceNumber).toBe('string');
    expect(rejections.map((rejection) => rejection.reason)).toEqual(
      expect.arrayContaining([
        'data: not valid base64',
        'KPL aggregated records are not supported',
        'data: not valid UTF-8',
        'deviceId: required',
        'value: expected a finite number',
        expect.stringMatching(/^event: malformed JSON/),
        'event: expected a JSON object',
        expect.stringMatching(/^ts: /),
      ]),
    );
    // Late events are bucketed by event time, hours before the epoch they arrived in.
    const lateMinutes = (actual as [string, unknown][]).filter(([key]) => {
      const [view, epoch] = key.split('|');
      const bucket = Number(key.slice(key.lastIndexOf('@') + 1));
      return view === 'device_metric_minute' && Number(epoch) - bucket > 3_600_000;
    });
    expect(lateMinutes.length).toBeGreaterThan(10);
  });

  it('writes the records from a replay hand-off into the building generation too, and after the flip leaves out those its backfill holds', async () => {
    let state: Omit<GenerationState, 'view'> = {
      served: 1,
      servedFromMs: null,
      building: { generation: 2, handoffMs: 0, startedAt: 0, backfilledItems: null },
      expiring: null,
    };
    const fixture = await withEvents(40, 40, 71, { generations: { stateOf: async (view) => ({ view, ...state }) } });
    const [shard0, shard1] = fixture.shards;
    expect(await fixture.handle(shard0.batch(0))).toEqual({ batchItemFailures: [] });
    const onShard0 = sortedEntries(
      expectedAnswers(
        config.views,
        fixture.records().filter((record) => record.shardId === shard0.shardId),
        config.epochLengthMs,
      ),
    );
    for (const generation of [1, 2]) {
      expect(
        sortedEntries(await realtimeAnswers(fixture.dynamodb, fixture.realtimeTable, config.views, generation)),
      ).toEqual(onShard0);
    }

    // Flipped to 2 with a hand-off after every record: a consumer this far behind leaves them to the backfill.
    state = { served: 2, servedFromMs: Date.now() + 3_600_000, building: null, expiring: 1 };
    expect(await fixture.handle(shard1.batch(0))).toEqual({ batchItemFailures: [] });
    expect(sortedEntries(await realtimeAnswers(fixture.dynamodb, fixture.realtimeTable, config.views, 2))).toEqual(
      onShard0,
    );
    expect(sortedEntries(await realtimeAnswers(fixture.dynamodb, fixture.realtimeTable, config.views, 1))).toEqual(
      onShard0,
    );
  });
});
