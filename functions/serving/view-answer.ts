import { decodeDimensionKey, dimensionValues } from '../core/dimension-key';
import { encodeDirectoryToken, type DirectoryEntry } from '../core/key-directory';
import type { RankedKey } from '../core/key-ranking';
import type { BatchManifest } from '../core/manifest';
import { presentMeasures } from '../core/measures';
import type { ViewQuery } from '../core/query-request';
import type { ServedBucket } from '../core/serving-rule';
import { describeMeasure, viewDeclarationOf, type ViewDefinition } from '../core/view-declaration';
import { measureDetail, viewAccuracy } from './measure-accuracy';

/**
 * One series of an answer: the served buckets whose dimension key is `seriesKey` (a key of the view, or for a
 * group-by the key of the given dimensions), presented under `key`, with what the mode adds (keys merged, rank).
 */
interface SeriesOf {
  readonly seriesKey: string;
  readonly key: Record<string, string>;
  readonly extra?: Readonly<Record<string, number>>;
}

/**
 * The response of GET /views/{view}: series per key (or per group, or in rank order), each bucket with its batch
 * and speed-layer parts. What a group-by or top-N adds is beside what every answer has. Every presented aggregate
 * (a bucket, and each of its parts) answers the query's quantiles for each histogram measure, each with the bounds
 * its bin gives. A view with sketch measures also states their accuracy, once (`accuracy`, see measure-accuracy.ts):
 * an answer says how far it may be off without a second request to GET /views.
 */
export function viewAnswer(
  query: ViewQuery,
  manifest: BatchManifest | null,
  realtimeGeneration: number,
  buckets: readonly ServedBucket[],
  series: readonly SeriesOf[],
) {
  const { view, selection, quantiles } = query;
  const accuracy = viewAccuracy(view);
  const bucketsOf = new Map<string, ServedBucket[]>();
  for (const bucket of buckets) {
    if (bucket.bucket < query.from || bucket.bucket >= query.to) continue;
    const list = bucketsOf.get(bucket.dimensionKey) ?? [];
    list.push(bucket);
    bucketsOf.set(bucket.dimensionKey, list);
  }
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
    ...(selection.mode === 'group' ? { groupBy: selection.groupBy } : {}),
    ...(selection.mode === 'top'
      ? { orderBy: selection.orderBy.name, order: selection.order, limit: selection.limit }
      : {}),
    ...(Object.keys(accuracy).length > 0 ? { accuracy } : {}),
    series: series.map(({ seriesKey, key, extra }) => ({
      key,
      ...extra,
      buckets: (bucketsOf.get(seriesKey) ?? []).map((bucket) => ({
        start: new Date(bucket.bucket).toISOString(),
        startMs: bucket.bucket,
        ...presentMeasures(view, bucket.measures, quantiles),
        batch: presentMeasures(view, bucket.batch, quantiles),
        realtime: presentMeasures(view, bucket.realtime, quantiles),
      })),
    })),
  };
}

/** Series of a full-key query: one per key asked for, in the order of the product of the values. */
export function keySeries(view: ViewDefinition, dimensionKeys: readonly string[]): SeriesOf[] {
  return dimensionKeys.map((dimensionKey) => ({ seriesKey: dimensionKey, key: dimensionValues(view, dimensionKey) }));
}

/** Series of a group-by: one per combination of the given values, keyed by the given dimensions only. */
export function groupSeries(
  groupBy: readonly string[],
  groups: readonly string[],
  keysPerGroup: ReadonlyMap<string, number>,
): SeriesOf[] {
  return groups.map((group) => {
    const values = decodeDimensionKey(group);
    return {
      seriesKey: group,
      key: Object.fromEntries(groupBy.map((field, index) => [field, values[index] ?? ''])),
      extra: { keys: keysPerGroup.get(group) ?? 0 },
    };
  });
}

/** Series of a top-N: the ranked keys in rank order, each with its rank and its measure over the range. */
export function rankedSeries(view: ViewDefinition, ranked: readonly RankedKey[]): SeriesOf[] {
  return ranked.map(({ dimensionKey, rank, value }) => ({
    seriesKey: dimensionKey,
    key: dimensionValues(view, dimensionKey),
    extra: { rank, value },
  }));
}

/** The response of GET /views/{view}/keys: a page of the key directory, and the token of the next page. */
export function keyListing(view: ViewDefinition, entries: readonly DirectoryEntry[], lastSortKey: string | null) {
  return {
    view: view.name,
    keys: entries.map((entry) => ({
      key: dimensionValues(view, entry.dimensionKey),
      firstSeen: new Date(entry.firstSeenMs).toISOString(),
      firstSeenMs: entry.firstSeenMs,
      lastSeen: new Date(entry.lastSeenMs).toISOString(),
      lastSeenMs: entry.lastSeenMs,
    })),
    next: lastSortKey === null ? null : encodeDirectoryToken(lastSortKey),
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
      // The same per measure as data, with a sketch's accuracy: what it costs to ask for and how far off it may be.
      measureDetails: Object.fromEntries(view.measures.map((measure) => [measure.name, measureDetail(measure)])),
      filter: view.filter,
      dedupeByEventId: view.dedupeByEventId,
      // Days of buckets kept (null: for ever): a query whose from is further back is refused with a 400.
      retentionDays: view.retentionDays,
      // What its anomalies and forecasts are scored by, in the declaration's notation; absent without one.
      ...(view.baseline === undefined ? {} : { baseline: viewDeclarationOf(view).baseline }),
    })),
  };
}
