import { InterruptibleSleep } from './interruptible-sleep';

export interface BatchSchedulerOptions<T> {
  /** The batch job: in the local runtime, the real batch handler with the DuckDB engine. */
  readonly job: () => Promise<T>;
  readonly intervalMs: number;
  readonly onResult?: (result: T) => void;
  readonly onError?: (error: unknown) => void;
  /** Wall-clock time, for when runs start and finish and when the next is due. @default Date.now */
  readonly now?: () => number;
}

/** A finished run, scheduled or forced: when it ran, and its result or the error it failed with. */
export type BatchRunRecord<T> = { readonly startedAtMs: number; readonly finishedAtMs: number } & (
  { readonly succeeded: true; readonly result: T } | { readonly succeeded: false; readonly error: unknown }
);

/**
 * A local stand-in for the EventBridge Scheduler schedule that invokes the batch job. Runs never overlap: in AWS
 * the batch function's reserved concurrency of 1 guarantees that, and `runNow` joins the queue rather than racing.
 * As a rate schedule, runs are due at fixed times (start + k × interval); a tick that passes during a run is skipped.
 */
export class BatchScheduler<T> {
  private running = false;
  private loop: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly sleeper = new InterruptibleSleep();
  private readonly now: () => number;
  private runs = 0;
  private scheduleStartedAtMs: number | undefined;
  /** The tick the loop last ran at: a timer that fires a millisecond early must not make it due twice. */
  private lastTickMs = Number.NEGATIVE_INFINITY;
  private latestRun: BatchRunRecord<T> | null = null;

  constructor(private readonly options: BatchSchedulerOptions<T>) {
    this.now = options.now ?? Date.now;
  }

  get runCount(): number {
    return this.runs;
  }

  /** The latest run to finish, scheduled or forced (null before any has). */
  get lastRun(): BatchRunRecord<T> | null {
    return this.latestRun;
  }

  /** When the schedule runs the job next (its first tick after now), or null when it is not running. */
  get nextRunAtMs(): number | null {
    if (!this.running || this.scheduleStartedAtMs === undefined) return null;
    return nextTick(this.scheduleStartedAtMs, this.options.intervalMs, Math.max(this.now(), this.lastTickMs));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleStartedAtMs = this.now();
    this.loop = this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.sleeper.wakeAll();
    await this.loop;
    await this.queue.catch(() => undefined);
  }

  /** Runs the job now, after any run in progress; rejects with the job's error. */
  runNow(): Promise<T> {
    const run = this.queue
      .catch(() => undefined)
      .then(async () => {
        this.runs += 1;
        const startedAtMs = this.now();
        try {
          const result = await this.options.job();
          this.latestRun = { startedAtMs, finishedAtMs: this.now(), succeeded: true, result };
          return result;
        } catch (error) {
          this.latestRun = { startedAtMs, finishedAtMs: this.now(), succeeded: false, error };
          throw error;
        }
      });
    this.queue = run;
    return run;
  }

  private async schedule(): Promise<void> {
    while (this.running) {
      const due = this.nextRunAtMs;
      if (due === null) break;
      await this.sleeper.sleep(Math.max(0, due - this.now()));
      if (!this.running) break;
      this.lastTickMs = due;
      try {
        // Not `onResult?.(await this.runNow())`: an absent onResult would short-circuit the run itself.
        const result = await this.runNow();
        this.options.onResult?.(result);
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }
}

/** The first of start + k × interval (k ≥ 1) later than `nowMs`. */
export function nextTick(startedAtMs: number, intervalMs: number, nowMs: number): number {
  const elapsedTicks = Math.max(0, Math.floor((nowMs - startedAtMs) / intervalMs));
  return startedAtMs + (elapsedTicks + 1) * intervalMs;
}
