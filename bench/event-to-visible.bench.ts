import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localPipelineConfig } from '../local/local-config';
import { buildLocalHandlers } from '../local/local-handlers';
import { LocalRuntime } from '../local/local-runtime';
import { percentile, writeReport } from './report';

const SAMPLES = 30;

/**
 * Event-to-visible latency of `npm start`: from POST /events until GET /views/... counts the event, polled every
 * 20 ms, with the runtime's defaults (event source mapping batching window 500 ms, 250 ms idle polls).
 */
export async function run(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'event-to-visible-'));
  const runtime = await LocalRuntime.start({
    config: localPipelineConfig({ batchScheduleMinutes: 60 }),
    dataDir,
    buildHandlers: (environment) => buildLocalHandlers(environment, { logLevel: 'SILENT' }),
  });
  const latencies: number[] = [];
  try {
    for (let sample = 0; sample < SAMPLES; sample += 1) {
      const deviceId = `latency-${sample}`;
      const event = { eventId: deviceId, deviceId, site: 's', metric: 'temperature', value: 1, ts: Date.now() };
      const started = performance.now();
      await fetch(`${runtime.apiUrl}/events`, { method: 'POST', body: JSON.stringify(event) });
      for (;;) {
        const answer = (await (
          await fetch(`${runtime.apiUrl}/views/device_metric_minute?deviceId=${deviceId}&metric=temperature`)
        ).json()) as {
          series: { buckets: unknown[] }[];
        };
        if (answer.series[0].buckets.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      latencies.push(performance.now() - started);
    }
  } finally {
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return writeReport({
    name: 'event-to-visible',
    summary: `npm start: ${SAMPLES} single events, each timed from POST /events until a query counts it.`,
    table: [
      ['p50 ms', 'p99 ms', 'min ms', 'max ms'],
      [
        percentile(latencies, 50).toFixed(0),
        percentile(latencies, 99).toFixed(0),
        Math.min(...latencies).toFixed(0),
        Math.max(...latencies).toFixed(0),
      ],
    ],
    notes: [
      'Dominated by the event source mapping: a 500 ms batching window after the first record, then one invocation.',
    ],
  });
}
