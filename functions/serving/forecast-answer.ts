import { forecast, trainingWindow } from '../core/baseline';
import type { ForecastRequest } from '../core/forecast-request';
import type { ServedBucket } from '../core/serving-rule';

/**
 * The response of GET /views/{view}/forecast: for each coming bucket of one key, the expected reading and the band
 * a reading may take without being an anomaly, from the same served baseline the speed layer scores against; a
 * bucket whose slot is cold says why instead (too few readings, or none that vary), with what it has so far.
 * `buckets` are the key's served buckets over the training window of `from`.
 */
export function forecastAnswer(request: ForecastRequest, buckets: readonly ServedBucket[]) {
  const { view, fromMs, horizon } = request;
  const { baseline } = view;
  const window = trainingWindow(view, fromMs);
  return {
    view: view.name,
    key: request.key,
    field: baseline.field,
    seasonality: baseline.seasonality,
    threshold: baseline.threshold,
    from: new Date(window.reference).toISOString(),
    fromMs: window.reference,
    window: { from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString() },
    buckets: forecast(view, buckets, fromMs, horizon).map((bucket) => ({
      start: new Date(bucket.bucket).toISOString(),
      startMs: bucket.bucket,
      slot: bucket.baseline.slotLabel,
      status: bucket.baseline.status,
      expected: bucket.expected,
      lower: bucket.lower,
      upper: bucket.upper,
      stddev: bucket.baseline.stddev,
      events: bucket.baseline.events,
      ...(bucket.baseline.status === 'cold' ? { reason: bucket.baseline.reason } : {}),
    })),
  };
}
