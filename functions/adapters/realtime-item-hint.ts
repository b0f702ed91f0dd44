import { measuresFromAttributes, type StoredAttributes } from '../core/aggregate-attributes';
import { EMPTY_MEASURES, type Measures } from '../core/measures';
import { isReplaced } from '../core/realtime-update';
import type { StoredMeasure } from '../core/view-declaration';

export interface RealtimeItemHintLimits {
  /** Items remembered at most. */
  readonly maxItems: number;
  /**
   * Approximate bytes remembered at most: what keeps a container whose items carry sketches within its memory, since
   * a dense HyperLogLog of precision 12 alone takes 4 KB.
   */
  readonly maxBytes: number;
}

/**
 * 100,000 items and 64 MiB: a plain item (a few hundred bytes) is bounded by the count, an item with a dense sketch
 * of precision 12 by the bytes (about 15,000 of them). 64 MiB is an eighth of the speed Lambda's 512 MB.
 */
export const DEFAULT_ITEM_HINT_LIMITS: RealtimeItemHintLimits = { maxItems: 100_000, maxBytes: 64 * 1024 * 1024 };

/**
 * What one remembered item costs beyond its texts, roughly: the Map entry, the record objects and their headers. An
 * estimate, not a measurement; it only has to keep plain items from looking free.
 */
const ENTRY_OVERHEAD_BYTES = 200;

interface Remembered {
  /** The item's min, max and replaced attributes, as stored: numbers and the replaced attributes' canonical texts. */
  readonly attributes: StoredAttributes;
  readonly bytes: number;
}

/**
 * What this container last saw stored in each realtime item it writes, as far as a first attempt needs it: the min
 * and max attributes, and the replaced attributes (sums of squares and sketches, realtime-update.ts isReplaced).
 * Bounded to the most recently used items, by count and by an approximate byte budget.
 *
 * DynamoDB has no min(), max() or sketch merge in update expressions, so a write states what it assumes the item
 * holds, as conditions: keep or replace per min and max, and the exact value of each replaced attribute, which it
 * sets to that value ⊕ the delta. Remembering what the last write returned (UPDATED_NEW holds every stored measure,
 * since each is in the update expression) lets the first attempt assume right, so that in steady state each touched
 * item costs exactly one write, sketches included. It is only a hint: a wrong one (another shard moved the item, a
 * redelivery, a new container, an item evicted) fails the condition, which costs a read and a compare-and-set and
 * nothing else, because the condition, not the hint, keeps the item exact.
 *
 * Replaced attributes are kept as their stored texts, not decoded: a decoded dense sketch is a Map of 4,096 entries,
 * tens of times the 4 KB of its text, and the text's length is what the byte budget can count honestly (V8 keeps
 * these ASCII strings one byte per character). They are decoded when a write asks for them.
 */
export class RealtimeItemHint {
  private readonly items = new Map<string, Remembered>();
  private bytes_ = 0;
  private readonly limits: RealtimeItemHintLimits;

  constructor(limits: Partial<RealtimeItemHintLimits> = {}) {
    this.limits = { ...DEFAULT_ITEM_HINT_LIMITS, ...limits };
    const { maxItems, maxBytes } = this.limits;
    if (!Number.isInteger(maxItems) || maxItems < 0) throw new Error('item hint: maxItems must be an integer >= 0');
    if (!Number.isInteger(maxBytes) || maxBytes < 0) throw new Error('item hint: maxBytes must be an integer >= 0');
  }

  /** Items remembered. */
  get size(): number {
    return this.items.size;
  }

  /** Approximate bytes remembered. */
  get bytes(): number {
    return this.bytes_;
  }

  /**
   * What the item held when this container last saw it (its min, max and replaced parts); EMPTY_MEASURES for an item
   * it has not seen, or whose remembered texts no longer decode for these stored measures (the item is forgotten).
   */
  known(itemId: string, stored: readonly StoredMeasure[]): Measures {
    const remembered = this.items.get(itemId);
    if (remembered === undefined) return EMPTY_MEASURES;
    try {
      return measuresFromAttributes(remembered.attributes, stored);
    } catch {
      this.forget(itemId);
      return EMPTY_MEASURES;
    }
  }

  /**
   * What an item holds, as a write returned it (UPDATED_NEW) or a read found it: its min, max and replaced attributes
   * are kept, the rest (count, sums, watermarks) is not needed. An item larger than the whole budget is not kept.
   */
  remember(itemId: string, item: StoredAttributes | undefined, stored: readonly StoredMeasure[]): void {
    this.forget(itemId);
    const attributes: Record<string, { S?: string; N?: string }> = {};
    let bytes = ENTRY_OVERHEAD_BYTES + itemId.length;
    for (const measure of stored) {
      if (measure.kind !== 'min' && measure.kind !== 'max' && !isReplaced(measure)) continue;
      const value = item?.[measure.attribute];
      if (value === undefined) continue;
      attributes[measure.attribute] = value;
      bytes += measure.attribute.length + (value.S ?? value.N ?? '').length;
    }
    if (this.limits.maxItems === 0 || bytes > this.limits.maxBytes) return;
    // Map iteration follows insertion order: re-inserting makes the item the most recently used, the first key the
    // least recently used.
    this.items.set(itemId, { attributes, bytes });
    this.bytes_ += bytes;
    while (this.items.size > this.limits.maxItems || this.bytes_ > this.limits.maxBytes) {
      const oldest = this.items.keys().next();
      if (oldest.done === true) break;
      this.forget(oldest.value);
    }
  }

  private forget(itemId: string): void {
    const remembered = this.items.get(itemId);
    if (remembered === undefined) return;
    this.items.delete(itemId);
    this.bytes_ -= remembered.bytes;
  }
}
