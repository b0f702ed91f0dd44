import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import type { LocalRuntime } from '../../local/local-runtime';
import { acceptedRecords, type IngestResult } from '../support/accepted-records';
import { answerBuckets, bruteForceAnswer } from '../support/brute-force';
import { eventually } from '../support/eventually';
import { EPOCH_WAIT_MS, startTestRuntime, testRuntimeConfig } from '../support/test-runtime';

const config = testRuntimeConfig;
const DAY = 86_400_000;
const RANGE_ERROR = "expected 0 or a magnitude from 1e-100 to 1e+100 (DynamoDB's number range, with room for sums)";
let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;
const accepted: StreamRecord[] = [];

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime());
});
afterAll(async () => {
  await stop?.();
});

const now = Date.now();
let counter = 0;
function valid(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    eventId: `ok-${counter}`,
    deviceId: `device-${counter % 4}`,
    site: `site-${counter % 2}`,
    metric: 'temperature',
    value: counter,
    ts: now - counter * 1000,
    ...overrides,
  };
}

/**
 * Each hostile event as JSON text (some cannot be built by JSON.stringify: a 5,000-deep array would overflow it,
 * and a lone surrogate must reach the server as its escape), with the reason every layer gives for it.
 */
const hostile: [string, string, string][] = [
  [
    'a dimension of 256 CJK characters (2,304 bytes encoded)',
    JSON.stringify(valid({ site: '東'.repeat(256) })),
    'site: 2304 bytes URI-encoded, above the limit of 512 that keeps DynamoDB keys within 2,048 bytes',
  ],
  [
    'two dimensions of 115 CJK characters',
    JSON.stringify(valid({ deviceId: '東'.repeat(115), metric: '京'.repeat(115) })),
    'deviceId: 1035 bytes URI-encoded, above the limit of 512 that keeps DynamoDB keys within 2,048 bytes',
  ],
  [
    'a lone surrogate in a dimension',
    JSON.stringify(valid()).replace('"site-', '"\\ud800site-'),
    'site: expected well-formed Unicode (it has a lone surrogate)',
  ],
  [
    'a lone surrogate in an extra field',
    JSON.stringify(valid({ note: 'x' })).replace('"note":"x"', '"note":"\\udc00"'),
    'note: expected well-formed Unicode (it has a lone surrogate)',
  ],
  ['value 1e200', JSON.stringify(valid({ value: 1e200 })), `value: ${RANGE_ERROR}`],
  ['value 1e-200', JSON.stringify(valid({ value: 1e-200 })), `value: ${RANGE_ERROR}`],
  [
    'ts beyond what dates represent',
    JSON.stringify(valid({ ts: 8_640_000_000_000_001 })),
    'ts: expected a time at or before 9999-12-31T23:59:59.999Z',
  ],
  [
    'ts more than a day after arrival',
    JSON.stringify(valid({ ts: now + 2 * DAY })),
    'ts: more than 1 day after arrival',
  ],
  [
    'a device id of 129 emoji (258 UTF-16 units, over the partition-key limit)',
    JSON.stringify(valid({ deviceId: '😀'.repeat(129) })),
    'deviceId: expected at most 256 UTF-16 code units (it has 258)',
  ],
  [
    'an extra field nested 5,000 levels deep',
    JSON.stringify(valid({ deep: 0 })).replace('"deep":0', `"deep":${'['.repeat(5000)}${']'.repeat(5000)}`),
    'deep[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nested deeper than 32 levels',
  ],
  [
    'a dimension value with white space at its ends',
    JSON.stringify(valid({ site: ' pad ' })),
    'site: expected no white space at the start or end',
  ],
];

async function postText(body: string): Promise<{ status: number; results: IngestResult[] }> {
  const response = await fetch(`${runtime.apiUrl}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const answer = (await response.json()) as { results: IngestResult[] };
  return { status: response.status, results: answer.results };
}

/** Every key of a view the accepted records touch, answered over the test's range, keyed as brute force keys. */
async function answersOf(view: ViewDefinition) {
  const keys = new Map<string, Record<string, string>>();
  for (const record of accepted) {
    const key = Object.fromEntries(view.dimensions.map((field) => [field, String(record.event[field])]));
    keys.set(JSON.stringify(key), key);
  }
  const buckets = new Map<string, unknown>();
  for (const key of keys.values()) {
    const query = new URLSearchParams({ ...key, from: String(now - DAY), to: String(now + DAY) });
    const response = await fetch(`${runtime.apiUrl}/views/${view.name}?${query}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { series: Parameters<typeof answerBuckets>[0] };
    for (const [bucketKey, bucket] of answerBuckets(body.series, view.dimensions)) buckets.set(bucketKey, bucket);
  }
  return buckets;
}

async function expectEveryViewEqualsBruteForce() {
  for (const view of config.views) {
    const expected = bruteForceAnswer(view, accepted);
    await eventually(
      `${view.name} equal to brute force`,
      async () => {
        const actual = await answersOf(view);
        return JSON.stringify([...actual].sort()) === JSON.stringify([...expected].sort()) ? true : undefined;
      },
      120_000,
    );
  }
}

describe('npm start: no single input stops a view, loses a valid event or breaks a batch run', () => {
  it('POST /events rejects each hostile event with its reason and accepts its valid neighbours', async () => {
    const neighbours = [valid(), valid(), valid()];
    const texts = [JSON.stringify(neighbours[0]), ...hostile.map(([, text]) => text), JSON.stringify(neighbours[1])];
    texts.push(JSON.stringify(neighbours[2]));
    const { status, results } = await postText(`[${texts.join(',')}]`);
    expect(status).toBe(207);
    expect(results.map((result) => result.status)).toEqual([
      'accepted',
      ...hostile.map(() => 'rejected'),
      'accepted',
      'accepted',
    ]);
    hostile.forEach(([what, , reason], index) => {
      expect({ what, error: results[index + 1].errors?.[0] }).toEqual({ what, error: reason });
    });
    const events = [neighbours[0], ...hostile.map(() => ({})), neighbours[1], neighbours[2]];
    accepted.push(...acceptedRecords(events, results));
    expect(accepted).toHaveLength(3);
  });

  it('the speed layer and the archive skip the same events put straight on the stream, and no batch is discarded', async () => {
    const { kinesis, resources } = runtime.environment;
    const good = [valid(), valid(), valid(), valid()];
    const payloads = [
      JSON.stringify(good[0]),
      ...hostile.map(([, text]) => text),
      JSON.stringify(good[1]),
      JSON.stringify(good[2]),
      JSON.stringify(good[3]),
    ];
    const response = await kinesis.send(
      new PutRecordsCommand({
        StreamName: resources.stream,
        // One partition key: every record on one shard, the poison between its neighbours.
        Records: payloads.map((payload) => ({ Data: Buffer.from(payload), PartitionKey: 'hostile' })),
      }),
    );
    expect(response.FailedRecordCount ?? 0).toBe(0);
    const put = response.Records ?? [];
    const events = [good[0], ...hostile.map(() => ({})), good[1], good[2], good[3]];
    const results: IngestResult[] = put.map((record, index) => ({
      index,
      status: index === 0 || index > hostile.length ? 'accepted' : 'poison',
      sequenceNumber: record.SequenceNumber,
      shardId: record.ShardId,
    }));
    accepted.push(...acceptedRecords(events, results));
    await expectEveryViewEqualsBruteForce();
    expect(runtime.discarded).toEqual([]);
  }, 300_000);

  it('later batch runs of every view flip, twice, and answer brute force over the valid events', async () => {
    await new Promise((resolve) => setTimeout(resolve, EPOCH_WAIT_MS));
    const first = await runtime.runBatchNow();
    expect(first.views.map((view) => [view.view, view.outcome])).toEqual(
      config.views.map((view) => [view.name, 'flipped']),
    );
    await expectEveryViewEqualsBruteForce();
    // A second window of new data, so that the second run has its own rows to write.
    const more = [valid(), valid()];
    const { results } = await postText(JSON.stringify(more));
    accepted.push(...acceptedRecords(more, results));
    await new Promise((resolve) => setTimeout(resolve, EPOCH_WAIT_MS));
    const second = await runtime.runBatchNow();
    expect(second.views.every((view) => view.outcome === 'flipped')).toBe(true);
    await expectEveryViewEqualsBruteForce();
    expect(runtime.discarded).toEqual([]);
  }, 300_000);
});
