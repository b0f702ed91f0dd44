import { SendSchedule } from '../../local/send-schedule';

const started = 1_000_000;
const schedule = (ratePerSecond: number, durationS: number, maxBacklog = ratePerSecond) =>
  new SendSchedule({ ratePerSecond, durationMs: durationS * 1000, startedMs: started, maxBacklog });

describe('the send schedule of simulate', () => {
  it('owes the rate times the time elapsed, so ticks on time send the rate', () => {
    const plan = schedule(50, 30);
    const sizes = [200, 400, 600, 800, 1000].map((ms) => plan.take(started + ms));
    expect(sizes).toEqual([10, 10, 10, 10, 10]);
    expect(plan.sent).toBe(50);
    expect(plan.shortfall).toBe(0);
  });

  it('sends the backlog of a late tick in the next one, so a slow answer costs no events', () => {
    const plan = schedule(50, 30);
    expect(plan.take(started + 200)).toBe(10);
    // The answer took 700 ms: the next tick owes what the missed ticks would have sent.
    expect(plan.take(started + 900)).toBe(35);
    expect(plan.shortfall).toBe(0);
  });

  it('carries fractions over, so a rate below the tick rate still adds up', () => {
    const plan = schedule(3, 10);
    const total = Array.from({ length: 50 }, (_, tick) => plan.take(started + (tick + 1) * 200)).reduce(
      (sum, size) => sum + size,
      0,
    );
    expect(total).toBe(30);
    expect(plan.requested).toBe(30);
  });

  it('bounds a catch-up burst by maxBacklog and reports what it gave up as the shortfall', () => {
    const plan = schedule(100, 30, 100);
    // A stall of 3.5 s: 350 owed, 100 sent at once, 250 given up for good.
    expect(plan.take(started + 3500)).toBe(100);
    expect(plan.shortfall).toBe(250);
    // Back on time, it sends the rate again, without trying to win back what it gave up.
    expect(plan.take(started + 3700)).toBe(20);
    expect(plan.shortfall).toBe(250);
    expect({ sent: plan.sent, due: plan.due }).toEqual({ sent: 120, due: 370 });
  });

  it('stops owing at the end of the duration: the last take completes the requested total', () => {
    const plan = schedule(50, 2);
    plan.take(started + 1000);
    expect(plan.take(started + 2600)).toBe(50);
    expect(plan.take(started + 5000)).toBe(0);
    expect(plan.sent).toBe(plan.requested);
    expect(plan.endMs).toBe(started + 2000);
  });

  it('owes nothing before the start or when the clock steps back', () => {
    const plan = schedule(50, 30);
    expect(plan.take(started - 500)).toBe(0);
    expect(plan.take(started + 1000)).toBe(50);
    expect(plan.take(started + 800)).toBe(0);
    expect(plan.sent).toBe(50);
  });

  it('refuses a backlog bound below one event', () => {
    expect(() => schedule(50, 30, 0)).toThrow('maxBacklog');
  });
});
