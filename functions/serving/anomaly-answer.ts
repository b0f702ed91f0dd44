import { presentAnomaly, type AnomalyPage } from '../core/anomaly';
import type { AnomalyListing } from '../core/anomaly-request';

/**
 * The response of GET /views/{view}/anomalies: the range read, what the view's readings are scored on (field,
 * seasonality, threshold), a page of anomalies newest first, each as the EventBridge event's detail presents it
 * (presentAnomaly), so a consumer of either reads one shape, and the token of the next page.
 */
export function anomalyAnswer({ view, query }: AnomalyListing, page: AnomalyPage) {
  return {
    view: view.name,
    from: new Date(query.fromMs).toISOString(),
    to: new Date(query.toMs).toISOString(),
    field: view.baseline.field,
    seasonality: view.baseline.seasonality,
    threshold: view.baseline.threshold,
    anomalies: page.anomalies.map((anomaly) => presentAnomaly(view, anomaly)),
    next: page.next,
  };
}
