import {
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { PipelineEvent } from '../functions/core/event-schema';
import { EMPTY_MEASURES, measuresOf, mergeAllMeasures } from '../functions/core/measures';
import type { PipelineConfig } from '../functions/core/pipeline-config';
import { realtimeUpdateRequest } from '../functions/core/realtime-update';
import { recordPosition } from '../functions/core/sequence-position';
import type { StreamRecord } from '../functions/core/stream-record';
import { createSpeedHandler, type SpeedHandler } from '../functions/speed/speed-handler';
import { emulatorClientConfig, startDynamoDb } from '../local/emulators';
import { toLambdaRecord } from '../local/kinesis-lambda-event';
import { createTable, expectedAnswers, realtimeAnswers, sortedEntries } from '../test/speed/realtime-table';
import { consistentReadUnits, itemSizeBytes, writeUnits } from './dynamodb-item-size';
import { percentile, writeReport } from './report';
import { MEASURE_VARIANTS, RequestGenerator, requestConfig, requestStream, USERS } from './sketch-workload';

const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/bench';
const CONCURRENCY = 16;
/** The stream's rate, Kinesis's ceiling for one shard; with two shards each takes half. */
const EVENTS_PER_SECOND = 1_000;
/** Lambda batches per shard: one second of the stream each (a batching window of 1 s). */
const SECONDS = 10;
/** 12:00:25 UTC: the ten seconds stay in one minute, so the minute view's items grow batch after batch. */
const START_MS = Date.UTC(2026, 11, 1, 12, 0, 25);
/**
 * One shard's warm container (the steady state), a new container for every batch (what a container knows of the
 * items is lost: the worst case of a cold start), and two shards' warm containers writing the same items.
 */
const SCENARIOS = [
  { name: 'one shard', shards: 1, newContainerPerBatch: false },
  { name: 'one shard, a new container every batch', shards: 1, newContainerPerBatch: true },
  { name: 'two shards (partition key: path)', shards: 2, newContainerPerBatch: false },
] as const;
/** Events in one item, for the sizes of a single item as it fills. */
const ITEM_FILLS = [1, 10, 100, 1_000, 10_000, 100_000];

type Item = Record<string, AttributeValue>;
const itemId = (key: Item) => `${key.pk?.S ?? ''}\u0000${key.sk?.S ?? ''}`;

/**
 * What one Lambda batch sent to the realtime table, per item: successful UpdateItems, failed conditions (each
 * followed by a strongly consistent GetItem) and the write units dynalite reported for the successful ones.
 */
class RequestLog {
  succeeded = new Map<string, number>();
  failed = new Map<string, number>();
  read = new Map<string, number>();
  dynaliteWriteUnits = 0;

  attachTo(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        const input = args.input as { Key?: Item; ReturnConsumedCapacity?: string };
        if (command === 'GetItemCommand' && input.Key !== undefined) bump(this.read, itemId(input.Key));
        if (command !== 'UpdateItemCommand' || input.Key === undefined) return next(args);
        // The handler does not ask for consumed capacity; asking changes nothing else of the request.
        input.ReturnConsumedCapacity = 'TOTAL';
        try {
          const result = await next(args);
          bump(this.succeeded, itemId(input.Key));
          const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity;
          this.dynaliteWriteUnits += consumed?.CapacityUnits ?? 0;
          return result;
        } catch (error) {
          if ((error as { name?: unknown }).name === 'ConditionalCheckFailedException') {
            bump(this.failed, itemId(input.Key));
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'logRealtimeRequests' },
    );
    return this;
  }

  /** The batch's log, and a fresh one for the next. */
  take(): { succeeded: Map<string, number>; failed: Map<string, number>; read: Map<string, number>; units: number } {
    const taken = { succeeded: this.succeeded, failed: this.failed, read: this.read, units: this.dynaliteWriteUnits };
    this.succeeded = new Map();
    this.failed = new Map();
    this.read = new Map();
    this.dynaliteWriteUnits = 0;
    return taken;
  }
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

const sum = (values: Iterable<number>) => {
  let total = 0;
  for (const value of values) total += value;
  return total;
};

async function scanSizes(client: DynamoDBClient, tableName: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  let startKey: Item | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    for (const item of page.Items ?? []) sizes.set(itemId(item), itemSizeBytes(item));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return sizes;
}

/** One shard's records as Lambda batches of `seconds` seconds each. */
function lambdaBatches(records: readonly StreamRecord[], batches: number): KinesisStreamEvent[] {
  const size = Math.ceil(records.length / batches);
  return Array.from({ length: batches }, (_, index) => ({
    Records: records.slice(index * size, (index + 1) * size).map((record) =>
      toLambdaRecord(
        {
          Data: Buffer.from(JSON.stringify(record.event)),
          PartitionKey: String(record.event.path),
          SequenceNumber: record.sequenceNumber,
          ApproximateArrivalTimestamp: new Date(record.arrivalMs),
        },
        { streamArn: STREAM_ARN, shardId: record.shardId },
      ),
    ),
  }));
}

interface RunCost {
  readonly events: number;
  readonly updates: number;
  readonly failedConditions: number;
  readonly reads: number;
  readonly writeUnits: number;
  readonly readUnits: number;
  readonly dynaliteWriteUnits: number;
  /** Write units of the successful updates alone, as computed here: what dynalite's figure is checked against. */
  readonly successfulWriteUnits: number;
  readonly handlerMs: number;
  /** Item sizes at the end, by view. */
  readonly sizesByView: Map<string, number[]>;
}

/**
 * The speed handler over a fresh table, one container per shard (or a new one for every batch), the shards' batches
 * interleaved (shard 0's first, shard 1's first, …, as two shards' Lambdas alternate), checked exact against the
 * brute force at the end.
 */
async function runSpeedLayer(
  client: DynamoDBClient,
  inspector: DynamoDBClient,
  log: RequestLog,
  config: PipelineConfig,
  records: readonly StreamRecord[],
  tableName: string,
  newContainerPerBatch: boolean,
): Promise<RunCost> {
  await createTable(client, tableName);
  const shards = [...new Set(records.map((record) => record.shardId))].sort();
  const batchesByShard = shards.map((shard) =>
    lambdaBatches(
      records.filter((record) => record.shardId === shard),
      SECONDS,
    ),
  );
  const container = (): SpeedHandler =>
    createSpeedHandler({
      config,
      dynamodb: client,
      realtimeTable: tableName,
      logger: new Logger({ serviceName: 'speed', logLevel: 'SILENT' }),
      metrics: { addMetric: () => undefined, publishStoredMetrics: () => undefined },
      concurrency: CONCURRENCY,
    });
  const handlers = shards.map(container);
  let before = new Map<string, number>();
  let updates = 0;
  let failedConditions = 0;
  let reads = 0;
  let units = 0;
  let readUnits = 0;
  let dynaliteWriteUnits = 0;
  let successfulWriteUnits = 0;
  let handlerMs = 0;
  log.take();
  for (let second = 0; second < SECONDS; second += 1) {
    for (const [shard, warm] of handlers.entries()) {
      const batch = batchesByShard[shard]?.[second];
      if (batch === undefined || batch.Records.length === 0) continue;
      const handler = newContainerPerBatch ? container() : warm;
      const started = performance.now();
      const response = await handler(batch);
      handlerMs += performance.now() - started;
      if (response.batchItemFailures.length > 0) throw new Error(`${tableName}: the speed handler reported a failure`);
      const sent = log.take();
      const after = await scanSizes(inspector, tableName);
      // A failed condition is charged like a write by the larger of the item's sizes; its read by the size before.
      const unitsOf = (id: string) => writeUnits(before.get(id) ?? 0, after.get(id) ?? 0);
      for (const [id, count] of sent.succeeded) {
        units += count * unitsOf(id);
        successfulWriteUnits += count * unitsOf(id);
      }
      for (const [id, count] of sent.failed) units += count * unitsOf(id);
      for (const [id, count] of sent.read) readUnits += count * consistentReadUnits(before.get(id) ?? 0);
      updates += sum(sent.succeeded.values()) + sum(sent.failed.values());
      failedConditions += sum(sent.failed.values());
      reads += sum(sent.read.values());
      dynaliteWriteUnits += sent.units;
      before = after;
    }
  }
  const actual = sortedEntries(await realtimeAnswers(inspector, tableName, config.views));
  const expected = sortedEntries(expectedAnswers(config.views, records, config.epochLengthMs));
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${tableName}: the realtime items differ from the brute force`);
  }
  const sizesByView = new Map<string, number[]>();
  for (const [id, size] of before) {
    const view = id.slice(0, id.indexOf('@'));
    sizesByView.set(view, [...(sizesByView.get(view) ?? []), size]);
  }
  return {
    events: records.length,
    updates,
    failedConditions,
    reads,
    writeUnits: units,
    readUnits,
    dynaliteWriteUnits,
    successfulWriteUnits,
    handlerMs,
    sizesByView,
  };
}

/**
 * One realtime item of path_status_minute holding `events` requests of one key, written as one update (what the
 * speed layer writes for a batch), read back and sized: how an item grows with its bucket's traffic.
 */
async function itemFillSizes(client: DynamoDBClient): Promise<(string | number)[][]> {
  const generator = new RequestGenerator(7);
  const largest = ITEM_FILLS[ITEM_FILLS.length - 1] ?? 0;
  const events: PipelineEvent[] = Array.from({ length: largest }, () => ({
    ...generator.next(START_MS),
    path: '/p/1',
    status: '200',
  }));
  await createTable(client, 'fills');
  const rows: (string | number)[][] = [
    [
      'measures',
      ...ITEM_FILLS.map((count) => `${count.toLocaleString('en-US')} event${count === 1 ? '' : 's'}: bytes (WCU)`),
    ],
  ];
  for (const [variantIndex, variant] of MEASURE_VARIANTS.entries()) {
    const view = requestConfig(variant.added).views[0];
    if (view === undefined) throw new Error('no view');
    const row: (string | number)[] = [variant.name];
    for (const [fillIndex, count] of ITEM_FILLS.entries()) {
      const measures = mergeAllMeasures(events.slice(0, count).map((event) => measuresOf(view, event)));
      const key = {
        view: view.name,
        dimensionKey: `${variantIndex}-${fillIndex}|200`,
        bucket: START_MS - (START_MS % 60_000),
        epoch: START_MS - (START_MS % 900_000),
      };
      const request = realtimeUpdateRequest({
        key,
        generation: 1,
        stored: view.stored,
        known: EMPTY_MEASURES,
        delta: measures,
        shardId: 'shardId-000000000000',
        watermark: recordPosition('49680507356827391140529022913163858325634908041368305666'),
        condition: { equals: null },
        extremes: {},
        expiresAt: Math.floor(START_MS / 1000) + 48 * 3600,
      });
      await client.send(new UpdateItemCommand({ TableName: 'fills', ...request }));
      const { Item } = await client.send(
        new GetItemCommand({ TableName: 'fills', Key: request.Key, ConsistentRead: true }),
      );
      if (Item === undefined) throw new Error('the item was not written');
      const bytes = itemSizeBytes(Item);
      row.push(`${bytes.toLocaleString('en-US')} (${writeUnits(0, bytes)})`);
    }
    rows.push(row);
  }
  const users = ITEM_FILLS.map((count) => new Set(events.slice(0, count).map((event) => String(event.user))).size);
  rows.push(['(distinct users among them)', ...users.map((count) => count.toLocaleString('en-US'))]);
  return rows;
}

export async function run(): Promise<string> {
  const started = Date.now();
  const dynamo = await startDynamoDb();
  // The handler's client, whose requests are logged; the inspector's scans and reads are not counted.
  const client = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  const inspector = new DynamoDBClient(emulatorClientConfig(dynamo.endpoint));
  const log = new RequestLog().attachTo(client);
  const costRows: (string | number)[][] = [
    [
      'scenario',
      'measures',
      'UpdateItem / event',
      'failed conditions / event',
      'GetItem / event',
      'WCU / event',
      'RCU / event',
      'WCU ÷ plain',
      'WCU / write',
      'events/s',
      'exact',
    ],
  ];
  const sizeRows: (string | number)[][] = [
    ['measures', 'view', 'items', 'mean bytes', 'p50 bytes', 'p99 bytes', 'max bytes', 'max WCU / write'],
  ];
  const checks: string[] = [];
  try {
    for (const [scenarioIndex, scenario] of SCENARIOS.entries()) {
      const records = requestStream({
        count: EVENTS_PER_SECOND * SECONDS,
        shards: scenario.shards,
        startMs: START_MS,
        perSecond: EVENTS_PER_SECOND,
        seed: 16,
      });
      let plainUnits = Number.NaN;
      for (const [variantIndex, variant] of MEASURE_VARIANTS.entries()) {
        const config = requestConfig(variant.added);
        const cost = await runSpeedLayer(
          client,
          inspector,
          log,
          config,
          records,
          `realtime-${scenarioIndex}-${variantIndex}`,
          scenario.newContainerPerBatch,
        );
        if (variantIndex === 0) plainUnits = cost.writeUnits;
        const perEvent = (value: number) => (value / cost.events).toFixed(3);
        costRows.push([
          scenario.name,
          variant.name,
          perEvent(cost.updates),
          perEvent(cost.failedConditions),
          perEvent(cost.reads),
          perEvent(cost.writeUnits),
          perEvent(cost.readUnits),
          (cost.writeUnits / plainUnits).toFixed(2),
          (cost.writeUnits / cost.updates).toFixed(2),
          Math.round(cost.events / (cost.handlerMs / 1000)),
          'yes',
        ]);
        checks.push(
          `${scenario.name}, ${variant.name}: ${cost.successfulWriteUnits} computed, ` +
            `${cost.dynaliteWriteUnits} reported`,
        );
        if (scenarioIndex === 0) {
          for (const [view, sizes] of [...cost.sizesByView].sort(([a], [b]) => (a < b ? -1 : 1))) {
            sizeRows.push([
              variant.name,
              view,
              sizes.length,
              Math.round(sum(sizes) / sizes.length),
              percentile(sizes, 50),
              percentile(sizes, 99),
              Math.max(...sizes),
              writeUnits(0, Math.max(...sizes)),
            ]);
          }
        }
        console.log(`  ${scenario.name}, ${variant.name}: ${(cost.writeUnits / cost.events).toFixed(3)} WCU/event`);
      }
    }
    const fillRows = await itemFillSizes(inspector);
    return writeReport({
      name: 'sketches',
      summary:
        'What sketch measures cost the speed layer: the real speed handler (one container per shard, ' +
        `${CONCURRENCY} requests in flight) against an in-process dynalite, over the same ` +
        `${(EVENTS_PER_SECOND * SECONDS).toLocaleString('en-US')} generated web requests (${SECONDS} s at ` +
        `${EVENTS_PER_SECOND.toLocaleString('en-US')} requests/s, Lambda batches of 1 s per shard), for three views ` +
        '(path_status_minute, country_hour, path_day) declaring the plain measures of the latency (count, sum, min, ' +
        'max, avg) and each sketch on top. Requests are counted by a client middleware; write units (WCU) are ' +
        'computed from the items read back after every batch, as DynamoDB sizes them (attribute names and values), ' +
        'one per started KB of the larger of the item before and after each write, failed conditional writes ' +
        'included; read units (RCU) are one per started 4 KB of each strongly consistent read.',
      table: costRows,
      notes: [
        'Requests: 50 paths and 30 countries by popularity (the k-th about 1/k as often), 4 statuses, 100,000 ' +
          'users skewed to regulars, log-normal latencies (whole ms; medians 20–200 ms by path, σ 0.9), one request ' +
          'in 50 late by up to 2 h. With two shards the partition key (the path) puts each path on one shard: ' +
          'path_status_minute and path_day items have one writer, country_hour items two.',
        'A failed condition is the replaced attributes (sums of squares and sketches, written as `known ⊕ delta` ' +
          'on condition that the item still holds `known`) or a min/max guess not holding; each costs the failed ' +
          'write, a strongly consistent GetItem and a second write. A container remembers what it last wrote to ' +
          'or read from an item; another shard writing the item in between, or a container that has not seen the ' +
          'item (a new container every batch: the worst case of cold starts), is what fails the condition.',
        'Every run was checked exact against the brute force per (view, epoch, key, bucket), quantiles and ' +
          'distinct estimates included (sums and sums of squares are of whole numbers, so exact in any order).',
        'events/s is the handler time alone (scans between batches excluded); dynalite is in the benchmark ' +
          'process and far slower than DynamoDB per request, so it compares the variants, not AWS throughput.',
        `Check of the computed units against dynalite's own ReturnConsumedCapacity, successful writes only ` +
          `(dynalite counts a number's bytes slightly differently): ${checks.join('; ')}.`,
        `Total run time: ${Math.round((Date.now() - started) / 1000)} s.`,
      ],
      sections: [
        {
          title: 'Item sizes at the end of the one-shard run',
          table: sizeRows,
          notes: [
            'Bytes as DynamoDB counts them (attribute names and values, keys and per-shard watermark included) ' +
              `after ${SECONDS} s of the stream: a minute item has seen at most ${SECONDS} s of its minute, an ` +
              'hour or day item a small part of its bucket; the next table shows how an item grows as it fills.',
          ],
        },
        {
          title: 'One item as it fills',
          table: fillRows,
          notes: [
            'One path_status_minute item holding the first N requests of one key (same generator; users among ' +
              `${USERS.toLocaleString('en-US')}), written as one update, read back and sized; WCU is what one ` +
              'update of an item that size costs (the larger of before and after, per started KB).',
            'distinct: the sparse form takes 4 bytes per non-zero register until it would reach the dense form ' +
              '(2^p + 1 bytes: 4,097 at precision 12, 16,385 at 14); histogram: `bin:count,` per non-empty bin, ' +
              'at most 553 bins here.',
          ],
        },
      ],
    });
  } finally {
    client.destroy();
    inspector.destroy();
    await dynamo.stop();
  }
}
