/**
 * How many events `npm run simulate` owes at a given moment. The target is the requested rate times the time elapsed
 * (capped at the duration), not a fixed share per tick: a slow answer or a late timer delays a tick, and the next
 * tick sends the backlog instead of losing it. The backlog a tick may send is bounded (`maxBacklog`), so a server
 * slower than the rate gets bursts of at most that size; what lies beyond the bound is given up and stays a
 * shortfall, which the progress lines and the summary report.
 */
export interface SendScheduleOptions {
  readonly ratePerSecond: number;
  readonly durationMs: number;
  readonly startedMs: number;
  /** The most events one take() hands out: a catch-up burst's bound. */
  readonly maxBacklog: number;
}

export class SendSchedule {
  private taken = 0;
  private givenUp = 0;

  constructor(private readonly options: SendScheduleOptions) {
    if (!(options.maxBacklog >= 1)) throw new Error(`maxBacklog: expected at least 1, got ${options.maxBacklog}`);
  }

  /** When the last events are due. */
  get endMs(): number {
    return this.options.startedMs + this.options.durationMs;
  }

  /** Events the whole run asks for: the rate times the duration. */
  get requested(): number {
    return this.targetAt(this.endMs);
  }

  /** Events handed out so far. */
  get sent(): number {
    return this.taken;
  }

  /** Events due by `nowMs`: the rate times the time elapsed, never past the duration. */
  targetAt(nowMs: number): number {
    const elapsed = Math.min(Math.max(0, nowMs - this.options.startedMs), this.options.durationMs);
    return Math.floor((this.options.ratePerSecond * elapsed) / 1000);
  }

  /**
   * The events to send now, which count as sent from here on: everything due and not yet sent, at most maxBacklog.
   * Any excess is given up for good, so one stall never turns into an endless burst.
   */
  take(nowMs: number): number {
    const owed = Math.max(0, this.targetAt(nowMs) - this.taken - this.givenUp);
    const size = Math.min(owed, this.options.maxBacklog);
    this.givenUp += owed - size;
    this.taken += size;
    return size;
  }

  /** Events due by the last take(): those handed out and those given up. */
  get due(): number {
    return this.taken + this.givenUp;
  }

  /** Events given up for good because a stall owed more than maxBacklog: the shortfall so far. */
  get shortfall(): number {
    return this.givenUp;
  }
}
