import { InterruptibleSleep } from './interruptible-sleep';

export interface BatchSchedulerOptions<T> {
  /** The batch job: in the local runtime, the real batch handler with the DuckDB engine. */
  readonly job: () => Promise<T>;
  readonly intervalMs: number;
  readonly onResult?: (result: T) => void;
  readonly onError?: (error: unknown) => void;
}

/**
 * A local stand-in for the EventBridge Scheduler schedule that invokes the batch job. Runs never overlap: in AWS
 * the batch function's reserved concurrency of 1 guarantees that, and `runNow` joins the queue rather than racing.
 */
export class BatchScheduler<T> {
  private running = false;
  private loop: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly sleeper = new InterruptibleSleep();
  private runs = 0;

  constructor(private readonly options: BatchSchedulerOptions<T>) {}

  get runCount(): number {
    return this.runs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
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
        return this.options.job();
      });
    this.queue = run;
    return run;
  }

  private async schedule(): Promise<void> {
    while (this.running) {
      await this.sleeper.sleep(this.options.intervalMs);
      if (!this.running) break;
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
