import type { Logger } from '@aws-lambda-powertools/logger';
import type { MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The part of Powertools Metrics the handlers use: counts, flushed once per invocation. Handlers take this rather
 * than a Metrics instance so that tests and the local runtime can count without printing EMF.
 */
export interface CountMetrics {
  addMetric(name: string, unit: typeof MetricUnit.Count, value: number): unknown;
  publishStoredMetrics(): void;
}

/** The part of Powertools Logger the handlers use. */
export type HandlerLogger = Pick<Logger, 'info' | 'warn' | 'error'>;
