import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mapConcurrently } from '../functions/adapters/concurrent-map';
import { windowItem } from '../functions/core/batch-item';
import type { ArrivalWindow } from '../functions/core/manifest';
import { EMPTY_MEASURES, measuresOf } from '../functions/core/measures';
import { definePipelineConfig } from '../functions/core/pipeline-config';
import { realtimeUpdateRequest } from '../functions/core/realtime-update';
import { recordPosition } from '../functions/core/sequence-position';
import { emulatorClientConfig, startDynamoDb } from '../local/emulators';
import { ensureTable } from '../local/provision';
import { percentile, writeReport } from './report';
import { benchQueryHandler, serveBatchWindow } from './serving-fixture';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const ROUNDS = 20;

/**
 * The query handler's latency for one key at minute granularity over 1, 7 and 30 days, against dynalite seeded
 * with 30 days of minute buckets: one served batch window up to 12 hours ago, and two realtime epochs per minute
 * after it (plus realtime items below the cutoff, which the read filters out).
 */
export async function run(): Promise<string> {
  const config = definePipelineConfig();
  const view = config.views[0];
  const emulator = await startDynamoDb();
  const client = new DynamoDBClient(emulatorClientConfig(emulator.endpoint));
  try {
    for (const table of ['realtime', 'batch', 'manifest', 'keyDirectory']) await ensureTable(client, table);
    const now = Date.UTC(2026, 10, 24, 12);
    const cutoff = now - 12 * 3_600_000;
    // One served arrival window, [0, cutoff): the rows a view's first batch run writes.
    const window: ArrivalWindow = { from: 0, to: cutoff };
    const dimensionKey = 'device-001|temperature';
    /** An event whose every numeric field holds `value`: all the stored measures need of it. */
    const eventOf = (value: number) => Object.fromEntries(view.schema.numbers.map((field) => [field, value]));
    const minutes = Array.from({ length: 30 * 24 * 60 }, (_, i) => now - 30 * DAY_MS + i * MINUTE_MS);
    const batchItems = minutes
      .filter((bucket) => bucket < cutoff)
      .map((bucket) =>
        windowItem(view, window, { dimensionKey, bucket, measures: measuresOf(view, eventOf(bucket % 97)) }),
      );
    await serveBatchWindow(client, view.name, window, batchItems);
    const realtimeMinutes = minutes.filter((bucket) => bucket >= cutoff - 3_600_000);
    await mapConcurrently(realtimeMinutes, 16, async (bucket) => {
      for (const epochOffset of [0, 900_000]) {
        const epoch = Math.floor(bucket / 900_000) * 900_000 + epochOffset;
        await client.send(
          new UpdateItemCommand({
            TableName: 'realtime',
            ...realtimeUpdateRequest({
              key: { view: view.name, dimensionKey, bucket, epoch },
              generation: 1,
              stored: view.stored,
              known: EMPTY_MEASURES,
              delta: measuresOf(view, eventOf(1)),
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

    const handler = benchQueryHandler(client, config, now);
    const rows: (string | number)[][] = [['range', 'buckets returned', 'p50 ms', 'p99 ms', 'rounds']];
    for (const days of [1, 7, 30]) {
      const event = {
        httpMethod: 'GET',
        resource: '/views/{view}',
        path: `/views/${view.name}`,
        pathParameters: { view: view.name },
        multiValueQueryStringParameters: {
          deviceId: ['device-001'],
          metric: ['temperature'],
          from: [String(now - days * DAY_MS)],
          to: [String(now)],
        },
      } as unknown as APIGatewayProxyEvent;
      const times: number[] = [];
      let buckets = 0;
      for (let round = 0; round < ROUNDS; round += 1) {
        const started = performance.now();
        const response = await handler(event);
        times.push(performance.now() - started);
        buckets = (JSON.parse(response.body) as { series: { buckets: unknown[] }[] }).series[0].buckets.length;
      }
      rows.push([
        `${days} day${days > 1 ? 's' : ''}`,
        buckets,
        percentile(times, 50).toFixed(1),
        percentile(times, 99).toFixed(1),
        ROUNDS,
      ]);
    }
    return writeReport({
      name: 'query-latency',
      summary: `The query handler (in process) against dynalite: one key of ${view.name} at minute granularity; the served batch window covers up to 12 h before now, realtime items (2 epochs per minute) the last 13 h.`,
      table: rows,
      notes: [
        'dynalite is far slower than DynamoDB per item read; these are relative figures for this code path, not AWS latencies.',
      ],
    });
  } finally {
    client.destroy();
    await emulator.stop();
  }
}
