import {
  readingsBySlot,
  trainingWindow,
  type BaselineDefinition,
  type SlotReadings,
  type TrainingWindow,
} from '../core/baseline';
import { FIRST_GENERATION_ONLY, type GenerationSource } from '../core/generation-manifest';
import type { Architecture } from '../core/pipeline-config';
import { applyServingRule, type ServedBucket } from '../core/serving-rule';
import type { ViewDefinition } from '../core/view-declaration';
import type { ViewReader } from './view-reader';

/** A view that declares a baseline. */
export type BaselineView = ViewDefinition & { readonly baseline: BaselineDefinition };

export function hasBaseline(view: ViewDefinition): view is BaselineView {
  return view.baseline !== undefined;
}

/** A key's readings per slot over one training window, as served when they were read. */
export interface WindowReadings {
  readonly window: TrainingWindow;
  readonly slots: ReadonlyMap<number, SlotReadings>;
}

export interface BaselineReaderOptions {
  readonly reader: Pick<ViewReader, 'servedBatch' | 'batchRows' | 'realtimeRows'>;
  readonly architecture: Architecture;
  /** @default every view served in generation 1 */
  readonly generations?: GenerationSource;
}

/**
 * Reads a key's served baseline: the view's buckets over the training window, batch ⊕ realtime by the serving rule
 * (DESIGN.md §3), so the baseline covers every record that has arrived whatever the batch cutoff, then rolled up by
 * season slot. The speed layer (through its cache) and the serving layer read it alike.
 */
export class BaselineReader {
  constructor(private readonly options: BaselineReaderOptions) {}

  /**
   * The served buckets of a key from `firstBucket` to `lastBucket` (inclusive), in the view's granularity, less the
   * buckets a served row of which holds no sum of squares of the baseline's field: rows written before the view
   * declared its baseline, until a rebuild or replay rewrites them. Counted, their readings would add to the count
   * and the sum but not to the sum of squares, and the spread would come out too small (so every reading would look
   * anomalous); left out, the slot is cold until enough new readings arrive.
   */
  async servedBuckets(
    view: BaselineView,
    dimensionKey: string,
    firstBucket: number,
    lastBucket: number,
  ): Promise<ServedBucket[]> {
    const { reader, architecture } = this.options;
    const generations = this.options.generations ?? FIRST_GENERATION_ONLY;
    const [manifest, { served }] = await Promise.all([
      architecture === 'lambda' ? reader.servedBatch(view.name) : null,
      generations.stateOf(view.name),
    ]);
    const cutoff = manifest?.cutoff ?? null;
    const [batch, realtime] = await Promise.all([
      manifest === null ? [] : reader.batchRows(view, manifest, dimensionKey, firstBucket, lastBucket),
      reader.realtimeRows(view, served, dimensionKey, firstBucket, lastBucket, cutoff),
    ]);
    const attribute = view.baseline.sumSquaresAttribute;
    const unlearned = new Set(
      [...batch, ...realtime.filter((row) => cutoff === null || row.epoch >= cutoff)]
        .filter((row) => row.measures.count > 0 && row.measures.sumSquares[attribute] === undefined)
        .map((row) => row.bucket),
    );
    return applyServingRule({ batch, realtime, cutoff, granularity: view.granularity }).filter(
      (bucket) => !unlearned.has(bucket.bucket),
    );
  }

  /** A key's readings per slot over the training window of a reading at `atMs`. */
  async windowReadings(view: BaselineView, dimensionKey: string, atMs: number): Promise<WindowReadings> {
    const window = trainingWindow(view, atMs);
    const buckets = await this.servedBuckets(view, dimensionKey, window.firstBucket, window.lastBucket);
    return { window, slots: readingsBySlot(view.baseline, window, buckets) };
  }
}
