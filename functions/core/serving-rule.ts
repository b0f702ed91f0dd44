import { bucketStart, type Granularity } from './granularity';
import { mergeAllMeasures, mergeMeasures, type Measures } from './measures';

/** A row of a batch view: everything that arrived before the version's cutoff, for one key and bucket. */
export interface BatchAggregate {
  readonly dimensionKey: string;
  readonly bucket: number;
  readonly measures: Measures;
}

/** A realtime item: what the speed layer folded for one key, bucket and arrival epoch. */
export interface RealtimeAggregate extends BatchAggregate {
  readonly epoch: number;
}

/** One bucket of an answer, with the part that came from each layer. */
export interface ServedBucket {
  readonly dimensionKey: string;
  readonly bucket: number;
  readonly measures: Measures;
  readonly batch: Measures;
  readonly realtime: Measures;
}

export interface ServingInputs {
  readonly batch: Iterable<BatchAggregate>;
  readonly realtime: Iterable<RealtimeAggregate>;
  /**
   * The served batch version's cutoff C, or null when no batch version is served (Kappa mode, or before the
   * first batch run), in which case every realtime epoch counts.
   */
  readonly cutoff: number | null;
  /** The granularity to answer in: the view's own or coarser. */
  readonly granularity: Granularity;
}

/**
 * The serving rule (DESIGN.md §3): answer(bucket) = batch(bucket) ⊕ Σ realtime(bucket, epoch >= C), rolled up to
 * the requested granularity. Realtime epochs below C are covered by the batch version and ignored. Buckets are
 * returned ordered by dimension key, then time.
 */
export function applyServingRule({ batch, realtime, cutoff, granularity }: ServingInputs): ServedBucket[] {
  // Each slot's parts are collected and merged once (mergeAllMeasures), not folded row by row.
  const served = new Map<string, { dimensionKey: string; bucket: number; batch: Measures[]; realtime: Measures[] }>();
  const slot = (dimensionKey: string, bucket: number) => {
    const rolled = bucketStart(bucket, granularity);
    const id = `${dimensionKey}\u0000${rolled}`;
    let entry = served.get(id);
    if (entry === undefined) {
      entry = { dimensionKey, bucket: rolled, batch: [], realtime: [] };
      served.set(id, entry);
    }
    return entry;
  };
  for (const row of batch) slot(row.dimensionKey, row.bucket).batch.push(row.measures);
  for (const row of realtime) {
    if (cutoff !== null && row.epoch < cutoff) continue;
    slot(row.dimensionKey, row.bucket).realtime.push(row.measures);
  }
  return [...served.values()]
    .map(({ dimensionKey, bucket, ...parts }) => ({
      dimensionKey,
      bucket,
      batch: mergeAllMeasures(parts.batch),
      realtime: mergeAllMeasures(parts.realtime),
    }))
    .filter((entry) => entry.batch.count + entry.realtime.count > 0)
    .sort((a, b) => (a.dimensionKey < b.dimensionKey ? -1 : a.dimensionKey > b.dimensionKey ? 1 : a.bucket - b.bucket))
    .map((entry) => ({ ...entry, measures: mergeMeasures(entry.batch, entry.realtime) }));
}
