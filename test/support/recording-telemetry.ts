import type { SpeedLogger, SpeedMetrics } from '../../functions/speed/speed-handler';

/** Metrics kept in memory, summed by name over every invocation, so tests can read what was counted. */
export class RecordingMetrics implements SpeedMetrics {
  readonly totals = new Map<string, number>();
  published = 0;

  addMetric(name: string, _unit: 'Count', value: number): this {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
    return this;
  }

  publishStoredMetrics(): void {
    this.published += 1;
  }

  total(name: string): number {
    return this.totals.get(name) ?? 0;
  }
}

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** A logger that keeps its lines instead of printing them. */
export class RecordingLogger implements SpeedLogger {
  readonly lines: LogLine[] = [];

  info(message: string, ...attributes: Record<string, unknown>[]): void {
    this.lines.push({ level: 'info', message, attributes: Object.assign({}, ...attributes) });
  }

  warn(message: string, ...attributes: Record<string, unknown>[]): void {
    this.lines.push({ level: 'warn', message, attributes: Object.assign({}, ...attributes) });
  }

  error(message: string, ...attributes: Record<string, unknown>[]): void {
    this.lines.push({ level: 'error', message, attributes: Object.assign({}, ...attributes) });
  }

  at(level: LogLine['level']): LogLine[] {
    return this.lines.filter((line) => line.level === level);
  }
}
