import { dimensionValues } from '../core/dimension-key';
import type { BatchManifest } from '../core/manifest';
import { averageOf, type Measures } from '../core/measures';
import type { ViewQuery } from '../core/query-request';
import type { ServedBucket } from '../core/serving-rule';
import type { ViewDefinition } from '../core/view-declaration';

export type MeasureValues = Record<string, number | null>;

/** The view's measures of an aggregate, with avg when sum is stored; null for an empty part. */
export function presentMeasures(view: ViewDefinition, measures: Measures): MeasureValues | null {
  if (measures.count === 0) return null;
  const values: MeasureValues = {};
  for (const measure of view.measures) values[measure] = measures[measure];
  if (view.measures.includes('sum')) values.avg = averageOf(measures);
  return values;
}

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
      measures: view.measures.includes('sum') ? [...view.measures, 'avg'] : [...view.measures],
      filter: view.filter,
      dedupeByEventId: view.dedupeByEventId,
      // Days of buckets kept (null: for ever): a query whose from is further back is refused with a 400.
      retentionDays: view.retentionDays,
    })),
  };
}
