/**
 * The account of an `npm run simulate` run: what became of the events it sent (accepted, late, rejected and why,
 * failed, unanswered), and how it says so: a progress line a second, a summary at the end that reads differently
 * from them, with an example query for one of the keys it sent, and the one line for an API that does not answer.
 * Pure: simulate.ts does the posting and the printing.
 */
import type { EventSchema } from '../functions/core/event-schema';
import { matchesFilter } from '../functions/core/view-filter';
import type { ViewDefinition } from '../functions/core/view-declaration';
import type { SendSchedule } from './send-schedule';

/** One record's answer from POST /events, as far as simulate reads it. */
export interface RecordAnswer {
  readonly status?: string;
  readonly errors?: readonly string[];
}

/** An event counts as late when its time is at least this far behind its sending (the generator's are 1 to 120 min). */
export const LATE_AFTER_MS = 60_000;

/** Keys remembered per view for the example query: enough to find a busy one, bounded on a long run. */
const MAX_KEYS_PER_VIEW = 10_000;

/** Rejection reasons listed in the summary; the rest are counted together. */
const MAX_REASONS = 5;

export class SimulationTally {
  sent = 0;
  accepted = 0;
  /** Accepted events whose event time lay LATE_AFTER_MS or more behind their sending. */
  late = 0;
  rejected = 0;
  /** Events the API answered as failed (the stream refused them after retries) or unknown (the write broke). */
  failed = 0;
  /** Events of requests that got no per-event answer: refused as a whole (4xx, 5xx) or never answered. */
  unanswered = 0;
  /** Requests that got no per-event answer. */
  failedRequests = 0;
  firstRequestProblem: string | undefined;
  readonly rejectedByReason = new Map<string, number>();
  /** Per view, each key of accepted events that the view counts, as its query string, with how many were sent. */
  private readonly keysByView: Map<string, number>[];

  constructor(
    private readonly schema: EventSchema,
    private readonly views: readonly ViewDefinition[],
  ) {
    this.keysByView = views.map(() => new Map());
  }

  /** A request the API answered per event: `answers[i]` is what became of `events[i]`. */
  recordAnswers(events: readonly Record<string, unknown>[], answers: readonly RecordAnswer[], sentAtMs: number): void {
    this.sent += events.length;
    events.forEach((event, index) => {
      const answer = answers[index];
      if (answer?.status === 'accepted') {
        this.accepted += 1;
        if (sentAtMs - eventTimeMs(event[this.schema.time]) >= LATE_AFTER_MS) this.late += 1;
        this.rememberKeys(event);
      } else if (answer?.status === 'rejected') {
        this.rejected += 1;
        for (const reason of answer.errors?.length ? answer.errors : ['(no reason given)']) {
          this.rejectedByReason.set(reason, (this.rejectedByReason.get(reason) ?? 0) + 1);
        }
      } else if (answer === undefined) {
        this.unanswered += 1;
      } else {
        this.failed += 1;
      }
    });
  }

  /** A request of `count` events that got no per-event answer, and why (`HTTP 503: ...`, a network error). */
  recordUnanswered(count: number, problem: string): void {
    this.sent += count;
    this.unanswered += count;
    this.failedRequests += 1;
    this.firstRequestProblem ??= problem;
  }

  /** The first view (in declared order) that counted an accepted event, and its busiest key's query string. */
  busiestKey(): { view: ViewDefinition; query: string } | undefined {
    for (const [index, keys] of this.keysByView.entries()) {
      let best: [string, number] | undefined;
      for (const entry of keys) if (best === undefined || entry[1] > best[1]) best = entry;
      if (best !== undefined) return { view: this.views[index], query: best[0] };
    }
    return undefined;
  }

  private rememberKeys(event: Record<string, unknown>): void {
    this.views.forEach((view, index) => {
      const values = view.dimensions.map((field) => event[field]);
      if (!values.every((value) => typeof value === 'string' && value !== '')) return;
      if (!matchesFilter(view, event)) return;
      const query = view.dimensions
        .map((field, position) => `${field}=${queryValue(values[position] as string)}`)
        .join('&');
      const keys = this.keysByView[index];
      const count = keys.get(query);
      if (count !== undefined) keys.set(query, count + 1);
      else if (keys.size < MAX_KEYS_PER_VIEW) keys.set(query, 1);
    });
  }
}

/** Epoch ms of an event's time as the generator writes it (ISO text or epoch ms); NaN for a broken one. */
function eventTimeMs(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Date.parse(value);
  return Number.NaN;
}

/** A query-string value that is also safe inside the single quotes of a shell command. */
function queryValue(value: string): string {
  return encodeURIComponent(value).replace(/'/g, '%27');
}

const count = (n: number) => n.toLocaleString('en-US');
const perSecond = (events: number, elapsedMs: number) => (events / Math.max(elapsedMs / 1000, 0.001)).toFixed(1);

/** The line printed every second while sending. */
export function progressLine(tally: SimulationTally, schedule: SendSchedule, nowMs: number, startedMs: number): string {
  const short = Math.max(0, schedule.due - tally.sent);
  return (
    `${Math.floor((nowMs - startedMs) / 1000)} s  sent ${count(tally.sent)}  accepted ${count(tally.accepted)}` +
    `  rejected ${count(tally.rejected)}  failed ${count(tally.failed + tally.unanswered)}` +
    `  ${perSecond(tally.sent, nowMs - startedMs)}/s` +
    (short > 0 ? `  short of the rate by ${count(short)}` : '')
  );
}

export interface SummaryInput {
  readonly tally: SimulationTally;
  readonly schedule: SendSchedule;
  readonly ratePerSecond: number;
  readonly startedMs: number;
  readonly endedMs: number;
  /** Why it stopped before the duration was over, e.g. `Ctrl-C`; absent when it ran to the end. */
  readonly stoppedBy?: string;
  /** The API address as given with --url. */
  readonly url: string;
  /** Header arguments for the example curl, e.g. `-H "x-api-key: $API_KEY"`; empty for a local run. */
  readonly curlHeaders?: string;
}

/**
 * The summary at the end: what was sent against what was asked (and any shortfall), what became of it, and a query
 * for the busiest key of the first view that counted an accepted event, on the URL it posted to.
 */
export function summaryLines(input: SummaryInput): string[] {
  const { tally, schedule, ratePerSecond, startedMs, endedMs, stoppedBy } = input;
  const elapsedMs = endedMs - startedMs;
  // A run cut short owes what was due by its last tick; the events it had not posted yet count as short.
  const due = stoppedBy === undefined ? schedule.requested : schedule.due;
  const short = Math.max(0, due - tally.sent);
  const lines = [
    `${stoppedBy === undefined ? 'done' : `stopped (${stoppedBy})`}: sent ${count(tally.sent)} of ` +
      `${count(due)} events${stoppedBy === undefined ? '' : ' due by then'} in ${(elapsedMs / 1000).toFixed(1)} s, ` +
      `${perSecond(tally.sent, elapsedMs)}/s (asked for ${ratePerSecond}/s)` +
      (short > 0 ? `; ${count(short)} short: posting took longer than the rate allows` : ''),
    `  accepted  ${count(tally.accepted)}` +
      (tally.accepted > 0 ? `, of which ${count(tally.late)} late (event time a minute or more before sending)` : ''),
    `  rejected  ${count(tally.rejected)}${tally.rejected > 0 ? ', by reason:' : ''}`,
  ];
  const reasons = [...tally.rejectedByReason].sort((a, b) => b[1] - a[1]);
  const width = Math.max(0, ...reasons.slice(0, MAX_REASONS).map(([, n]) => count(n).length));
  for (const [reason, n] of reasons.slice(0, MAX_REASONS)) lines.push(`    ${count(n).padStart(width)}  ${reason}`);
  if (reasons.length > MAX_REASONS) {
    const rest = reasons.slice(MAX_REASONS).reduce((sum, [, n]) => sum + n, 0);
    lines.push(`    ${count(rest).padStart(width)}  for ${reasons.length - MAX_REASONS} other reasons`);
  }
  lines.push(`  failed    ${count(tally.failed)}`);
  if (tally.unanswered > 0) {
    lines.push(
      `  no answer ${count(tally.unanswered)} (${count(tally.failedRequests)} ` +
        `${tally.failedRequests === 1 ? 'request' : 'requests'} failed; first: ${tally.firstRequestProblem})`,
    );
  }
  const example = tally.busiestKey();
  if (example === undefined) {
    lines.push('no event was accepted, so there is no key to query');
  } else {
    const headers = input.curlHeaders ? ` ${input.curlHeaders}` : '';
    lines.push(
      `query the busiest key it sent to ${example.view.name}:`,
      `  curl -s '${apiBase(input.url)}/views/${example.view.name}?${example.query}'${headers}`,
    );
  }
  return lines;
}

/** The URL without its trailing slash: a deployed stack's ApiUrl output ends with one. */
export function apiBase(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * The one line for an API that does not answer (refused, unknown host, timed out): what to do about it, rather
 * than a count of errors. `cause` is the system error code, named unless it is the plain refusal.
 */
export function nothingAnswersLine(url: string, cause?: string): string {
  const base = apiBase(url);
  const why = cause === undefined || cause === 'ECONNREFUSED' ? '' : ` (${cause})`;
  const host = hostOf(base);
  const local = host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  return local
    ? `nothing answers at ${base}${why}: start the pipeline with \`npm start\``
    : `nothing answers at ${base}${why}: check --url (a deployed stack's ApiUrl output) or start one with \`npm start\``;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

/** The system error code of a failed fetch (ECONNREFUSED, ENOTFOUND, ...), wherever undici put it, else its message. */
export function networkCause(error: unknown): string {
  const shaped = error as { name?: unknown; code?: unknown; cause?: { code?: unknown }; message?: unknown } | null;
  if (shaped?.name === 'TimeoutError') return 'timed out';
  if (typeof shaped?.cause?.code === 'string') return shaped.cause.code;
  if (typeof shaped?.code === 'string') return shaped.code;
  return String(shaped?.message ?? error);
}
