import { slotBaseline, slotOf, trainingWindow, type SlotBaseline } from '../core/baseline';
import type { BaselineReader, BaselineView, WindowReadings } from '../adapters/baseline-reader';

export interface BaselineCacheOptions {
  readonly baselines: Pick<BaselineReader, 'windowReadings'>;
  /** How long a read serves later readings before it is read again. @default 60_000 */
  readonly maxStalenessMs?: number;
  /** Entries kept per container; the oldest read is dropped first. @default 10_000 */
  readonly capacity?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** A reading's slot baseline, and whether this lookup sent a read for it (a cache miss) or found one. */
export interface BaselineLookup {
  /** Rejects when the read fails. */
  readonly baseline: Promise<SlotBaseline>;
  readonly read: boolean;
}

interface Entry {
  readonly readAt: number;
  readonly readings: Promise<WindowReadings>;
}

export const DEFAULT_BASELINE_STALENESS_MS = 60_000;
export const DEFAULT_BASELINE_CACHE_CAPACITY = 10_000;

/**
 * The speed layer's cache of served baselines (DESIGN.md §12): one entry per view, key and reference bucket (the
 * bucket a reading falls in, whose training window ends where it starts), holding the key's readings per slot over
 * that window. A baseline reads the whole window (up to 2,160 hour buckets of batch ⊕ realtime rows), while the
 * readings of a key arrive many per bucket: a read then serves every reading of the key and bucket for
 * `maxStalenessMs`, which bounds how far the baseline lags the realtime epochs (the reading's own bucket is never
 * in its window, so what the batch in hand writes cannot change it).
 *
 * Readings of one entry that arrive while it is being read share that read. A read that fails is forgotten at once,
 * so the next reading (the redelivery) reads again. At most `capacity` entries are kept: a container's memory is
 * bounded whatever the number of keys, and the oldest read, the first to go stale, is dropped first.
 */
export class BaselineCache {
  private readonly maxStalenessMs: number;
  private readonly capacity: number;
  private readonly now: () => number;
  /** `view`, NUL, dimension key, NUL, reference bucket → entry; the Map's insertion order is the order of reads. */
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: BaselineCacheOptions) {
    this.maxStalenessMs = options.maxStalenessMs ?? DEFAULT_BASELINE_STALENESS_MS;
    this.capacity = options.capacity ?? DEFAULT_BASELINE_CACHE_CAPACITY;
    this.now = options.now ?? Date.now;
    if (!Number.isFinite(this.maxStalenessMs) || this.maxStalenessMs < 0) {
      throw new Error('baseline cache: maxStalenessMs must be a number >= 0');
    }
    if (!Number.isInteger(this.capacity) || this.capacity < 1) {
      throw new Error('baseline cache: capacity must be a positive integer');
    }
  }

  /** Entries held, in-flight reads included. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The baseline of the slot a reading of the key at `eventTimeMs` is scored against, and whether a read was sent
   * for it: known at once, so that a read is counted whether it succeeds or not.
   */
  lookup(view: BaselineView, dimensionKey: string, eventTimeMs: number): BaselineLookup {
    const { reference } = trainingWindow(view, eventTimeMs);
    const id = `${view.name}\u0000${dimensionKey}\u0000${reference}`;
    const now = this.now();
    let entry = this.entries.get(id);
    let read = false;
    if (entry === undefined || now - entry.readAt >= this.maxStalenessMs) {
      read = true;
      const readings = this.options.baselines.windowReadings(view, dimensionKey, eventTimeMs);
      const fresh: Entry = { readAt: now, readings };
      entry = fresh;
      // Re-inserting moves the entry to the young end of the insertion order.
      this.entries.delete(id);
      this.entries.set(id, fresh);
      if (this.entries.size > this.capacity) {
        const oldest = this.entries.keys().next();
        if (oldest.done !== true) this.entries.delete(oldest.value);
      }
      readings.catch(() => {
        // Only this read is forgotten: a newer one may have replaced it meanwhile.
        if (this.entries.get(id) === fresh) this.entries.delete(id);
      });
    }
    const baseline = entry.readings.then(({ window, slots }) => {
      const slot = slotOf(window.reference, view.baseline.seasonality);
      return slotBaseline(view.baseline, window, slot, slots.get(slot));
    });
    return { baseline, read };
  }
}
