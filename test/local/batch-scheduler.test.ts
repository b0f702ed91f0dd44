import { BatchScheduler } from '../../local/batch-scheduler';
import { eventually } from '../support/eventually';

describe('local batch scheduler', () => {
  it('runs the job every interval and reports each result', async () => {
    const results: number[] = [];
    let calls = 0;
    const scheduler = new BatchScheduler({
      job: async () => ++calls,
      intervalMs: 20,
      onResult: (n) => results.push(n),
    });
    scheduler.start();
    await eventually('three runs', () => (results.length >= 3 ? true : undefined));
    await scheduler.stop();
    expect(results.slice(0, 3)).toEqual([1, 2, 3]);
  });

  it('never overlaps two runs, even when one is forced during another', async () => {
    let active = 0;
    let maxActive = 0;
    const scheduler = new BatchScheduler({
      intervalMs: 60_000,
      job: async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await new Promise((resolve) => setTimeout(resolve, 30));
        active -= 1;
        return active;
      },
    });
    await Promise.all([scheduler.runNow(), scheduler.runNow(), scheduler.runNow()]);
    expect(maxActive).toBe(1);
    expect(scheduler.runCount).toBe(3);
  });

  it('reports a failed run and keeps the schedule going', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const scheduler = new BatchScheduler({
      intervalMs: 20,
      job: async () => {
        calls += 1;
        if (calls === 1) throw new Error('first run fails');
        return calls;
      },
      onError: (error) => errors.push(error),
    });
    scheduler.start();
    await eventually('a run after the failure', () => (calls >= 2 ? true : undefined));
    await scheduler.stop();
    expect(errors).toEqual([new Error('first run fails')]);
    await expect(
      new BatchScheduler({ intervalMs: 1, job: async () => Promise.reject(new Error('x')) }).runNow(),
    ).rejects.toThrow('x');
  });
});
