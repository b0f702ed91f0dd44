/** Numbers, durations and sizes as the dashboard prints them: short enough to read at a glance, in UTC. */

/** Significant digits kept of a number that is not whole: `20.805555555555557` reads `20.81`. */
const SIGNIFICANT_DIGITS = 4;
/** The most decimals kept, so a tiny value is not written out to its last float digit. */
const MAX_DECIMALS = 6;

/**
 * A number rounded for reading: whole numbers as they are (a count of 12,345 keeps every digit), others to four
 * significant digits, but never to more decimals than six nor into exponent notation.
 */
export function roundForReading(value: number): number {
  if (!Number.isFinite(value) || Number.isInteger(value)) return value;
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.min(MAX_DECIMALS, Math.max(0, SIGNIFICANT_DIGITS - 1 - magnitude));
  return Number(value.toFixed(decimals));
}

/** A measure's value as text: rounded, or an en dash when there is none. */
export function formatValue(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : String(roundForReading(value));
}

/** A duration in the largest units that matter: `850 ms`, `12 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = Math.round(ms / 1_000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 === 0 ? `${minutes} min` : `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

/** Bytes in binary units: `512 B`, `1.5 KiB`, `3.2 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : Number(value.toPrecision(3))} ${units[unit]}`;
}

/** An instant as the page shows every time: UTC, to the second, with the zone said (`2026-12-03 11:55:02 UTC`). */
export function formatUtc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** The time of day of an instant, in UTC, saying so (`11:55:02 UTC`): for times the page shows beside their date. */
export function formatUtcTime(ms: number): string {
  return formatUtc(ms).slice(11);
}
