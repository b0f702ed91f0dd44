import fc from 'fast-check';
import { batchCutoff, epochStart } from '../../functions/core/arrival-epoch';
import { bucketStart, canRollUp, GRANULARITIES, GRANULARITY_MS } from '../../functions/core/granularity';

// From a day after 1970 on, so that no cutoff is negative (and -0 never meets 0).
const time = fc.integer({ min: 86_400_000, max: Date.UTC(2100, 0, 1) });

describe('time arithmetic', () => {
  it('buckets are UTC-aligned starts at or before the event time', () => {
    expect(bucketStart(Date.UTC(2026, 10, 24, 13, 47, 12, 345), 'minute')).toBe(Date.UTC(2026, 10, 24, 13, 47));
    expect(bucketStart(Date.UTC(2026, 10, 24, 13, 47, 12), 'hour')).toBe(Date.UTC(2026, 10, 24, 13));
    expect(bucketStart(Date.UTC(2026, 10, 24, 13, 47, 12), 'day')).toBe(Date.UTC(2026, 10, 24));
    fc.assert(
      fc.property(time, fc.constantFrom(...GRANULARITIES), (ms, granularity) => {
        const start = bucketStart(ms, granularity);
        expect(start).toBeLessThanOrEqual(ms);
        expect(ms - start).toBeLessThan(GRANULARITY_MS[granularity]);
        expect(start % GRANULARITY_MS[granularity]).toBe(0);
      }),
    );
  });

  it('rolling a bucket up to a coarser granularity equals bucketing the event time at it', () => {
    fc.assert(
      fc.property(time, (ms) => {
        expect(bucketStart(bucketStart(ms, 'minute'), 'hour')).toBe(bucketStart(ms, 'hour'));
        expect(bucketStart(bucketStart(ms, 'hour'), 'day')).toBe(bucketStart(ms, 'day'));
      }),
    );
  });

  it('only rolls up to the same or a coarser granularity', () => {
    expect(canRollUp('minute', 'day')).toBe(true);
    expect(canRollUp('hour', 'hour')).toBe(true);
    expect(canRollUp('day', 'minute')).toBe(false);
  });

  it('arrival epochs have the configured length', () => {
    const fifteen = 15 * 60_000;
    expect(epochStart(Date.UTC(2026, 10, 24, 13, 47), fifteen)).toBe(Date.UTC(2026, 10, 24, 13, 45));
    expect(epochStart(Date.UTC(2026, 10, 24, 13, 47), 5 * 60_000)).toBe(Date.UTC(2026, 10, 24, 13, 45));
    expect(epochStart(Date.UTC(2026, 10, 24, 13, 44, 59), fifteen)).toBe(Date.UTC(2026, 10, 24, 13, 30));
  });

  it('the cutoff is the latest epoch boundary C with C + buffer + margin <= now', () => {
    const inputs = { epochLengthMs: 15 * 60_000, bufferIntervalMs: 60_000, safetyMarginMs: 5 * 60_000 };
    expect(batchCutoff({ ...inputs, nowMs: Date.UTC(2026, 10, 24, 14, 6) })).toBe(Date.UTC(2026, 10, 24, 14));
    expect(batchCutoff({ ...inputs, nowMs: Date.UTC(2026, 10, 24, 14, 5, 59) })).toBe(Date.UTC(2026, 10, 24, 13, 45));
    fc.assert(
      fc.property(
        time,
        fc.integer({ min: 1, max: 120 }),
        fc.nat(900_000),
        fc.nat(3_600_000),
        (nowMs, minutes, buffer, margin) => {
          const epochLengthMs = minutes * 60_000;
          const cutoff = batchCutoff({ nowMs, epochLengthMs, bufferIntervalMs: buffer, safetyMarginMs: margin });
          expect(cutoff % epochLengthMs).toBe(0);
          expect(cutoff + buffer + margin).toBeLessThanOrEqual(nowMs);
          expect(cutoff + epochLengthMs + buffer + margin).toBeGreaterThan(nowMs);
        },
      ),
    );
  });
});
