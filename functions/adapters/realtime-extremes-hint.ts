import { extremeUpdatesFor, type ExtremeUpdate } from '../core/realtime-update';
import { EMPTY_MEASURES, type Measures } from '../core/measures';
import type { StoredMeasure } from '../core/view-declaration';

/**
 * The min and max attributes this container last saw stored in each realtime item, bounded to the most recently
 * used items.
 *
 * DynamoDB has no min() in update expressions, so each write states whether it keeps or replaces each stored min
 * and max, as a condition (realtime-update.ts). Guessing `keep` makes a write fail its condition whenever the batch
 * holds a new extreme, which costs a read and a second write. Remembering what the last write returned lets the
 * first attempt choose right, so that in steady state each touched item costs exactly one write. It is only a
 * hint: a wrong guess (another shard moved the extreme, or the container is new) costs that read and nothing else,
 * because the condition, not the hint, is what keeps the item exact.
 */
export class RealtimeExtremesHint {
  private readonly known_ = new Map<string, Measures>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new Error('extremes hint: capacity must be an integer >= 0');
  }

  get size(): number {
    return this.known_.size;
  }

  /** The extreme updates most likely to satisfy their conditions for this delta. */
  guess(itemId: string, delta: Measures, stored: readonly StoredMeasure[]): Record<string, ExtremeUpdate> {
    return extremeUpdatesFor(this.known_.get(itemId) ?? EMPTY_MEASURES, delta, stored);
  }

  /** What the item last held, as far as this container saw; EMPTY_MEASURES for an item it has not seen. */
  known(itemId: string): Measures {
    return this.known_.get(itemId) ?? EMPTY_MEASURES;
  }

  /** What an item holds, as a write returned it or a read found it (only its min and max parts are used). */
  remember(itemId: string, extremes: Measures): void {
    if (this.capacity === 0) return;
    // Re-inserting moves the item to the young end of the Map's insertion order.
    this.known_.delete(itemId);
    this.known_.set(itemId, extremes);
    if (this.known_.size > this.capacity) {
      const oldest = this.known_.keys().next();
      if (oldest.done !== true) this.known_.delete(oldest.value);
    }
  }
}
