import SwaggerParser from '@apidevtools/swagger-parser';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { IotEvent } from '../../functions/core/event-schema';
import { GRANULARITIES, canRollUp, type Granularity } from '../../functions/core/granularity';
import type { StreamRecord } from '../../functions/core/stream-record';
import { IotTraffic } from '../../local/iot-traffic';
import type { LocalRuntime } from '../../local/local-runtime';
import { acceptedRecords } from '../support/accepted-records';
import { answerBuckets, bruteForceAnswer, type AnswerBucket, type PresentedBucket } from '../support/brute-force';
import { eventually } from '../support/eventually';
import { EPOCH_WAIT_MS, startTestRuntime, testRuntimeConfig } from '../support/test-runtime';

const config = testRuntimeConfig;
const [deviceView] = config.views;
let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;
/** Every record the stream accepted, as the brute force counts them: distinct by shard and sequence number. */
const accepted: StreamRecord[] = [];

interface Answer {
  provenance: { batchVersion: string; cutoffMs: number } | null;
  series: {
    key: Record<string, string>;
    buckets: (AnswerBucket & { batch: PresentedBucket | null; realtime: PresentedBucket | null })[];
  }[];
}

async function post(events: unknown): Promise<{
  status: number;
  body: { results: { index: number; status: string; sequenceNumber?: string; shardId?: string; errors?: string[] }[] };
}> {
  const response = await fetch(`${runtime.apiUrl}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  return { status: response.status, body: (await response.json()) as Awaited<ReturnType<typeof post>>['body'] };
}

/** Posts events and remembers the accepted ones with the identity the stream gave them. */
async function send(events: Record<string, unknown>[]): Promise<void> {
  const { body } = await post(events);
  accepted.push(...acceptedRecords(events, body.results));
}

async function query(
  path: string,
): Promise<{ status: number; body: Answer & { message?: string; errors?: string[] } }> {
  const response = await fetch(`${runtime.apiUrl}${path}`);
  return { status: response.status, body: (await response.json()) as Answer & { message?: string; errors?: string[] } };
}

/** Every key of a view, answered over the whole test's time range, as a map comparable with bruteForce. */
async function answerAll(
  granularity: Granularity,
): Promise<{ buckets: Map<string, PresentedBucket>; answers: Answer[] }> {
  const devices = [...new Set(accepted.map((record) => record.event.deviceId))];
  const metrics = [...new Set(accepted.map((record) => record.event.metric))];
  const from = Math.min(...accepted.map((record) => Number(record.event.ts))) - 86_400_000;
  const to = Date.now() + 86_400_000;
  const buckets = new Map<string, PresentedBucket>();
  const answers: Answer[] = [];
  for (const device of devices) {
    const { status, body } = await query(
      `/views/${deviceView.name}?deviceId=${device}&metric=${metrics.join(',')}&from=${from}&to=${to}&granularity=${granularity}`,
    );
    expect(status).toBe(200);
    answers.push(body);
    for (const [key, bucket] of answerBuckets(body.series, deviceView.dimensions)) buckets.set(key, bucket);
  }
  return { buckets, answers };
}

const granularities = GRANULARITIES.filter((g) => canRollUp(deviceView.granularity, g));

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime());
});

afterAll(async () => {
  await stop?.();
});

describe('npm start: the whole Lambda architecture on local emulators', () => {
  it('answers from the speed layer within seconds, equal to brute force, with late, duplicate and invalid events sent', async () => {
    const traffic = new IotTraffic({ devices: 6, lateShare: 0.3, invalidShare: 0.1 });
    const events = traffic.batch(300);
    // A producer retry: the same events sent again become new Kinesis records, and count again.
    await send([...events, ...events.slice(0, 20)]);
    expect(accepted.length).toBeGreaterThan(250);
    for (const granularity of granularities) {
      const expected = bruteForceAnswer(deviceView, accepted, granularity);
      await eventually(`${granularity} answers equal to brute force`, async () => {
        const { buckets } = await answerAll(granularity);
        return JSON.stringify([...buckets].sort()) === JSON.stringify([...expected].sort()) ? true : undefined;
      });
    }
  });

  it('after a batch run the answers are unchanged in value but come from the batch view', async () => {
    const before = await answerAll('minute');
    // Wait until every event's arrival epoch has ended and its buffer interval has passed: then the cutoff covers it.
    await new Promise((resolve) => setTimeout(resolve, EPOCH_WAIT_MS));
    const summary = await runtime.runBatchNow();
    expect(summary.views.every((view) => view.outcome === 'flipped')).toBe(true);
    const after = await answerAll('minute');
    expect(after.buckets).toEqual(before.buckets);
    expect(after.buckets).toEqual(bruteForceAnswer(deviceView, accepted, 'minute'));
    for (const answer of after.answers) {
      expect(answer.provenance?.cutoffMs).toBe(summary.views[0].cutoff);
      for (const bucket of answer.series.flatMap((series) => series.buckets)) {
        expect(bucket.realtime).toBeNull();
        expect(bucket.batch?.count).toBe(bucket.count);
      }
    }
  });

  it('counts events that arrive after the cutoff from the speed layer, and a flip between two requests changes only where they come from', async () => {
    const traffic = new IotTraffic({ devices: 6, lateShare: 0.5, invalidShare: 0 });
    await send(traffic.batch(60));
    const expected = bruteForceAnswer(deviceView, accepted, 'hour');
    await eventually('new events visible', async () => {
      const { buckets } = await answerAll('hour');
      return JSON.stringify([...buckets].sort()) === JSON.stringify([...expected].sort()) ? true : undefined;
    });
    const { answers: mixed } = await answerAll('hour');
    expect(
      mixed.some((answer) => answer.series.some((series) => series.buckets.some((bucket) => bucket.realtime !== null))),
    ).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, EPOCH_WAIT_MS));
    const summary = await runtime.runBatchNow();
    const { buckets, answers } = await answerAll('hour');
    expect(buckets).toEqual(expected);
    expect(answers.every((answer) => answer.provenance?.cutoffMs === summary.views[0].cutoff)).toBe(true);
  });

  it.each([
    ['/views/nope', 404, 'view: unknown view "nope"'],
    [
      '/views/device_metric_minute?deviceId=a&metric=b&colour=red',
      400,
      'colour: unknown dimension of view device_metric_minute',
    ],
    // A dimension left out is a group-by now; a limit without orderBy is what a caller still gets wrong.
    ['/views/device_metric_minute?deviceId=a&limit=3', 400, 'limit: only with orderBy'],
    [
      '/views/device_metric_minute?deviceId=a&metric=b&from=2026-11-24T10:00:00Z&to=2026-11-24T09:00:00Z',
      400,
      'from: must be before to',
    ],
    [
      '/views/device_metric_minute?deviceId=a&metric=b&from=yesterday',
      400,
      'from: expected epoch milliseconds or an ISO-8601 date-time',
    ],
    ['/views/device_metric_minute?deviceId=a&metric=b&from=0&to=86400000000', 400, 'from/to: the range covers'],
    [
      `/views/device_metric_minute?deviceId=${Array.from({ length: 51 }, (_, i) => `d${i}`).join(',')}&metric=b`,
      400,
      'dimensions: 51 keys requested, above the limit of 50',
    ],
    ['/views/site_metric_hour?site=a&metric=b&granularity=minute', 400, 'granularity: expected one of hour, day'],
  ])('GET %s answers %i naming the problem', async (path, status, message) => {
    const response = await query(path);
    expect(response.status).toBe(status);
    expect(response.body.message).toContain(message);
  });

  it.each([
    ['a malformed body', '{"eventId":', 400, 'body: malformed JSON'],
    ['an empty array', '[]', 400, 'body: expected an event or a non-empty array of events'],
    ...['"text"', '7', 'null', 'true'].map((body): [string, string, number, string] => [
      `the JSON scalar ${body}`,
      body,
      400,
      'body: expected an event (a JSON object) or a non-empty array of events',
    ]),
    [
      'only invalid events, each named by its index',
      JSON.stringify([{ eventId: 'a' }, 'x']),
      400,
      'no event accepted: events[0].deviceId: required',
    ],
    [
      'more than 500 events',
      JSON.stringify(Array.from({ length: 501 }, () => ({}))),
      413,
      'body: 501 events, above the limit of 500',
    ],
  ])('POST /events with %s is refused, naming the problem', async (_what, body, status, message) => {
    const response = await fetch(`${runtime.apiUrl}/events`, { method: 'POST', body });
    expect(response.status).toBe(status);
    expect(((await response.json()) as { message: string }).message).toContain(message);
  });

  it('rejects an oversize record and an invalid one by reason, accepting the valid one beside them', async () => {
    const valid: IotEvent = {
      eventId: 'v',
      deviceId: 'device-big',
      site: 's',
      metric: 'temperature',
      value: 1,
      ts: Date.now(),
    };
    const { status, body } = await post([
      { ...valid, padding: 'x'.repeat(1_048_600) },
      { ...valid, value: 'hot' },
      valid,
    ]);
    expect(status).toBe(207);
    expect(body.results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'accepted']);
    expect(body.results[0].errors?.[0]).toMatch(
      /^event: \d+ bytes \(data and partition key\), above the Kinesis record limit of 1048576$/,
    );
    expect(body.results[1].errors).toEqual(['value: expected a finite number']);
  });

  it('serves an OpenAPI 3 document that validates, and lists the views', async () => {
    const document = (await (await fetch(`${runtime.apiUrl}/openapi.json`)).json()) as Record<string, unknown>;
    await expect(SwaggerParser.validate(document as never)).resolves.toBeDefined();
    const listing = (await (await fetch(`${runtime.apiUrl}/views`)).json()) as {
      views: { name: string; measures: string[]; retentionDays: number | null }[];
    };
    expect(listing.views.map((view) => view.name)).toEqual(config.views.map((view) => view.name));
    expect(listing.views[0].measures).toEqual(['count', 'sum', 'min', 'max', 'avg']);
    // The defaults by granularity: minute 30 days, hour 400, day for ever.
    expect(listing.views.map((view) => view.retentionDays)).toEqual([30, 400, null]);
  });
});
