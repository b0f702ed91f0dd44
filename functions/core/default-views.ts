import type { ViewDeclaration } from './view-declaration';

/**
 * The views of the IoT example: per device at minute resolution, per site hourly, and fleet-wide daily. None declares
 * `retentionDays`, so each keeps DEFAULT_RETENTION_DAYS for its granularity (minute 30 days, hour 400, day for
 * ever): a query reaching past the minute view's month is pointed at the hour and day views, which still cover it.
 */
export const DEFAULT_VIEW_DECLARATIONS: readonly ViewDeclaration[] = [
  {
    name: 'device_metric_minute',
    description: 'Each device and metric, per minute.',
    dimensions: ['deviceId', 'metric'],
    granularity: 'minute',
  },
  {
    name: 'site_metric_hour',
    description: 'Each site and metric, per hour.',
    dimensions: ['site', 'metric'],
    granularity: 'hour',
    // Readings scored against what each site's metric usually reads at that hour of the day (DESIGN.md §12).
    baseline: { measure: 'value', seasonality: 'hourOfDay', trainingWindowDays: 28, threshold: 4 },
  },
  {
    name: 'metric_day',
    description: 'Each metric across the fleet, per day.',
    dimensions: ['metric'],
    granularity: 'day',
  },
];
