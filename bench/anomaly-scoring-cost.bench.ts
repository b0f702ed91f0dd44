import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  DynamoDBClient,
  ScanCommand,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Logger } from '@aws-lambda-powertools/logger';
import type { KinesisStreamEvent } from 'aws-lambda';
import { EventBridgeAnomalyNotifier } from '../functions/adapters/anomaly-notifier';
import { AnomalyStore } from '../functions/adapters/anomaly-store';
import { BaselineReader } from '../functions/adapters/baseline-reader';
import { mapConcurrently } from '../functions/adapters/concurrent-map';
import { ViewReader } from '../functions/adapters/view-reader';
import { DEFAULT_VIEW_DECLARATIONS } from '../functions/core/default-views';
import type { IotEvent } from '../functions/core/event-schema';
import { definePipelineConfig, type PipelineConfig } from '../functions/core/pipeline-config';
import { DEFAULT_BASELINE_STALENESS_MS } from '../functions/speed/baseline-cache';
import { createSpeedHandler, SPEED_METRICS, type SpeedHandler } from '../functions/speed/speed-handler';
import { emulatorClientConfig, startDynamoDb, startEventBus } from '../local/emulators';
import { toLambdaRecord } from '../local/kinesis-lambda-event';
import { ensureTable } from '../local/provision';
import { RecordingMetrics } from '../test/support/recording-telemetry';
import { percentile, writeReport, type BenchReport } from './report';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/bench';
const SHARD = 'shardId-000000000000';
const FIRST_SEQUENCE = 49_680_507_356_827_391_140_529_022_913_163_858_325_634_908_041_368_305_666n;
const SEED = 17;

/** 5 sites × 4 metrics: the 20 keys of the scored hour view; 4 devices a site, so 80 keys of the minute view. */
const SITES = 5;
const METRICS = ['temperature', 'humidity', 'pressure', 'co2'] as const;
const DEVICES_PER_SITE = 4;
const KEYS = SITES * METRICS.length;
/**
 * Readings per key and hour of history in the live hour's slot: 7 days give 35 per key, past minEvents (30), so
 * every live reading is scored. Every other hour holds one reading per key: the window's 168 buckets all hold an
 * item, as the baseline Query reads them, and the history stays quick to load.
 */
const HISTORY_PER_KEY_HOUR = 5;
const TRAINING_WINDOW_DAYS = 7;
/** Lambda batches of one shard, as the event source mapping builds them. */
const BATCH_SIZE = 100;
const LIVE_BATCHES = 20;
/**
 * The live stream's rate on its shard, in simulated arrival time: the clock of the baseline cache and of the
 * manifest cache, so that what the caches save does not depend on how fast the machine runs the bench. 25 events/s
 * makes the 20 batches 80 s of stream: every key's baseline is read again once its 60 s are up.
 */
const LIVE_EVENTS_PER_SECOND = 25;
/** Noise σ of every key; spikes are 6 to 10 σ either way, on this share of live readings. */
const NOISE = 2;
const SPIKE_SHARE = 0.005;

/**
 * The runs, in order, each on its own copy of the history with a fresh consumer (a new container): without
 * scoring, with scoring and the default cache, alternated so that neither always runs first on a warmer process,
 * then with the cache's staleness at 0 (a baseline read for every reading: fewer batches, each read costs a Query).
 */
const RUNS = [
  { variant: 'without scoring', maxStalenessMs: undefined, scoring: false, batches: LIVE_BATCHES },
  { variant: 'with scoring', maxStalenessMs: DEFAULT_BASELINE_STALENESS_MS, scoring: true, batches: LIVE_BATCHES },
  { variant: 'with scoring', maxStalenessMs: DEFAULT_BASELINE_STALENESS_MS, scoring: true, batches: LIVE_BATCHES },
  { variant: 'without scoring', maxStalenessMs: undefined, scoring: false, batches: LIVE_BATCHES },
  { variant: 'with scoring, cache staleness 0', maxStalenessMs: 0, scoring: true, batches: 5 },
] as const;
type Variant = (typeof RUNS)[number]['variant'];

const minuteView = DEFAULT_VIEW_DECLARATIONS.find((view) => view.name === 'device_metric_minute');
const hourView = DEFAULT_VIEW_DECLARATIONS.find((view) => view.name === 'site_metric_hour');
if (minuteView === undefined || hourView === undefined) throw new Error('the default views changed: see the bench');
const config = definePipelineConfig({
  views: [
    minuteView,
    {
      ...hourView,
      baseline: {
        measure: 'value',
        seasonality: 'hourOfDay',
        trainingWindowDays: TRAINING_WINDOW_DAYS,
        minEvents: 30,
        threshold: 4,
      },
    },
  ],
});
/** History holds only the scored view's items: the minute view's history lies in minutes the live batches never touch. */
const historyConfig: PipelineConfig = { ...config, views: config.views.filter((view) => view.baseline !== undefined) };

/** A reproducible generator: uniform in [0, 1), and normal by Box-Muller. */
function randomSource(seed: number) {
  let state = seed;
  const uniform = () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 4_294_967_296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

interface Reading {
  readonly event: IotEvent;
  readonly arrivalMs: number;
  readonly spike: boolean;
}

/** What a key reads at an hour: its level, and a daily swing of ±5 σ. */
function expectedValue(key: number, atMs: number): number {
  const hour = Math.floor((atMs % DAY_MS) / HOUR_MS);
  return 20 + 15 * key + 5 * NOISE * Math.sin((2 * Math.PI * hour) / 24);
}

function readingOf(
  random: ReturnType<typeof randomSource>,
  eventId: string,
  key: number,
  ts: number,
  spike: boolean,
): IotEvent {
  const site = key % SITES;
  const metric = METRICS[Math.floor(key / SITES)];
  const device = Math.floor(random.uniform() * DEVICES_PER_SITE);
  const offset = spike
    ? (random.uniform() < 0.5 ? -1 : 1) * (6 + 4 * random.uniform()) * NOISE
    : random.normal() * NOISE;
  return {
    eventId,
    deviceId: `device-${site}-${device}`,
    site: `site-${site}`,
    metric,
    value: Math.round((expectedValue(key, ts) + offset) * 100) / 100,
    ts,
  };
}

/** Every key's readings over the training window before the live hour, at arrival order (up to 2 s of delay). */
function historyReadings(liveHourMs: number): Reading[] {
  const random = randomSource(SEED);
  const readings: Reading[] = [];
  const first = liveHourMs - TRAINING_WINDOW_DAYS * DAY_MS;
  for (let hour = first; hour < liveHourMs; hour += HOUR_MS) {
    const perKey = hour % DAY_MS === liveHourMs % DAY_MS ? HISTORY_PER_KEY_HOUR : 1;
    for (let key = 0; key < KEYS; key += 1) {
      for (let index = 0; index < perKey; index += 1) {
        const ts = hour + Math.floor(random.uniform() * HOUR_MS);
        const event = readingOf(random, `history-${readings.length}`, key, ts, false);
        readings.push({ event, arrivalMs: ts + Math.floor(random.uniform() * 2_000), spike: false });
      }
    }
  }
  return readings.sort((a, b) => a.arrivalMs - b.arrivalMs);
}

/** One run's live batches (the first `batches` of one stream): readings of random keys at LIVE_EVENTS_PER_SECOND, from 10 minutes into the live hour. */
function liveBatches(run: number, batches: number, liveHourMs: number): Reading[][] {
  // The same readings in every run (the variants compare on equal terms), under eventIds of the run's own.
  const random = randomSource(SEED * 1_000);
  const start = liveHourMs + 10 * MINUTE_MS;
  return Array.from({ length: batches }, (_, batch) =>
    Array.from({ length: BATCH_SIZE }, (_, index) => {
      const arrivalMs = start + Math.round(((batch * BATCH_SIZE + index) * 1_000) / LIVE_EVENTS_PER_SECOND);
      const ts = arrivalMs - Math.floor(random.uniform() * 2_000);
      const spike = random.uniform() < SPIKE_SHARE;
      const key = Math.floor(random.uniform() * KEYS);
      return { event: readingOf(random, `live-${run}-${batch}-${index}`, key, ts, spike), arrivalMs, spike };
    }),
  );
}

/** Kinesis sequence numbers of the one shard, increasing across history and every run. */
let sequence = 0n;

function lambdaBatch(readings: readonly Reading[]): KinesisStreamEvent {
  return {
    Records: readings.map(({ event, arrivalMs }) => {
      sequence += 1n;
      return toLambdaRecord(
        {
          Data: Buffer.from(JSON.stringify(event)),
          PartitionKey: event.deviceId,
          SequenceNumber: (FIRST_SEQUENCE + sequence * 1_000n).toString(),
          ApproximateArrivalTimestamp: new Date(arrivalMs),
        },
        { streamArn: STREAM_ARN, shardId: SHARD },
      );
    }),
  };
}

/**
 * Counts the requests a client sends, by command and by `command@table`, and the capacity units dynalite reports
 * for them: the consumer does not ask for consumed capacity, so this asks on its behalf (nothing else of a request
 * changes). A request that fails (a failed condition) is counted, with no units.
 */
class RequestCounter {
  private counts = new Map<string, number>();
  private units = new Map<string, number>();

  attachTo(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName).replace(/Command$/, '');
        const input = args.input as { TableName?: unknown; ReturnConsumedCapacity?: string };
        const table = typeof input.TableName === 'string' ? input.TableName : undefined;
        const names = table === undefined ? [command] : [command, `${command}@${table}`];
        for (const name of names) this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
        if (table !== undefined) input.ReturnConsumedCapacity = 'TOTAL';
        const result = await next(args);
        const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity;
        for (const name of names) this.units.set(name, (this.units.get(name) ?? 0) + (consumed?.CapacityUnits ?? 0));
        return result;
      },
      { step: 'initialize', name: 'countRequests' },
    );
    return this;
  }

  /** The counts and units since the last call, and starts again from zero. */
  take(): { counts: Map<string, number>; units: Map<string, number> } {
    const taken = { counts: this.counts, units: this.units };
    this.counts = new Map();
    this.units = new Map();
    return taken;
  }
}

/** Copies every item of one table to another: each run starts from the same history. */
async function copyTable(client: DynamoDBClient, from: string, to: string): Promise<number> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: from, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  const chunks: WriteRequest[][] = [];
  for (let index = 0; index < items.length; index += 25) {
    chunks.push(items.slice(index, index + 25).map((Item) => ({ PutRequest: { Item } })));
  }
  await mapConcurrently(chunks, 8, async (chunk) => {
    let pending: WriteRequest[] | undefined = chunk;
    while (pending !== undefined && pending.length > 0) {
      const response: BatchWriteItemCommandOutput = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [to]: pending } }),
      );
      pending = response.UnprocessedItems?.[to];
    }
  });
  return items.length;
}

interface RunResult {
  readonly variant: Variant;
  readonly events: number;
  readonly spikes: number;
  readonly counts: Map<string, number>;
  readonly units: Map<string, number>;
  readonly putEvents: number;
  readonly busEvents: number;
  /** Anomalies published that were injected spikes, and those that were not (noise past the threshold). */
  readonly spikesFound: number;
  readonly metrics: RecordingMetrics;
  readonly latencies: number[];
}

const silent = () => new Logger({ serviceName: 'speed', logLevel: 'SILENT' });

async function deliver(handler: SpeedHandler, batch: KinesisStreamEvent, what: string): Promise<void> {
  const response = await handler(batch);
  if (response.batchItemFailures.length > 0) throw new Error(`${what}: the speed handler reported a failure`);
}

export async function run(): Promise<string> {
  const started = Date.now();
  const [dynamo, bus] = await Promise.all([startDynamoDb(), startEventBus()]);
  const dynamodb = new DynamoDBClient({ ...emulatorClientConfig(dynamo.endpoint), maxAttempts: 1 });
  const eventBridge = new EventBridgeClient({ ...emulatorClientConfig(bus.endpoint), maxAttempts: 1 });
  const requests = new RequestCounter().attachTo(dynamodb);
  // The notifier sends nothing but PutEvents.
  let putEvents = 0;
  eventBridge.middlewareStack.add(
    (next) => async (args) => {
      putEvents += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countPutEvents' },
  );
  // The last complete hour: every simulated arrival lies in the past.
  const liveHourMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
  const results: RunResult[] = [];
  const history = historyReadings(liveHourMs);
  let historyItems = 0;
  try {
    const [manifestTable, anomalyTable, historyTable] = ['manifest', 'anomalies', 'history'];
    await Promise.all([manifestTable, anomalyTable, historyTable].map((name) => ensureTable(dynamodb, name)));

    const loader = createSpeedHandler({
      config: historyConfig,
      dynamodb,
      realtimeTable: historyTable,
      logger: silent(),
      metrics: new RecordingMetrics(),
    });
    for (let index = 0; index < history.length; index += BATCH_SIZE) {
      await deliver(loader, lambdaBatch(history.slice(index, index + BATCH_SIZE)), 'history');
    }
    console.log(`  history: ${history.length} events in ${Math.round((Date.now() - started) / 1000)} s`);

    for (const [index, { variant, maxStalenessMs, scoring, batches: batchCount }] of RUNS.entries()) {
      const realtimeTable = `realtime-${index}`;
      await ensureTable(dynamodb, realtimeTable);
      historyItems = await copyTable(dynamodb, historyTable, realtimeTable);
      const clock = { nowMs: liveHourMs };
      const now = () => clock.nowMs;
      const metrics = new RecordingMetrics();
      const handler = createSpeedHandler({
        config,
        dynamodb,
        realtimeTable,
        logger: silent(),
        metrics,
        anomalies: scoring
          ? {
              baselines: new BaselineReader({
                reader: new ViewReader({
                  client: dynamodb,
                  realtimeTable,
                  batchTable: 'batch',
                  manifestTable,
                  now,
                }),
                architecture: config.architecture,
              }),
              store: new AnomalyStore({ client: dynamodb, tableName: anomalyTable }),
              notifier: new EventBridgeAnomalyNotifier({ client: eventBridge, eventBusName: 'default' }),
              maxStalenessMs,
              now,
            }
          : undefined,
      });
      const batches = liveBatches(index, batchCount, liveHourMs);
      const lambdaBatches = batches.map(lambdaBatch);
      const busBefore = bus.events().length;
      requests.take();
      putEvents = 0;
      const latencies: number[] = [];
      for (const [position, batch] of lambdaBatches.entries()) {
        // The consumer is invoked as the batch's last record arrives.
        clock.nowMs = Math.max(...batches[position].map(({ arrivalMs }) => arrivalMs));
        const begun = performance.now();
        await deliver(handler, batch, variant);
        latencies.push(performance.now() - begun);
      }
      const { counts, units } = requests.take();
      const spikeIds = new Set(batches.flat().flatMap(({ event, spike }) => (spike ? [event.eventId] : [])));
      const published = bus
        .events()
        .slice(busBefore)
        .map(({ detail }) => (detail as { eventId: string }).eventId);
      const result: RunResult = {
        variant,
        events: batchCount * BATCH_SIZE,
        spikes: batches.flat().filter(({ spike }) => spike).length,
        counts,
        units,
        putEvents,
        busEvents: published.length,
        spikesFound: published.filter((eventId) => spikeIds.has(eventId)).length,
        metrics,
        latencies,
      };
      if (scoring && metrics.total(SPEED_METRICS.scoringFailures) > 0) throw new Error(`${variant}: scoring failed`);
      if (scoring && metrics.total(SPEED_METRICS.readingsNotScored) > 0) {
        throw new Error(
          `${variant}: ${metrics.total(SPEED_METRICS.readingsNotScored)} readings cold: history too thin`,
        );
      }
      results.push(result);
      console.log(
        `  run ${index + 1} (${variant}): ${(latencies.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s, ` +
          `${metrics.total(SPEED_METRICS.anomaliesRecorded)} anomalies for ${result.spikes} spikes`,
      );
    }
  } finally {
    dynamodb.destroy();
    eventBridge.destroy();
    await Promise.all([dynamo.stop(), bus.stop()]);
  }
  return writeReport(
    report(results, { historyEvents: history.length, historyItems, seconds: (Date.now() - started) / 1000 }),
  );
}

/** The runs of a variant, summed. */
function combined(results: readonly RunResult[], variant: Variant) {
  const runs = results.filter((result) => result.variant === variant);
  const sum = (value: (result: RunResult) => number) => runs.reduce((total, result) => total + value(result), 0);
  const count = (name: string) => sum((result) => result.counts.get(name) ?? 0);
  return {
    runs: runs.length,
    events: sum((result) => result.events),
    spikes: sum((result) => result.spikes),
    spikesFound: sum((result) => result.spikesFound),
    count,
    units: (name: string) => sum((result) => result.units.get(name) ?? 0),
    metric: (name: string) => sum((result) => result.metrics.total(name)),
    putEvents: sum((result) => result.putEvents),
    busEvents: sum((result) => result.busEvents),
    latencies: runs.flatMap((result) => result.latencies),
    seconds: sum((result) => result.latencies.reduce((a, b) => a + b, 0)) / 1000,
  };
}
type Combined = ReturnType<typeof combined>;

/** Requests of a command to the realtime tables: all of them less those to the anomalies and manifest tables. */
const realtimeRequests = (variant: Combined, command: string) =>
  variant.count(command) - variant.count(`${command}@anomalies`) - variant.count(`${command}@manifest`);

const DYNAMODB_COMMANDS = ['UpdateItem', 'GetItem', 'Query', 'PutItem'];

/** The figures of the main table, each a total over a variant's runs. */
const FIGURES: readonly { readonly label: string; readonly of: (variant: Combined) => number }[] = [
  { label: 'UpdateItem, realtime items', of: (variant) => realtimeRequests(variant, 'UpdateItem') },
  {
    label: 'GetItem, realtime items (after a failed condition)',
    of: (variant) => realtimeRequests(variant, 'GetItem'),
  },
  { label: 'Query, realtime items (baseline reads)', of: (variant) => realtimeRequests(variant, 'Query') },
  { label: 'GetItem, manifest (served batch version)', of: (variant) => variant.count('GetItem@manifest') },
  { label: 'PutItem, anomalies (conditional)', of: (variant) => variant.count('PutItem@anomalies') },
  { label: 'UpdateItem, anomalies (mark notified)', of: (variant) => variant.count('UpdateItem@anomalies') },
  { label: 'GetItem, anomalies (stored before?)', of: (variant) => variant.count('GetItem@anomalies') },
  {
    label: '**DynamoDB requests, all**',
    of: (variant) => DYNAMODB_COMMANDS.reduce((total, command) => total + variant.count(command), 0),
  },
  {
    label: 'read units (as dynalite reports them)',
    of: (variant) => variant.units('Query') + variant.units('GetItem'),
  },
  {
    label: 'write units (as dynalite reports them)',
    of: (variant) => variant.units('UpdateItem') + variant.units('PutItem'),
  },
  { label: 'EventBridge PutEvents requests', of: (variant) => variant.putEvents },
  { label: 'EventBridge events', of: (variant) => variant.busEvents },
  { label: 'wall time, s (sum over batches)', of: (variant) => variant.seconds },
];

const perThousand = (value: number, events: number) => (value * 1_000) / events;
const format = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2));
const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(2));

function report(
  results: readonly RunResult[],
  context: { historyEvents: number; historyItems: number; seconds: number },
): BenchReport {
  const plain = combined(results, 'without scoring');
  const scored = combined(results, 'with scoring');
  const uncached = combined(results, 'with scoring, cache staleness 0');
  const per = (variant: Combined, of: (variant: Combined) => number) => perThousand(of(variant), variant.events);
  const table: (string | number)[][] = [
    [
      'per 1,000 live events',
      'without scoring',
      'with scoring (cache 60 s)',
      'extra for scoring',
      'with scoring, cache staleness 0',
    ],
    ...FIGURES.map(({ label, of }) => [
      label,
      format(per(plain, of)),
      format(per(scored, of)),
      format(per(scored, of) - per(plain, of)),
      format(per(uncached, of)),
    ]),
  ];
  const realtimeWrites = (variant: Combined) => realtimeRequests(variant, 'UpdateItem');
  const realtimeSame = realtimeWrites(plain) * scored.runs === realtimeWrites(scored) * plain.runs;
  const requests = FIGURES.find(({ label }) => label.includes('requests, all'))?.of ?? (() => 0);
  const extraRequests = per(scored, requests) - per(plain, requests);
  const baselineReads = scored.metric(SPEED_METRICS.baselineReads);
  const anomalies = scored.metric(SPEED_METRICS.anomaliesRecorded);
  const anomalyWrites = scored.count('PutItem@anomalies') + scored.count('UpdateItem@anomalies');
  const wallRatio = scored.seconds / scored.events / (plain.seconds / plain.events);
  const uncachedRatio = uncached.seconds / uncached.events / (plain.seconds / plain.events);
  const scoringRuns = results.filter((result) => result.variant === 'with scoring');
  const summary =
    `What anomaly scoring (DESIGN.md §12) adds to the speed layer per event: the speed handler run without and ` +
    `with its \`anomalies\` dependency (BaselineReader over ViewReader, AnomalyStore, EventBridgeAnomalyNotifier) ` +
    `over the same kind of IoT stream, in one process, against dynalite and the local stand-in bus, real SDK ` +
    `clients; requests counted by a client middleware. Per 1,000 live events, scoring with the default cache ` +
    `(60 s) adds ${format(extraRequests)} DynamoDB requests to ${format(per(plain, requests))} ` +
    `(×${ratio(per(scored, requests), per(plain, requests))}): ` +
    `${format(per(scored, (variant) => realtimeRequests(variant, 'Query')))} baseline Queries ` +
    `(${baselineReads} baseline reads for ${KEYS} keys over ${scoringRuns.length} runs of ` +
    `${(LIVE_BATCHES * BATCH_SIZE) / LIVE_EVENTS_PER_SECOND} s of stream: one per key when a container starts, ` +
    `then one per key a minute), ${format(per(scored, (variant) => variant.count('GetItem@manifest')))} manifest ` +
    `GetItems and ${format(per(scored, (variant) => variant.count('PutItem@anomalies') + variant.count('UpdateItem@anomalies')))} ` +
    `anomaly-table writes, with ${format(per(scored, (variant) => variant.putEvents))} PutEvents requests. Each ` +
    `anomaly costs ${ratio(anomalyWrites, anomalies)} writes (conditional PutItem, then UpdateItem notified) and ` +
    `${ratio(scored.putEvents, anomalies)} PutEvents requests (up to 10 entries each, one per view and batch). ` +
    `${realtimeSame ? 'The realtime writes are the same with or without scoring (same readings in every run). ' : `Realtime UpdateItems differ between the variants (${format(per(plain, realtimeWrites))} without, ${format(per(scored, realtimeWrites))} with, on the same readings). `}` +
    `With the cache's staleness at 0 every reading reads ` +
    `its baseline: ${format(per(uncached, (variant) => realtimeRequests(variant, 'Query')))} Queries per 1,000 ` +
    `events instead of ${format(per(scored, (variant) => realtimeRequests(variant, 'Query')))}, and ` +
    `${format(per(uncached, (variant) => variant.units('Query')))} read units instead of ` +
    `${format(per(scored, (variant) => variant.units('Query')))}. Wall time with scoring ÷ without: ` +
    `${wallRatio.toFixed(2)} (cache 60 s), ${uncachedRatio.toFixed(2)} (staleness 0) — noisy: two shared cores, ` +
    `dynalite in the same process.`;
  return {
    name: 'anomaly-scoring-cost',
    summary,
    table,
    notes: [
      `Config: the default \`device_metric_minute\` view (dimensions deviceId, metric) and \`site_metric_hour\` ` +
        `(site, metric) with \`baseline: { measure: 'value', seasonality: 'hourOfDay', trainingWindowDays: ` +
        `${TRAINING_WINDOW_DAYS}, minEvents: 30, threshold: 4 }\`; lambda architecture, no batch run yet (so the ` +
        `manifest has no served version and a baseline read is one Query of the key's realtime items; with a batch ` +
        `version served it is two Queries of the batch table, base and windows, plus the realtime one).`,
      `Stream: ${KEYS} keys of the hour view (${SITES} sites × ${METRICS.length} metrics, ${DEVICES_PER_SITE} ` +
        `devices a site: ${KEYS * DEVICES_PER_SITE} keys of the minute view), Gaussian noise σ = ${NOISE} around a ` +
        `level per key and a daily swing of ±5 σ; history of ${context.historyEvents} readings over the ` +
        `${TRAINING_WINDOW_DAYS} days before the live hour (${HISTORY_PER_KEY_HOUR} per key and hour in the live ` +
        `hour's slot, so ${HISTORY_PER_KEY_HOUR * TRAINING_WINDOW_DAYS} per key: every live reading scored, none ` +
        `cold; one per key in every other hour, so that a baseline Query reads all ${TRAINING_WINDOW_DAYS * 24} ` +
        `buckets of the window), ` +
        `delivered once through the speed handler (hour view only; ${context.historyItems} realtime items) and ` +
        `copied to each run's own table. Live: batches of ${BATCH_SIZE} records of random keys, one shard, ` +
        `${LIVE_EVENTS_PER_SECOND} events/s of simulated arrival time, event time up to 2 s before arrival, ` +
        `${SPIKE_SHARE * 100}% spikes of 6–10 σ either way.`,
      `Runs, in order, each with a fresh consumer (a new container) on a fresh copy of the history: without ` +
        `scoring, with, with, without (${LIVE_BATCHES} batches each), then with the cache's staleness at 0 ` +
        `(${RUNS.at(-1)?.batches} batches, as each reading costs a Query of ${TRAINING_WINDOW_DAYS * 24} items). ` +
        `Every run reads the same live readings (under eventIds of its own, so each run's anomalies are new to the ` +
        `shared anomalies table); the staleness-0 run the first of them. Per-1,000 figures are totals over a ` +
        `variant's runs.`,
      `The baseline cache and the manifest cache run on the simulated arrival clock (the consumer is invoked as a ` +
        `batch's last record arrives), so what they save does not depend on the machine's speed. Cache misses in ` +
        `steady state are ${KEYS} keys per ${DEFAULT_BASELINE_STALENESS_MS / 1000} s whatever the rate: at ` +
        `${LIVE_EVENTS_PER_SECOND} events/s that is ` +
        `${format(perThousand(KEYS, (LIVE_EVENTS_PER_SECOND * DEFAULT_BASELINE_STALENESS_MS) / 1000))} per 1,000 ` +
        `events, at 1,000 events/s (a shard's ceiling) ` +
        `${format(perThousand(KEYS, DEFAULT_BASELINE_STALENESS_MS))}; a new hour bucket starts a new entry per key, ` +
        `and each new container reads every key once. The manifest read (cached 2 s by ViewReader) is about one ` +
        `per 2 s of stream, more when many keys miss at once: ViewReader does not share a manifest read in flight, ` +
        `so the baseline reads of one batch that start together each send one (up to the consumer's 16 in flight), ` +
        `which is most of the staleness-0 run's manifest GetItems.`,
      `Anomalies: ${anomalies} recorded and published with the default cache for ${scored.spikes} injected spikes ` +
        `(${scored.spikesFound} of them found; the rest of the anomalies are noise past 4 σ of a baseline whose ` +
        `spread is estimated from ${HISTORY_PER_KEY_HOUR * TRAINING_WINDOW_DAYS} readings). The bus received ` +
        `${scored.busEvents} events. Scoring failures: none (the bench stops on any).`,
      `Read and write units are dynalite's figures for the successful requests (the middleware asks for ` +
        `ReturnConsumedCapacity TOTAL on the consumer's behalf); failed conditions consume units in DynamoDB that ` +
        `are not counted here.`,
      `Wall time: the handler's time per batch, summed; p50 per batch without scoring ` +
        `${percentile(plain.latencies, 50).toFixed(0)} ms, with scoring ${percentile(scored.latencies, 50).toFixed(0)} ` +
        `ms, with staleness 0 ${percentile(uncached.latencies, 50).toFixed(0)} ms. dynalite shares the process and ` +
        `the machine's two cores with other work (see the load average): the request counts are the figures to ` +
        `compare, the times only roughly.`,
      `Total run time: ${Math.round(context.seconds)} s.`,
    ],
  };
}
