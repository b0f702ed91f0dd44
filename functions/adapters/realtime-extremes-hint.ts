import type { ExtremeUpdate } from '../core/realtime-update';
import type { Measures } from '../core/measures';

interface KnownExtremes {
  readonly min?: number;
  readonly max?: number;
}

/**
 * The min and max this container last saw stored in each realtime item, bounded to the most recently used items.
 *
 * DynamoDB has no min() in update expressions, so each write states whether it keeps or replaces the stored min
 * and max, as a condition (realtime-update.ts). Guessing `keep` makes a write fail its condition whenever the batch
 * holds a new extreme, which costs a read and a second write. Remembering what the last write returned lets the
 * first attempt choose right, so that in steady state each touched item costs exactly one write. It is only a
 * hint: a wrong guess (another shard moved the extreme, or the container is new) costs that read and nothing else,
 * because the condition, not the hint, is what keeps the item exact.
 */
export class RealtimeExtremesHint {
  private readonly known = new Map<string, KnownExtremes>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new Error('extremes hint: capacity must be an integer >= 0');
  }

  get size(): number {
    return this.known.size;
  }

  /** The extreme updates most likely to satisfy their conditions for this delta. */
  guess(itemId: string, delta: Measures): { min: ExtremeUpdate; max: ExtremeUpdate } {
    const known = this.known.get(itemId);
    return {
      min: known?.min !== undefined && delta.min < known.min ? 'replace' : 'keep',
      max: known?.max !== undefined && delta.max > known.max ? 'replace' : 'keep',
    };
  }

  remember(itemId: string, extremes: KnownExtremes): void {
    if (this.capacity === 0) return;
    // Re-inserting moves the item to the young end of the Map's insertion order.
    this.known.delete(itemId);
    this.known.set(itemId, extremes);
    if (this.known.size > this.capacity) {
      const oldest = this.known.keys().next();
      if (oldest.done !== true) this.known.delete(oldest.value);
    }
  }
}
