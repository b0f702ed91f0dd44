/**
 * The batch job's clock in the local runtime: real time plus an offset that a test (or a forced run) moves on to
 * stand for time passing, so nobody waits out the buffer interval, the safety margin and an epoch.
 */
export class AdjustableClock {
  private offsetMs = 0;

  readonly now = (): number => Date.now() + this.offsetMs;

  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
