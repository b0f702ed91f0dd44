import { DEFAULT_EVENT_SCHEMA } from '../../functions/core/event-schema';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { defineViews } from '../../functions/core/view-declaration';
import { SendSchedule } from '../../local/send-schedule';
import {
  networkCause,
  nothingAnswersLine,
  progressLine,
  SimulationTally,
  summaryLines,
  type RecordAnswer,
} from '../../local/simulation-summary';

const now = Date.UTC(2026, 11, 3, 9, 30);
const views = defineViews(DEFAULT_VIEW_DECLARATIONS, DEFAULT_EVENT_SCHEMA);

function reading(deviceId: string, metric: string, ageMs = 0): Record<string, unknown> {
  return {
    eventId: `e-${deviceId}-${metric}-${ageMs}`,
    deviceId,
    site: 'site-1',
    metric,
    value: 21.5,
    ts: new Date(now - ageMs).toISOString(),
  };
}

const accepted: RecordAnswer = { status: 'accepted' };
const rejected = (...errors: string[]): RecordAnswer => ({ status: 'rejected', errors });

/** A 30 s run at 50/s that sent everything it was asked to. */
function finishedSchedule(): SendSchedule {
  const schedule = new SendSchedule({ ratePerSecond: 50, durationMs: 30_000, startedMs: now, maxBacklog: 50 });
  for (let second = 1; second <= 30; second += 1) schedule.take(now + second * 1000);
  return schedule;
}

describe('the tally of a simulate run', () => {
  it('counts accepted, late (a minute or more behind sending), rejected by reason, failed and unanswered', () => {
    const tally = new SimulationTally(DEFAULT_EVENT_SCHEMA, views);
    tally.recordAnswers(
      [
        reading('device-001', 'temperature'),
        reading('device-001', 'humidity', 59_000),
        reading('device-002', 'temperature', 45 * 60_000),
        { ...reading('device-003', 'pressure'), value: 'hot' },
        { ...reading('device-004', 'pressure'), value: 'hot' },
        { ...reading('device-005', 'pressure'), ts: 'yesterday' },
        reading('device-006', 'pressure'),
        reading('device-007', 'pressure'),
      ],
      [
        accepted,
        accepted,
        accepted,
        rejected('value: expected a finite number'),
        rejected('value: expected a finite number'),
        rejected('ts: expected epoch milliseconds'),
        { status: 'failed' },
      ],
      now,
    );
    tally.recordUnanswered(500, 'HTTP 503: Service Unavailable');
    tally.recordUnanswered(500, 'timed out');
    expect(tally).toMatchObject({
      sent: 1008,
      accepted: 3,
      late: 1,
      rejected: 3,
      failed: 1,
      unanswered: 1001,
      failedRequests: 2,
      firstRequestProblem: 'HTTP 503: Service Unavailable',
    });
    expect([...tally.rejectedByReason]).toEqual([
      ['value: expected a finite number', 2],
      ['ts: expected epoch milliseconds', 1],
    ]);
  });

  it("finds the busiest key of the first view that counted an accepted event, as that view's query", () => {
    const tally = new SimulationTally(DEFAULT_EVENT_SCHEMA, views);
    const events = [
      reading('device-001', 'temperature'),
      reading('device-002', 'humidity'),
      reading('device-002', 'humidity'),
      reading('device-009', 'pressure'),
      reading('device-009', 'pressure'),
      reading('device-009', 'pressure'),
    ];
    // The rejected ones do not count, however many.
    tally.recordAnswers(events, [accepted, accepted, accepted, rejected('x'), rejected('x'), rejected('x')], now);
    expect(tally.busiestKey()).toEqual({ view: views[0], query: 'deviceId=device-002&metric=humidity' });
  });

  it('skips a view whose filter no accepted event passes, and encodes values for a URL inside single quotes', () => {
    const filtered = defineViews(
      [
        {
          name: 'hot_only',
          dimensions: ['deviceId'],
          granularity: 'minute',
          filter: [{ field: 'value', op: 'gt', value: 90 }],
        },
        { name: 'per_site', dimensions: ['site'], granularity: 'hour' },
      ],
      DEFAULT_EVENT_SCHEMA,
    );
    const tally = new SimulationTally(DEFAULT_EVENT_SCHEMA, filtered);
    tally.recordAnswers([{ ...reading('device-001', 'temperature'), site: "Bob's site/1" }], [accepted], now);
    expect(tally.busiestKey()).toEqual({ view: filtered[1], query: 'site=Bob%27s%20site%2F1' });
  });

  it('has no example key when nothing was accepted', () => {
    const tally = new SimulationTally(DEFAULT_EVENT_SCHEMA, views);
    tally.recordAnswers([reading('device-001', 'temperature')], [rejected('x')], now);
    expect(tally.busiestKey()).toBeUndefined();
  });
});

describe('what simulate prints', () => {
  it('ends with a summary unlike the progress lines, and a curl of a key it sent on the URL it posted to', () => {
    const tally = new SimulationTally(DEFAULT_EVENT_SCHEMA, views);
    const events = Array.from({ length: 1500 }, (_, index) => reading(`device-00${index % 3}`, 'temperature'));
    const answers = events.map((_, index) =>
      index % 50 === 0 ? rejected('value: expected a finite number') : accepted,
    );
    tally.recordAnswers(events, answers, now);
    const lines = summaryLines({
      tally,
      schedule: finishedSchedule(),
      ratePerSecond: 50,
      startedMs: now,
      endedMs: now + 30_040,
      url: 'http://127.0.0.1:3000/',
    });
    expect(lines).toEqual([
      'done: sent 1,500 of 1,500 events in 30.0 s, 49.9/s (asked for 50/s)',
      '  accepted  1,470, of which 0 late (event time a minute or more before sending)',
      '  rejected  30, by reason:',
      '    30  value: expected a finite number',
      '  failed    0',
      'query the busiest key it sent to device_metric_minute:',
      "  curl -s 'http://127.0.0.1:3000/views/device_metric_minute?deviceId=device-001&metric=temperature'",
    ]);
    expect(progressLine(tally, finishedSchedule(), now + 30_040, now)).toBe(
      '30 s  sent 1,500  accepted 1,470  rejected 30  failed 0  49.9/s',
    );
  });

  it('reports a shortfall against the rate, in the progress line and in the summary', () => {
    const tally = new SimulationTally(DEFAULT_EVENT_SCHEMA, views);
    const schedule = new SendSchedule({ ratePerSecond: 50, durationMs: 30_000, startedMs: now, maxBacklog: 50 });
    schedule.take(now + 1000);
    schedule.take(now + 4000); // a 3 s stall: 50 sent, 100 given up
    tally.recordAnswers(
      Array.from({ length: 100 }, () => reading('device-001', 'temperature')),
      Array.from({ length: 100 }, () => accepted),
      now,
    );
    expect(progressLine(tally, schedule, now + 4000, now)).toBe(
      '4 s  sent 100  accepted 100  rejected 0  failed 0  25.0/s  short of the rate by 100',
    );
    const [head] = summaryLines({
      tally,
      schedule,
      ratePerSecond: 50,
      startedMs: now,
      endedMs: now + 4000,
      stoppedBy: 'Ctrl-C',
      url: 'http://127.0.0.1:3000',
    });
    expect(head).toBe(
      'stopped (Ctrl-C): sent 100 of 200 events due by then in 4.0 s, 25.0/s (asked for 50/s); ' +
        '100 short: posting took longer than the rate allows',
    );
  });

  it('lists the five commonest rejection reasons, the rest together, and the requests that got no answer', () => {
    const tally = new SimulationTally(DEFAULT_EVENT_SCHEMA, views);
    const reasons = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const answers = reasons.flatMap((reason, index) => Array.from({ length: 7 - index }, () => rejected(reason)));
    tally.recordAnswers(
      answers.map(() => reading('device-001', 'temperature')),
      answers,
      now,
    );
    tally.recordUnanswered(10, 'HTTP 403: Forbidden');
    const lines = summaryLines({
      tally,
      schedule: finishedSchedule(),
      ratePerSecond: 50,
      startedMs: now,
      endedMs: now + 30_000,
      url: 'https://abc.execute-api.eu-west-1.amazonaws.com/prod/',
      curlHeaders: '-H "x-api-key: $API_KEY"',
    });
    expect(lines.slice(2)).toEqual([
      '  rejected  28, by reason:',
      '    7  a',
      '    6  b',
      '    5  c',
      '    4  d',
      '    3  e',
      '    3  for 2 other reasons',
      '  failed    0',
      '  no answer 10 (1 request failed; first: HTTP 403: Forbidden)',
      'no event was accepted, so there is no key to query',
    ]);
  });

  it('puts the API key header on the example query of a deployed stack', () => {
    const tally = new SimulationTally(DEFAULT_EVENT_SCHEMA, views);
    tally.recordAnswers([reading('device-001', 'temperature')], [accepted], now);
    const lines = summaryLines({
      tally,
      schedule: finishedSchedule(),
      ratePerSecond: 50,
      startedMs: now,
      endedMs: now + 30_000,
      url: 'https://abc.execute-api.eu-west-1.amazonaws.com/prod/',
      curlHeaders: '-H "x-api-key: $API_KEY"',
    });
    expect(lines.at(-1)).toBe(
      "  curl -s 'https://abc.execute-api.eu-west-1.amazonaws.com/prod/views/device_metric_minute?" +
        'deviceId=device-001&metric=temperature\' -H "x-api-key: $API_KEY"',
    );
  });

  it('says in one line that nothing answers, and what to do: npm start locally, --url otherwise', () => {
    expect(nothingAnswersLine('http://127.0.0.1:3000/', 'ECONNREFUSED')).toBe(
      'nothing answers at http://127.0.0.1:3000: start the pipeline with `npm start`',
    );
    expect(nothingAnswersLine('http://localhost:3000', 'timed out')).toBe(
      'nothing answers at http://localhost:3000 (timed out): start the pipeline with `npm start`',
    );
    expect(nothingAnswersLine('https://api.example.com/prod', 'ENOTFOUND')).toBe(
      "nothing answers at https://api.example.com/prod (ENOTFOUND): check --url (a deployed stack's ApiUrl output) " +
        'or start one with `npm start`',
    );
  });

  it("names a failed fetch's cause by its system error code", () => {
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) });
    expect(networkCause(refused)).toBe('ECONNREFUSED');
    expect(networkCause(Object.assign(new Error('The operation timed out'), { name: 'TimeoutError' }))).toBe(
      'timed out',
    );
    expect(networkCause(new Error('socket hang up'))).toBe('socket hang up');
  });
});
