import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { randomUUID } from 'node:crypto';
import type { StreamRecord } from '../../functions/core/stream-record';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';
import { IotTraffic } from '../../local/iot-traffic';
import { acceptedRecords, type IngestResult } from '../support/accepted-records';
import { answerBuckets, bruteForceAnswer, type AnswerBucket, type PresentedBucket } from '../support/brute-force';
import { eventually } from '../support/eventually';
import { DeployedRebuilds, type RebuiltState } from './deployed-rebuilds';
import { cutoffCovering, flipCoveringWithinMs, type DeployedStack } from './deployed-stack';
import { knownGap, type GapCheck } from './known-gaps';

/** The stack global-setup.ts found, known before the tests are named. */
const stack = JSON.parse(process.env.E2E_DEPLOYED_STACK ?? 'null') as DeployedStack;
if (stack === null) throw new Error('run this suite with `npm run test:e2e`, whose global setup finds the stack');

/**
 * The deployed stack, end to end, through its API (and the stream, for a record the API would refuse). Every key
 * this run writes carries this run tag, so the brute force over this run's events is the whole truth for those
 * keys even on a stack that has served other traffic.
 */
const RUN = randomUUID().slice(0, 8);
/** The longest this suite waits for a batch run; a stack on hourly production timing is skipped, saying so. */
const MAX_FLIP_WAIT_MS = Number(process.env.E2E_MAX_WAIT_MINUTES ?? 15) * 60_000;
/** The longest this suite waits for a rebuild to flip (on an emulator's empty archive it takes seconds). */
const REBUILD_WAIT_MS = MAX_FLIP_WAIT_MS;
/** What the API calls a served batch version: the base (b0 before any rebuild) and the served cutoff. */
const BATCH_VERSION = /^(b0|r\d+-\d+)\+w\d+$/;

let views: ViewDefinition[];
/** Every record the stream accepted for this run, with the identity the API reported. */
const accepted: StreamRecord[] = [];
/** When the last accepted event of this run had certainly arrived. */
let lastArrivalBy = 0;

type Bucket = AnswerBucket & {
  count: number;
  batch: PresentedBucket | null;
  realtime: PresentedBucket | null;
};
interface Answer {
  provenance: { batchVersion: string; cutoffMs: number } | null;
  series: { key: Record<string, string>; buckets: Bucket[] }[];
}

/** Calls the API with the stack's key, or with none when `key` is null. */
async function api(path: string, init: RequestInit = {}, key: string | null = stack.apiKey) {
  const response = await fetch(`${stack.apiBase}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'x-api-key': key }) },
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = { message: text };
  }
  return { status: response.status, body };
}

type PostResult = IngestResult & { status: 'accepted' | 'rejected' | 'failed' };

/** Posts events and remembers the accepted ones as the brute force counts them. */
async function send(events: readonly Record<string, unknown>[]): Promise<PostResult[]> {
  const { status, body } = await api('/events', { method: 'POST', body: JSON.stringify(events) });
  const results = (body as { results?: PostResult[] }).results;
  if (results === undefined) throw new Error(`POST /events answered ${status}: ${JSON.stringify(body)}`);
  accepted.push(...acceptedRecords(events, results));
  lastArrivalBy = Date.now();
  return results;
}

/** This run's traffic: late events, a share of invalid ones, and keys no other run uses. */
function traffic(count: number, invalidShare: number): Record<string, unknown>[] {
  return new IotTraffic({ devices: 5, lateShare: 0.3, invalidShare }).batch(count).map((event) => ({
    ...event,
    ...(typeof event.deviceId === 'string' ? { deviceId: `e2e-${RUN}-${event.deviceId}` } : {}),
    site: `e2e-${RUN}-${String(event.site)}`,
    ...(typeof event.metric === 'string' && event.metric !== '' ? { metric: `e2e-${RUN}-${event.metric}` } : {}),
  }));
}

/** A view's answer for every key this run wrote, in one request, as a map comparable with bruteForce. */
async function answer(view: ViewDefinition): Promise<{ buckets: Map<string, PresentedBucket>; body: Answer }> {
  const values = view.dimensions.map(
    (dimension) => `${dimension}=${[...new Set(accepted.map((record) => record.event[dimension]))].join(',')}`,
  );
  const from = Math.min(...accepted.map((record) => Number(record.event.ts))) - 86_400_000;
  const to = Date.now() + 3_600_000;
  const { status, body } = await api(`/views/${view.name}?${values.join('&')}&from=${from}&to=${to}`);
  if (status !== 200) throw new Error(`GET /views/${view.name} answered ${status}: ${JSON.stringify(body)}`);
  const buckets = answerBuckets((body as Answer).series, view.dimensions);
  return { buckets, body: body as Answer };
}

const sorted = (buckets: Map<string, PresentedBucket>) => JSON.stringify([...buckets].sort());

/** Waits until every view answers exactly the brute force over this run's events. */
async function expectEveryViewExact(timeoutMs: number): Promise<void> {
  for (const view of views) {
    const expected = sorted(bruteForceAnswer(view, accepted));
    await eventually(
      `${view.name} to equal brute force over ${accepted.length} events`,
      async () => (sorted((await answer(view)).buckets) === expected ? true : undefined),
      timeoutMs,
    );
  }
}

/** The view's served version, as its answers report it: each view has its own manifest, base and cutoff. */
async function provenance(view: ViewDefinition): Promise<Answer['provenance']> {
  return (await answer(view)).body.provenance;
}

/** The longest a covering batch run can take to appear on this stack, whenever the events arrived. */
const worstFlipWaitMs = flipCoveringWithinMs(stack.timing, 0) + stack.timing.epochLengthMs;

/** Why a batch check is skipped here: a known gap of the target, or a schedule slower than this suite waits. */
function batchCheckSkipReason(gap: GapCheck): string | undefined {
  if (stack.architecture === 'kappa') return 'in Kappa mode: the stack has no batch job';
  const known = knownGap(stack.target, gap);
  if (known !== undefined) return `on ${stack.target}: ${known}`;
  if (worstFlipWaitMs > MAX_FLIP_WAIT_MS) {
    return (
      `this stack's timing needs up to ${Math.ceil(worstFlipWaitMs / 60_000)} minutes for a covering batch run, ` +
      `above E2E_MAX_WAIT_MINUTES (${MAX_FLIP_WAIT_MS / 60_000}); deploy with \`npm run deploy:local\` timing or raise it`
    );
  }
  return undefined;
}

/** A batch check, or the same check skipped with the reason in its name (and printed) where it cannot pass. */
function batchCheck(name: string, gap: GapCheck, test: () => Promise<void>, extraTimeoutMs = 0): void {
  const reason = batchCheckSkipReason(gap);
  if (reason === undefined) {
    it(name, test, worstFlipWaitMs + 120_000 + extraTimeoutMs);
  } else {
    console.warn(`skipped: ${name}\n  because ${reason}`);
    it.skip(`${name} [skipped ${reason}]`, test);
  }
}

/** Waits for a batch version of the view (the first by default) whose cutoff covers everything this run posted. */
async function coveringVersion(view: ViewDefinition = views[0]): Promise<NonNullable<Answer['provenance']>> {
  const cutoff = cutoffCovering(stack.timing, lastArrivalBy);
  return eventually(
    `a batch version of ${view.name} with a cutoff at or after ${new Date(cutoff).toISOString()}`,
    async () => {
      const current = await provenance(view);
      return current !== null && current.cutoffMs >= cutoff ? current : undefined;
    },
    flipCoveringWithinMs(stack.timing, lastArrivalBy),
  );
}

beforeAll(async () => {
  const { status, body } = await api('/views');
  if (status !== 200) throw new Error(`GET /views answered ${status}: ${JSON.stringify(body)}`);
  // The listing names each measure and what it computes (`max(value)`): back into the declaration notation. The
  // default views have no sketches, whose precision or boundaries that notation would not carry, so measureDetails
  // (kind, field and a sketch's accuracy) adds nothing here.
  type Listed = Omit<ViewDefinition, 'measures'> & {
    measures: string[];
    measureDefinitions: Record<string, string>;
    measureDetails: unknown;
  };
  views = defineViews(
    (body as { views: Listed[] }).views.map(({ measures, measureDefinitions, measureDetails: _details, ...view }) => ({
      ...view,
      measures: Object.fromEntries(
        measures.map((name) => {
          const [, kind, field] = /^(\w+)\((\w+)\)$/.exec(measureDefinitions[name] ?? '') ?? [];
          return [name, kind === undefined ? 'count' : { [kind]: field }];
        }),
      ),
    })),
  );
}, 60_000);

describe('the deployed pipeline, through its API', () => {
  it('refuses a request without the API key', async () => {
    expect((await api('/views', {}, null)).status).toBe(403);
    expect((await api('/events', { method: 'POST', body: '{}' }, null)).status).toBe(403);
  });

  it('makes posted events, late and duplicate ones included, visible in every view, equal to brute force', async () => {
    // Start early in an arrival epoch, so the views are checked before any batch run can take these events over.
    const epoch = stack.timing.epochLengthMs;
    if (epoch - (Date.now() % epoch) < Math.min(40_000, epoch / 2)) {
      await new Promise((resolve) => setTimeout(resolve, epoch - (Date.now() % epoch) + 1_000));
    }
    const events = traffic(200, 0);
    // A producer retry: the same events again are new Kinesis records, and count again (no view dedupes by id).
    const results = await send([...events, ...events.slice(0, 10)]);
    expect(results.every((result) => result.status === 'accepted')).toBe(true);
    await expectEveryViewExact(60_000);
  }, 120_000);

  it('rejects invalid events with their reasons and accepts the valid ones beside them', async () => {
    const [valid] = traffic(1, 0);
    const before = accepted.length;
    const results = await send([{ ...valid, value: 'hot' }, { ...valid, ts: 'yesterday' }, valid, { eventId: 1 }]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'accepted', 'rejected']);
    expect(results[0].errors).toEqual(['value: expected a finite number']);
    expect(results[1].errors?.[0]).toMatch(/^ts: /);
    expect(results[3].errors).toEqual(expect.arrayContaining(['eventId: expected a string', 'deviceId: required']));
    expect(accepted.length).toBe(before + 1);

    const malformed = await api('/events', { method: 'POST', body: '{"eventId":' });
    expect(malformed.status).toBe(400);
    expect((malformed.body as { message: string }).message).toContain('body: malformed JSON');
    const unknown = await api('/views/no_such_view');
    expect(unknown.status).toBe(404);
    expect((unknown.body as { message: string }).message).toContain('view: unknown view "no_such_view"');
    // A dimension left out is a group-by now; a ranking parameter without orderBy is still the caller's mistake.
    const unranked = await api(`/views/${views[0].name}?limit=3`);
    expect(unranked.status).toBe(400);
    expect((unranked.body as { message: string }).message).toContain('limit: only with orderBy');
    await expectEveryViewExact(60_000);
  }, 120_000);

  it('skips a poison record put straight on the stream and goes on with the records behind it on its shard', async () => {
    const kinesis = new KinesisClient({});
    try {
      const [valid] = traffic(1, 0);
      await kinesis.send(
        new PutRecordCommand({
          StreamName: stack.streamName,
          PartitionKey: String(valid.deviceId),
          Data: Buffer.from('{"eventId": '),
        }),
      );
      await send([valid]);
    } finally {
      kinesis.destroy();
    }
    await expectEveryViewExact(60_000);
  }, 120_000);

  batchCheck(
    'runs the scheduled batch job, which flips every view to a version whose cutoff covers every posted event',
    'scheduled-batch-flip',
    async () => {
      for (const view of views) {
        const served = await coveringVersion(view);
        expect(served.batchVersion).toMatch(BATCH_VERSION);
        expect(served.cutoffMs).toBeGreaterThanOrEqual(cutoffCovering(stack.timing, lastArrivalBy));
      }
    },
  );

  batchCheck(
    'answers equal brute force after the flip, every bucket from the batch view',
    'exact-after-flip',
    async () => {
      // Each view flips on its own: wait until every one serves a cutoff that covers this run's events.
      for (const view of views) await coveringVersion(view);
      await expectEveryViewExact(30_000);
      for (const view of views) {
        const { body } = await answer(view);
        expect(body.provenance?.batchVersion).toMatch(BATCH_VERSION);
        expect(body.provenance?.cutoffMs).toBeGreaterThanOrEqual(cutoffCovering(stack.timing, lastArrivalBy));
        for (const bucket of body.series.flatMap((series) => series.buckets)) {
          expect(bucket.realtime).toBeNull();
          expect(bucket.batch?.count).toBe(bucket.count);
        }
      }
    },
  );
});

/** A rebuild check, run on every target of the Lambda architecture; in Kappa mode skipped, saying so. */
function rebuildCheck(name: string, test: () => Promise<void>): void {
  if (stack.architecture === 'kappa') {
    const reason = 'in Kappa mode: the stack has no batch views to rebuild';
    console.warn(`skipped: ${name}\n  because ${reason}`);
    it.skip(`${name} [skipped ${reason}]`, test);
  } else {
    it(name, test, REBUILD_WAIT_MS + 300_000);
  }
}

/** The view's served batch version as the API reports it, for a key nobody writes: only the manifest matters. */
async function servedVersion(view: ViewDefinition): Promise<string | null> {
  const keys = view.dimensions.map((dimension) => `${dimension}=e2e-${RUN}-probe`).join('&');
  const now = Date.now();
  const { status, body } = await api(`/views/${view.name}?${keys}&from=${now - 3_600_000}&to=${now + 3_600_000}`);
  if (status !== 200) throw new Error(`GET /views/${view.name} answered ${status}: ${JSON.stringify(body)}`);
  return (body as Answer).provenance?.batchVersion ?? null;
}

/** Waits until the API serves the view from `state`'s base (its manifest cache lasts seconds). */
async function expectServedFrom(view: ViewDefinition, state: RebuiltState): Promise<void> {
  await eventually(
    `GET /views/${view.name} to answer from base ${state.base.id}`,
    async () => {
      if ((await servedVersion(view))?.startsWith(`${state.base.id}+w`) === true) return true;
      await new Promise((resolve) => setTimeout(resolve, 500));
      return undefined;
    },
    60_000,
  );
}

/** A flipped base: a rebuild id, a cutoff at or after the one served when it started, and served. */
function expectBaseAfter(state: RebuiltState, servedBefore: number | null): void {
  expect(state.base.id).toMatch(/^r\d+-\d+$/);
  expect(state.base.cutoff).toBeGreaterThan(0);
  expect(state.base.cutoff).toBeGreaterThanOrEqual(servedBefore ?? 0);
  expect(state.cutoff).toBeGreaterThanOrEqual(state.base.cutoff);
  console.log(
    `${state.view}: base ${state.base.id} served, cutoff ${new Date(state.base.cutoff).toISOString()}, ` +
      `${state.base.rows} rows`,
  );
}

describe('rebuilds on the deployed stack, through the rebuild Lambda', () => {
  let rebuilds: DeployedRebuilds;
  beforeAll(() => {
    rebuilds = new DeployedRebuilds(stack);
  });
  afterAll(() => rebuilds.destroy());

  rebuildCheck(
    'rebuilds a view invoked asynchronously, as `npm run rebuild -- --stack` does: the engine computes it in the ' +
      'Lambda, the base flips, and the API answers from it',
    async () => {
      const view = views[0];
      const before = await rebuilds.state(view.name);
      const started = Date.now();
      await rebuilds.invoke({ kind: 'batch', view: view.name }, 'Event');
      const after = await rebuilds.newBase(view.name, before.base?.id ?? null, REBUILD_WAIT_MS);
      console.log(`${view.name}: rebuilt in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      expectBaseAfter(after, before.cutoff);
      await expectServedFrom(view, after);
    },
  );

  rebuildCheck(
    'rebuilds every view when invoked as the schedule does ({"view":"*"}): the function invokes itself ' +
      'asynchronously, by its own name as a long rebuild continues, and every view flips to a new base',
    async () => {
      const before = new Map(
        await Promise.all(views.map(async (view) => [view.name, await rebuilds.state(view.name)] as const)),
      );
      const started = Date.now();
      const answered = await rebuilds.invoke({ kind: 'batch', view: '*' }, 'RequestResponse');
      expect(answered).toEqual({ started: views.map((view) => view.name) });
      const after = await Promise.all(
        views.map((view) => rebuilds.newBase(view.name, before.get(view.name)?.base?.id ?? null, REBUILD_WAIT_MS)),
      );
      console.log(`every view rebuilt in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      for (const [index, view] of views.entries()) {
        expectBaseAfter(after[index], before.get(view.name)?.cutoff ?? null);
        await expectServedFrom(view, after[index]);
      }
    },
  );

  batchCheck(
    'a rebuilt base holds what the windows held: its rows come from result files in the work bucket, and answers ' +
      'equal brute force, every bucket from the batch view',
    'exact-after-rebuild',
    async () => {
      const covering = cutoffCovering(stack.timing, lastArrivalBy);
      for (const view of views) await coveringVersion(view);
      // The rebuilds above may have started before a window covered every posted event: rebuild those views again.
      const states = await Promise.all(
        views.map(async (view): Promise<RebuiltState> => {
          const current = await rebuilds.state(view.name);
          if (current.base !== null && current.cutoff !== null && current.base.cutoff >= covering) {
            return { ...current, base: current.base, cutoff: current.cutoff };
          }
          await rebuilds.invoke({ kind: 'batch', view: view.name }, 'Event');
          return rebuilds.newBase(view.name, current.base?.id ?? null, REBUILD_WAIT_MS);
        }),
      );
      for (const [index, view] of views.entries()) {
        const state = states[index];
        expect(state.base.cutoff).toBeGreaterThanOrEqual(covering);
        expect(state.base.rows).toBeGreaterThan(0);
        expect((await rebuilds.resultFiles(view.name, state.base.id)).length).toBeGreaterThan(0);
        await expectServedFrom(view, state);
      }
      await expectEveryViewExact(30_000);
      for (const view of views) {
        const { body } = await answer(view);
        for (const bucket of body.series.flatMap((series) => series.buckets)) {
          expect(bucket.realtime).toBeNull();
          expect(bucket.batch?.count).toBe(bucket.count);
        }
      }
    },
    REBUILD_WAIT_MS + 300_000,
  );
});
