import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisStreamEvent } from 'aws-lambda';
import fc from 'fast-check';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import type { StreamRecord } from '../../functions/core/stream-record';
import { createSpeedHandler, type SpeedHandler } from '../../functions/speed/speed-handler';
import { emulatorClientConfig, startDynamoDb, type RunningEmulator } from '../../local/emulators';
import { toLambdaRecord } from '../../local/kinesis-lambda-event';
import { streamArbitrary } from '../support/stream-arbitraries';
import { ACCESS_DENIED, DynamoDbFaults, THROTTLED, type DynamoDbFault } from './dynamodb-faults';
import { reportedFailure } from './kinesis-batches';
import {
  createTable,
  expectedAnswers,
  expectedMeasures,
  realtimeAnswers,
  realtimeMeasures,
  sortedEntries,
} from './realtime-table';
import { SITE_SKETCH_VIEW } from './sketch-view';
import { RecordingLogger, RecordingMetrics } from '../support/recording-telemetry';

const config = definePipelineConfig({
  views: [
    ...DEFAULT_VIEW_DECLARATIONS,
    { name: 'device_day_once', dimensions: ['deviceId'], granularity: 'day', dedupeByEventId: true },
    {
      name: 'hot_site_minute',
      dimensions: ['site'],
      granularity: 'minute',
      measures: ['count', 'min'],
      filter: [{ field: 'value', op: 'gte', value: 0 }],
    },
    SITE_SKETCH_VIEW,
  ],
});
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/property';

type Action = 'deliver' | 'deliverTwice' | 'partialFailure' | 'crash' | 'coldStart';

interface Step {
  readonly shard: number;
  readonly size: number;
  readonly action: Action;
  /** Chooses which requests fail during a faulty delivery. */
  readonly faultSeed: number;
}

const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  shard: fc.nat(1),
  size: fc.integer({ min: 1, max: 15 }),
  action: fc.constantFrom<Action>('deliver', 'deliverTwice', 'partialFailure', 'partialFailure', 'crash', 'coldStart'),
  faultSeed: fc.nat(1_000_000),
});

/** Roughly one request in four fails: mostly throttling (retried, sometimes past the retry budget), some denied. */
function faultFor(seed: number, index: number): DynamoDbFault | undefined {
  const roll = (Math.imul(index + 1, 2_654_435_761) + seed) >>> 0;
  if (roll % 4 !== 0) return undefined;
  return (roll >>> 2) % 3 === 0 ? ACCESS_DENIED : THROTTLED;
}

/** A record as Lambda's event source mapping delivers it, via the same builder the local runtime uses. */
function lambdaRecord(record: StreamRecord) {
  return toLambdaRecord(
    {
      Data: Buffer.from(JSON.stringify(record.event)),
      PartitionKey: record.event.deviceId as string,
      SequenceNumber: record.sequenceNumber,
      ApproximateArrivalTimestamp: new Date(record.arrivalMs),
    },
    { streamArn: STREAM_ARN, shardId: record.shardId },
  );
}

/** Where the checkpoint moves on a reported failure: the failed record, which must be in the batch. */
function batchIndexOf(
  all: readonly { kinesis: { sequenceNumber: string } }[],
  batch: readonly { kinesis: { sequenceNumber: string } }[],
  failure: string,
): number {
  if (!batch.some((record) => record.kinesis.sequenceNumber === failure)) {
    throw new Error(`reported failure ${failure} is not a record of the batch`);
  }
  return all.findIndex((record) => record.kinesis.sequenceNumber === failure);
}

let dynamo: RunningEmulator;
let runs = 0;

beforeAll(async () => {
  dynamo = await startDynamoDb();
});
afterAll(async () => {
  await dynamo.stop();
});

/**
 * Plays a schedule the way the event source mapping could: per shard in order from a checkpoint; a reported
 * failure moves the checkpoint to it and the next batch starts there (often reaching past the old end); a crashed
 * invocation (its partial writes stay) is followed by a batch at most half its size (bisection); a cold start
 * drops the container's memory. Then each shard is drained without faults.
 */
async function play(records: readonly StreamRecord[], steps: readonly Step[]) {
  runs += 1;
  const dynamodb = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  const faults = new DynamoDbFaults().attachTo(dynamodb);
  const realtimeTable = `property-${runs}-realtime`;
  const dedupTable = `property-${runs}-dedup`;
  await createTable(dynamodb, realtimeTable);
  await createTable(dynamodb, dedupTable);
  const newHandler = (): SpeedHandler =>
    createSpeedHandler({
      config,
      dynamodb,
      realtimeTable,
      dedupTable,
      logger: new RecordingLogger(),
      metrics: new RecordingMetrics(),
      concurrency: 4,
      // Two attempts only, so that throttling sometimes outlasts the retry budget and is reported.
      retry: { maxAttempts: 2, sleep: async () => undefined },
    });
  let handle = newHandler();

  const shards = [0, 1].map((shard) => {
    const lambdaRecords = records.filter((record) => record.shardId.endsWith(String(shard))).map(lambdaRecord);
    return { lambdaRecords, checkpoint: 0, bisectLimit: Infinity };
  });
  const invoke = (event: KinesisStreamEvent) => handle(event);
  const deliver = async (shard: (typeof shards)[number], size: number, faultSeed?: number) => {
    const batch = shard.lambdaRecords.slice(shard.checkpoint, shard.checkpoint + size);
    faults.failWhen(({ index }) => (faultSeed === undefined ? undefined : faultFor(faultSeed, index)));
    const failure = reportedFailure(await invoke({ Records: batch }));
    faults.heal();
    if (failure === undefined) shard.checkpoint += batch.length;
    else shard.checkpoint = batchIndexOf(shard.lambdaRecords, batch, failure);
  };

  for (const step of steps) {
    const shard = shards[step.shard];
    const size = Math.min(step.size, shard.bisectLimit);
    if (shard.checkpoint >= shard.lambdaRecords.length) continue;
    shard.bisectLimit = Infinity;
    switch (step.action) {
      case 'deliver':
        await deliver(shard, size);
        break;
      case 'deliverTwice': {
        const start = shard.checkpoint;
        await deliver(shard, size);
        shard.checkpoint = start;
        await deliver(shard, size);
        break;
      }
      case 'partialFailure':
        await deliver(shard, size, step.faultSeed);
        break;
      case 'crash': {
        const batch = shard.lambdaRecords.slice(shard.checkpoint, shard.checkpoint + size);
        faults.failWhen(({ index }) => faultFor(step.faultSeed, index));
        await invoke({ Records: batch });
        faults.heal();
        shard.bisectLimit = Math.ceil(batch.length / 2);
        break;
      }
      case 'coldStart':
        handle = newHandler();
        break;
    }
  }
  for (const shard of shards) {
    for (let attempt = 0; shard.checkpoint < shard.lambdaRecords.length; attempt += 1) {
      if (attempt > shard.lambdaRecords.length) throw new Error('a delivery without faults keeps failing');
      await deliver(shard, 10);
    }
  }

  const answers = await realtimeAnswers(dynamodb, realtimeTable, config.views);
  const measures = await realtimeMeasures(dynamodb, realtimeTable, config.views);
  dynamodb.destroy();
  return { answers: sortedEntries(answers), measures: sortedEntries(measures) };
}

describe('speed layer under random redelivery schedules', () => {
  // Law: whatever the event source mapping does (duplicate deliveries, partial failures reported and retried
  // from the report, crashed invocations with partial writes then bisected, cold containers), once every record
  // has been delivered without a failure the realtime items equal the brute force over the distinct records, per
  // (view, key, bucket, epoch), including the eventId-de-duplicated view and the sketch view. 25 runs: each plays up to 16 steps with
  // about a quarter of requests failing against dynalite (1-2 s per run), and the fault paths are exercised many
  // times within every run; the example scenarios cover the named cases deterministically.
  it('realtime items equal the brute force over the distinct records after any redelivery schedule', async () => {
    await fc.assert(
      fc.asyncProperty(
        streamArbitrary({ minLength: 1, maxLength: 30 }),
        fc.array(stepArbitrary, { maxLength: 16 }),
        async ({ records }, steps) => {
          const actual = await play(records, steps);
          // The stored measures register for register and bin for bin, and the answers served from them.
          expect(actual.measures).toEqual(sortedEntries(expectedMeasures(config.views, records, config.epochLengthMs)));
          expect(actual.answers).toEqual(sortedEntries(expectedAnswers(config.views, records, config.epochLengthMs)));
        },
      ),
      { numRuns: 25 },
    );
  });
});
