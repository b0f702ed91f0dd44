import { epochStart } from './arrival-epoch';
import { dimensionKeyOf } from './dimension-key';
import { eventTimeOf } from './event-schema';
import { bucketStart } from './granularity';
import { measuresOf, mergeAllMeasures, mergeMeasures, type Measures } from './measures';
import { maxPosition } from './sequence-position';
import { positionOf, type StreamRecord } from './stream-record';
import type { ViewDefinition } from './view-declaration';
import { matchesFilter } from './view-filter';

/** Where a partial aggregate belongs: (view, dimension key, bucket, epoch), as DESIGN.md §3 keys realtime items. */
export interface AggregateKey {
  readonly view: string;
  readonly dimensionKey: string;
  /** Start of the event-time bucket at the view's granularity, epoch ms. */
  readonly bucket: number;
  /** Start of the arrival epoch, epoch ms. */
  readonly epoch: number;
}

/** Measures over some records, with, per shard, the highest position among them (the watermark). */
export interface PartialAggregate {
  readonly key: AggregateKey;
  readonly measures: Measures;
  readonly watermarks: Readonly<Record<string, string>>;
}

/** A fold: partial aggregates by their key's id. Folds form a monoid under mergeFolds, with the empty map as identity. */
export type Fold = ReadonlyMap<string, PartialAggregate>;

export function aggregateKeyId(key: AggregateKey): string {
  return `${key.view}\u0000${key.dimensionKey}\u0000${key.bucket}\u0000${key.epoch}`;
}

/** The key a record contributes to in one view, or undefined when the view's filter excludes it. */
export function aggregateKeyOf(
  view: ViewDefinition,
  record: StreamRecord,
  epochLengthMs: number,
): AggregateKey | undefined {
  if (!matchesFilter(view, record.event)) return undefined;
  return {
    view: view.name,
    dimensionKey: dimensionKeyOf(view, record.event),
    bucket: bucketStart(eventTimeOf(view.schema, record.event), view.granularity),
    epoch: epochStart(record.arrivalMs, epochLengthMs),
  };
}

/** Merges two partial aggregates of the same key: measures merge, watermarks take the per-shard maximum. */
export function mergePartials(a: PartialAggregate, b: PartialAggregate): PartialAggregate {
  const watermarks: Record<string, string> = { ...a.watermarks };
  for (const [shard, position] of Object.entries(b.watermarks)) {
    watermarks[shard] = maxPosition(watermarks[shard], position) as string;
  }
  return { key: a.key, measures: mergeMeasures(a.measures, b.measures), watermarks };
}

/**
 * Folds records into partial aggregates for every view. It does not de-duplicate: the speed layer's watermarks
 * and the batch layer's row_number() do that, each where its data lives.
 */
export function foldRecords(
  records: Iterable<StreamRecord>,
  views: readonly ViewDefinition[],
  epochLengthMs: number,
): Fold {
  // Each key's contributions are collected and merged once (mergeAllMeasures): merging record by record would copy
  // a growing sketch at every record.
  const groups = new Map<string, { key: AggregateKey; parts: Measures[]; watermarks: Record<string, string> }>();
  for (const record of records) {
    const position = positionOf(record);
    for (const view of views) {
      const key = aggregateKeyOf(view, record, epochLengthMs);
      if (key === undefined) continue;
      const id = aggregateKeyId(key);
      let group = groups.get(id);
      if (group === undefined) {
        group = { key, parts: [], watermarks: {} };
        groups.set(id, group);
      }
      group.parts.push(measuresOf(view, record.event));
      group.watermarks[record.shardId] = maxPosition(group.watermarks[record.shardId], position) as string;
    }
  }
  const fold = new Map<string, PartialAggregate>();
  for (const [id, { key, parts, watermarks }] of groups) {
    fold.set(id, { key, measures: mergeAllMeasures(parts), watermarks });
  }
  return fold;
}

export function mergeFolds(a: Fold, b: Fold): Fold {
  const merged = new Map(a);
  for (const [id, partial] of b) {
    const existing = merged.get(id);
    merged.set(id, existing === undefined ? partial : mergePartials(existing, partial));
  }
  return merged;
}
