import { BatchScheduler, nextTick } from '../../local/batch-scheduler';
import { eventually } from '../support/eventually';

describe('local batch scheduler: the last run and the next', () => {
  it('remembers a scheduled run with its result, and a forced one with its error', async () => {
    let failing = false;
    const scheduler = new BatchScheduler({
      intervalMs: 20,
      job: async () => {
        if (failing) throw new Error('forced run fails');
        return 'scheduled';
      },
    });
    expect(scheduler.lastRun).toBeNull();
    scheduler.start();
    const scheduled = await eventually('a scheduled run', () => scheduler.lastRun ?? undefined);
    await scheduler.stop();
    expect(scheduled).toMatchObject({ succeeded: true, result: 'scheduled' });
    expect(scheduled.finishedAtMs).toBeGreaterThanOrEqual(scheduled.startedAtMs);

    failing = true;
    await expect(scheduler.runNow()).rejects.toThrow('forced run fails');
    expect(scheduler.lastRun).toMatchObject({ succeeded: false, error: new Error('forced run fails') });
  });

  it('is due at the start plus a whole number of intervals while running, and not at all otherwise', async () => {
    let now = 1_000;
    const scheduler = new BatchScheduler({ intervalMs: 60_000, job: async () => 0, now: () => now });
    expect(scheduler.nextRunAtMs).toBeNull();
    scheduler.start();
    expect(scheduler.nextRunAtMs).toBe(61_000);
    now = 130_000;
    expect(scheduler.nextRunAtMs).toBe(181_000);
    await scheduler.stop();
    expect(scheduler.nextRunAtMs).toBeNull();
  });

  it('takes the first tick after now, never the start itself', () => {
    expect(nextTick(0, 10, 0)).toBe(10);
    expect(nextTick(0, 10, 9)).toBe(10);
    expect(nextTick(0, 10, 10)).toBe(20);
    expect(nextTick(100, 10, 50)).toBe(110);
  });
});
