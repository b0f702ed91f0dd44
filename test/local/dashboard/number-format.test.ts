import {
  formatBytes,
  formatDuration,
  formatUtc,
  formatUtcTime,
  formatValue,
  roundForReading,
} from '../../../local/dashboard/number-format';

describe('numbers for reading', () => {
  it('rounds a number that is not whole to four significant digits', () => {
    expect(roundForReading(20.805555555555557)).toBe(20.81);
    expect(roundForReading(0.0123456)).toBe(0.01235);
    expect(roundForReading(998.2999)).toBe(998.3);
  });

  it('keeps whole numbers whole, and a large one in every digit rather than in exponent notation', () => {
    expect(roundForReading(12_345)).toBe(12_345);
    expect(roundForReading(12_345.678)).toBe(12_346);
    expect(String(roundForReading(1_234_567.89))).toBe('1234568');
  });

  it('keeps at most six decimals of a tiny value', () => {
    expect(roundForReading(0.000000123)).toBe(0);
    expect(roundForReading(-0.00012345)).toBe(-0.000123);
  });

  it('writes a missing value as an en dash', () => {
    expect(formatValue(null)).toBe('–');
    expect(formatValue(undefined)).toBe('–');
    expect(formatValue(3)).toBe('3');
  });

  it('writes durations in the largest units that matter', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_400)).toBe('12 s');
    expect(formatDuration(200_000)).toBe('3 min 20 s');
    expect(formatDuration(180_000)).toBe('3 min');
    expect(formatDuration(7_500_000)).toBe('2 h 5 min');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3 d 4 h');
  });

  it('writes sizes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(205_136)).toBe('200 KiB');
    expect(formatBytes(3.2 * 1024 * 1024)).toBe('3.2 MiB');
  });

  it('writes instants in UTC, to the second, saying so', () => {
    expect(formatUtc(Date.UTC(2026, 11, 3, 11, 55, 2, 900))).toBe('2026-12-03 11:55:02 UTC');
    expect(formatUtcTime(Date.UTC(2026, 11, 3, 11, 55, 2, 900))).toBe('11:55:02 UTC');
  });
});
