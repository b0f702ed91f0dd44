import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mapConcurrently } from '../functions/adapters/concurrent-map';
import { windowItem } from '../functions/core/batch-item';
import { dimensionKeyOf } from '../functions/core/dimension-key';
import type { PipelineEvent } from '../functions/core/event-schema';
import type { ArrivalWindow } from '../functions/core/manifest';
import { EMPTY_MEASURES, measuresOf, mergeAllMeasures } from '../functions/core/measures';
import { definePipelineConfig } from '../functions/core/pipeline-config';
import { realtimeUpdateRequest } from '../functions/core/realtime-update';
import { recordPosition } from '../functions/core/sequence-position';
import type { ViewDeclaration, ViewDefinition } from '../functions/core/view-declaration';
import { emulatorClientConfig, startDynamoDb } from '../local/emulators';
import { ensureTable } from '../local/provision';
import { itemSizeBytes } from './dynamodb-item-size';
import { percentile, writeReport } from './report';
import { benchQueryHandler, serveBatchWindow } from './serving-fixture';
import { MEASURE_VARIANTS, REQUEST_SCHEMA, RequestGenerator, requestViews } from './sketch-workload';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const ROUNDS = 20;
/** Requests per minute of the one key queried: 5 a second, a busy endpoint's successful calls. */
const REQUESTS_PER_MINUTE = 300;
/** The measure sets compared: the plain one, the histogram alone, and every sketch (MEASURE_VARIANTS' names). */
const COMPARED = ['plain', '+ histogram (α 0.01, 1 ms to 60 s)', 'all on (stddev, distinct 12, histogram)'];

/**
 * The query handler's latency for one key of a minute view over one day (1,440 buckets), with and without a
 * histogram measure, against dynalite seeded as query-latency.bench.ts seeds it: one served batch window up to
 * 12 hours ago, and two realtime epochs per minute after it (plus realtime items below the cutoff, which the read
 * filters out). Every view has the same rows, keys and events; only the measures differ.
 */
export async function run(): Promise<string> {
  const variants = COMPARED.map((name) => {
    const variant = MEASURE_VARIANTS.find((candidate) => candidate.name === name);
    if (variant === undefined) throw new Error(`no measure variant ${name}`);
    return variant;
  });
  const declarations: ViewDeclaration[] = variants.map((variant, index) => {
    const [minute] = requestViews(variant.added);
    if (minute === undefined) throw new Error('no minute view');
    return { ...minute, name: `requests_${index}_minute` };
  });
  const config = definePipelineConfig({ schema: REQUEST_SCHEMA, views: declarations });
  const emulator = await startDynamoDb();
  const client = new DynamoDBClient(emulatorClientConfig(emulator.endpoint));
  const dynamoTime = new InFlightTime().attachTo(client);
  try {
    for (const table of ['realtime', 'batch', 'manifest', 'keyDirectory']) await ensureTable(client, table);
    const now = Date.UTC(2026, 11, 1, 12);
    const cutoff = now - 12 * HOUR_MS;
    const window: ArrivalWindow = { from: 0, to: cutoff };
    const generator = new RequestGenerator(16);
    const minutes = Array.from({ length: 25 * 60 }, (_, i) => now - 25 * HOUR_MS + i * MINUTE_MS);
    /** Each minute's requests of the one key, split into the two arrival epochs its realtime items hold. */
    const requests = new Map(
      minutes.map((bucket) => [
        bucket,
        Array.from({ length: REQUESTS_PER_MINUTE }, (): PipelineEvent => ({
          ...generator.next(bucket),
          path: '/p/1',
          status: '200',
        })),
      ]),
    );
    const rowBytes = new Map<string, number>();
    for (const view of config.views)
      rowBytes.set(view.name, await seedView(client, view, window, cutoff, requests, now));

    const handler = benchQueryHandler(client, config, now);
    const queries = [
      { name: 'minute (1,440 buckets), default quantiles', parameters: {} },
      { name: 'minute, quantiles=0.5,0.9,0.95,0.99,0.999', parameters: { quantiles: ['0.5,0.9,0.95,0.99,0.999'] } },
      { name: 'granularity=hour (24 buckets of 60)', parameters: { granularity: ['hour'] } },
    ];
    const rows: (string | number)[][] = [
      [
        'query',
        'measures',
        'batch row bytes (mean)',
        'buckets returned',
        'answer KB',
        'p50 ms',
        'p99 ms',
        'p50 ms in DynamoDB calls',
        'p50 ÷ plain',
        'rounds',
      ],
    ];
    for (const query of queries) {
      const events = config.views.map((view) => {
        const histogram = view.measures.some((measure) => measure.kind === 'histogram');
        // A view without a histogram refuses quantiles: its figure is the same query without them.
        const parameters = histogram ? query.parameters : { ...query.parameters, quantiles: undefined };
        return {
          httpMethod: 'GET',
          resource: '/views/{view}',
          path: `/views/${view.name}`,
          pathParameters: { view: view.name },
          multiValueQueryStringParameters: {
            path: ['/p/1'],
            status: ['200'],
            from: [String(now - DAY_MS)],
            to: [String(now)],
            ...Object.fromEntries(Object.entries(parameters).filter(([, value]) => value !== undefined)),
          },
        } as unknown as APIGatewayProxyEvent;
      });
      const times = config.views.map((): number[] => []);
      const dynamoTimes = config.views.map((): number[] => []);
      const answers = config.views.map(() => ({ buckets: 0, bytes: 0 }));
      // Round-robin over the views, after one round not counted, so that load from elsewhere on the machine
      // (and the JIT warming up) weighs on every view alike.
      for (let round = -1; round < ROUNDS; round += 1) {
        for (const [index, view] of config.views.entries()) {
          dynamoTime.reset();
          const started = performance.now();
          const response = await handler(events[index] as APIGatewayProxyEvent);
          const elapsed = performance.now() - started;
          const inDynamo = dynamoTime.total();
          if (response.statusCode !== 200) throw new Error(`${view.name}: ${response.statusCode} ${response.body}`);
          if (round < 0) continue;
          times[index]?.push(elapsed);
          dynamoTimes[index]?.push(inDynamo);
          const series = (JSON.parse(response.body) as { series: { buckets: unknown[] }[] }).series;
          answers[index] = { buckets: series[0]?.buckets.length ?? 0, bytes: Buffer.byteLength(response.body) };
        }
      }
      const plainMedian = percentile(times[0] ?? [], 50);
      for (const [index, view] of config.views.entries()) {
        const median = percentile(times[index] ?? [], 50);
        rows.push([
          query.name,
          COMPARED[index] ?? view.name,
          rowBytes.get(view.name) ?? '',
          answers[index]?.buckets ?? 0,
          ((answers[index]?.bytes ?? 0) / 1024).toFixed(0),
          median.toFixed(1),
          percentile(times[index] ?? [], 99).toFixed(1),
          percentile(dynamoTimes[index] ?? [], 50).toFixed(1),
          (median / plainMedian).toFixed(2),
          ROUNDS,
        ]);
        console.log(`  ${query.name}, ${COMPARED[index] ?? view.name}: p50 ${median.toFixed(1)} ms`);
      }
    }
    return writeReport({
      name: 'sketch-query-latency',
      summary:
        'The query handler (in process) against dynalite: one key of a minute view of web requests over one day ' +
        `(1,440 buckets, ${REQUESTS_PER_MINUTE} requests a minute), the same view declared with the plain ` +
        'measures of the latency (count, sum, min, max, avg), with a histogram of it besides (α 0.01 from 1 ms to ' +
        '60 s: 553 bins), and with every sketch (stddev, distinct users at precision 12, the histogram). The served ' +
        'batch window covers up to 12 h before now, realtime items (2 epochs per minute) the last 13 h.',
      table: rows,
      notes: [
        'Every bucket of the answer, and its batch and realtime parts, answers each quantile asked for with its ' +
          'bounds, so a histogram adds to the answer per bucket as well as to every item read and merged.',
        'ms in DynamoDB calls: the time at least one request of the handler was in flight (the SDK and dynalite, ' +
          'which runs in this process); the rest is the handler decoding, merging and estimating, and the JSON.',
        'A view without a histogram refuses `quantiles`: its row for that query is the same query without it.',
        'dynalite is far slower than DynamoDB per item read; these are relative figures for this code path, not ' +
          'AWS latencies.',
      ],
    });
  } finally {
    client.destroy();
    await emulator.stop();
  }
}

/**
 * One view's rows of the key: batch rows for the minutes before the cutoff, realtime items from an hour before.
 * Returns the batch rows' mean size in bytes, as DynamoDB counts it.
 */
async function seedView(
  client: DynamoDBClient,
  view: ViewDefinition,
  window: ArrivalWindow,
  cutoff: number,
  requests: ReadonlyMap<number, readonly PipelineEvent[]>,
  now: number,
): Promise<number> {
  const [first] = requests.values();
  if (first?.[0] === undefined) throw new Error('no requests');
  const dimensionKey = dimensionKeyOf(view, first[0]);
  const measuresOfAll = (events: readonly PipelineEvent[]) =>
    mergeAllMeasures(events.map((event) => measuresOf(view, event)));
  const batchItems = [...requests]
    .filter(([bucket]) => bucket < cutoff)
    .map(([bucket, events]) => windowItem(view, window, { dimensionKey, bucket, measures: measuresOfAll(events) }));
  await serveBatchWindow(client, view.name, window, batchItems);
  const realtime = [...requests].filter(([bucket]) => bucket >= cutoff - HOUR_MS);
  await mapConcurrently(realtime, 16, async ([bucket, events]) => {
    const half = Math.floor(events.length / 2);
    for (const [part, epochOffset] of [
      [events.slice(0, half), 0],
      [events.slice(half), 900_000],
    ] as const) {
      await client.send(
        new UpdateItemCommand({
          TableName: 'realtime',
          ...realtimeUpdateRequest({
            key: { view: view.name, dimensionKey, bucket, epoch: Math.floor(bucket / 900_000) * 900_000 + epochOffset },
            generation: 1,
            stored: view.stored,
            known: EMPTY_MEASURES,
            delta: measuresOfAll(part),
            shardId: 'shardId-000000000000',
            watermark: recordPosition('1'),
            condition: { equals: null },
            extremes: {},
            expiresAt: Math.floor(now / 1000) + 86_400,
          }),
        }),
      );
    }
  });
  return Math.round(batchItems.reduce((total, item) => total + itemSizeBytes(item), 0) / batchItems.length);
}

/** The wall time during which at least one request of a client is in flight, since the last reset. */
class InFlightTime {
  private inFlight = 0;
  private since = 0;
  private accumulated = 0;

  attachTo(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next) => async (args) => {
        if (this.inFlight === 0) this.since = performance.now();
        this.inFlight += 1;
        try {
          return await next(args);
        } finally {
          this.inFlight -= 1;
          if (this.inFlight === 0) this.accumulated += performance.now() - this.since;
        }
      },
      { step: 'initialize', name: 'inFlightTime' },
    );
    return this;
  }

  reset(): void {
    this.accumulated = 0;
  }

  total(): number {
    return this.accumulated;
  }
}
