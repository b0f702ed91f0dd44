import { dimensionValues } from '../core/dimension-key';
import type { BatchManifest } from '../core/manifest';
import { presentMeasures } from '../core/measures';
import type { ViewQuery } from '../core/query-request';
import type { ServedBucket } from '../core/serving-rule';
import { describeMeasure, type ViewDefinition } from '../core/view-declaration';


/** The response of GET /views/{view}: series per key, each bucket with its batch and speed-layer parts. */
export function viewAnswer(
  query: ViewQuery,
  manifest: BatchManifest | null,
  realtimeGeneration: number,
  buckets: readonly ServedBucket[],
) {
  const { view } = query;
  const series = query.dimensionKeys.map((dimensionKey) => ({
    key: dimensionValues(view, dimensionKey),
    buckets: buckets
      .filter(
        (bucket) => bucket.dimensionKey === dimensionKey && bucket.bucket >= query.from && bucket.bucket < query.to,
      )
      .map((bucket) => ({
        start: new Date(bucket.bucket).toISOString(),
        startMs: bucket.bucket,
        ...presentMeasures(view, bucket.measures),
        batch: presentMeasures(view, bucket.batch),
        realtime: presentMeasures(view, bucket.realtime),
      })),
  }));
  return {
    view: view.name,
    granularity: query.granularity,
    from: new Date(query.from).toISOString(),
    to: new Date(query.to).toISOString(),
    provenance:
      manifest === null
        ? null
        : {
            batchVersion: manifest.version,
            cutoff: new Date(manifest.cutoff).toISOString(),
            cutoffMs: manifest.cutoff,
            computedAt: manifest.computedAt,
          },
    realtimeGeneration,
    series,
  };
}

export function viewListing(views: readonly ViewDefinition[]) {
  return {
    views: views.map((view) => ({
      name: view.name,
      description: view.description,
      dimensions: view.dimensions,
      granularity: view.granularity,
      measures: view.measures.map((measure) => measure.name),
      measureDefinitions: Object.fromEntries(
        view.measures.map((measure) => [measure.name, describeMeasure(measure.kind, measure.field)]),
      ),
      filter: view.filter,
      dedupeByEventId: view.dedupeByEventId,
      // Days of buckets kept (null: for ever): a query whose from is further back is refused with a 400.
      retentionDays: view.retentionDays,
    })),
  };
}
