import { RATE_WINDOW_MS, RateMeter, ratePerSecond } from '../../local/rate-meter';

describe('rate meter', () => {
  it('keeps every count in its total, and only the last minute in its window', () => {
    const meter = new RateMeter(0);
    meter.add(30, 1_000);
    meter.add(12, 70_000);
    expect(meter.total).toBe(42);
    expect(meter.countInWindow(70_000)).toBe(42 - 30);
  });

  it('divides the last minute by sixty seconds once the server is older than a minute', () => {
    const meter = new RateMeter(0);
    meter.add(90, 100_000);
    meter.add(30, 130_000);
    expect(meter.perSecond(130_000)).toBe(120 / 60);
  });

  it('divides by the time since the start while that is shorter than the window', () => {
    const meter = new RateMeter(50_000);
    meter.add(20, 55_000);
    expect(meter.perSecond(60_000)).toBe(2);
  });

  it('divides by at least a second, so that the first request is not a spike', () => {
    const meter = new RateMeter(0);
    meter.add(3, 100);
    expect(meter.perSecond(200)).toBe(3);
    expect(ratePerSecond(3, 0)).toBe(3);
  });

  it('ignores counts of zero and below, and slides counts out as the window passes them', () => {
    const meter = new RateMeter(0);
    meter.add(0, 10);
    meter.add(-4, 20);
    meter.add(5, 1_000);
    meter.add(5, 1_050);
    expect(meter.total).toBe(10);
    expect(meter.countInWindow(1_000 + RATE_WINDOW_MS - 500)).toBe(10);
    expect(meter.countInWindow(1_000 + RATE_WINDOW_MS + 500)).toBe(0);
    expect(meter.perSecond(1_000 + RATE_WINDOW_MS + 500)).toBe(0);
  });
});
