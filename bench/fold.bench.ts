import { DEFAULT_VIEW_DECLARATIONS } from '../functions/core/default-views';
import { foldRecords } from '../functions/core/fold';
import { defineViews } from '../functions/core/view-declaration';
import type { StreamRecord } from '../functions/core/stream-record';
import { percentile, writeReport } from './report';

const views = defineViews(DEFAULT_VIEW_DECLARATIONS);
const EPOCH_MS = 15 * 60_000;

function records(count: number, devices: number): StreamRecord[] {
  const start = Date.UTC(2026, 10, 24);
  return Array.from({ length: count }, (_, index) => ({
    event: {
      eventId: `e-${index}`,
      deviceId: `device-${index % devices}`,
      site: `site-${index % 10}`,
      metric: ['temperature', 'humidity'][index % 2],
      value: (index % 1000) / 4,
      ts: start + index * 37,
    },
    shardId: 'shardId-000000000000',
    sequenceNumber: String(49680507356827391140529022913163858325634908041368305666n + BigInt(index)),
    subSequenceNumber: 0,
    arrivalMs: start + index * 37 + 500,
  }));
}

/** In-memory fold throughput of the core across the default views: the speed layer's CPU cost per batch. */
export async function run(): Promise<string> {
  const rows: (string | number)[][] = [
    ['batch size', 'distinct devices', 'aggregates', 'p50 ms', 'p99 ms', 'records/s'],
  ];
  for (const [size, devices] of [
    [100, 10],
    [1_000, 1_000],
    [10_000, 1_000],
  ]) {
    const input = records(size, devices);
    const times: number[] = [];
    let aggregates = 0;
    for (let round = 0; round < 50; round += 1) {
      const started = performance.now();
      aggregates = foldRecords(input, views, EPOCH_MS).size;
      times.push(performance.now() - started);
    }
    const p50 = percentile(times, 50);
    rows.push([
      size,
      devices,
      aggregates,
      p50.toFixed(2),
      percentile(times, 99).toFixed(2),
      Math.round(size / (p50 / 1000)),
    ]);
  }
  return writeReport({
    name: 'fold',
    summary: 'Core fold over the three default views, 50 rounds per row (first rounds include JIT warm-up).',
    table: rows,
  });
}
