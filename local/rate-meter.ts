/** The window the local health document's rates are over: the last minute, as CloudWatch's one-minute metrics. */
export const RATE_WINDOW_MS = 60_000;

/**
 * Counts are kept per slot of this width, so that a busy minute holds at most 600 entries rather than one per add;
 * the window's edge is then exact to a tenth of a second, finer than the rates are rounded to.
 */
const SLOT_MS = 100;

/**
 * Events per second over the last `windowMs`, or since `startedAtMs` if that is shorter (a server up for ten seconds
 * divides by ten, not sixty), never dividing by less than a second so that the first request is not a spike.
 */
export function ratePerSecond(countInWindow: number, elapsedMs: number, windowMs = RATE_WINDOW_MS): number {
  const spanMs = Math.max(1_000, Math.min(windowMs, elapsedMs));
  return countInWindow / (spanMs / 1_000);
}

/** A sliding-window counter: how many in the last window, how many per second, and how many since the start. */
export class RateMeter {
  private readonly slots: { slot: number; count: number }[] = [];
  private counted = 0;

  constructor(
    /** When counting began (the server's start): the rate of a younger server is over this shorter span. */
    readonly startedAtMs: number,
    readonly windowMs = RATE_WINDOW_MS,
  ) {}

  /** Every count added since the start. */
  get total(): number {
    return this.counted;
  }

  add(count: number, atMs: number): void {
    if (count <= 0) return;
    this.counted += count;
    const slot = Math.floor(atMs / SLOT_MS);
    const last = this.slots.at(-1);
    // Adds come in time order from one clock; one out of order (a clock stepped back) joins the latest slot.
    if (last !== undefined && slot <= last.slot) last.count += count;
    else this.slots.push({ slot, count });
    this.prune(atMs);
  }

  /** Counts added within the window that ends at `nowMs`. */
  countInWindow(nowMs: number): number {
    this.prune(nowMs);
    return this.slots.reduce((sum, { count }) => sum + count, 0);
  }

  perSecond(nowMs: number): number {
    return ratePerSecond(this.countInWindow(nowMs), nowMs - this.startedAtMs, this.windowMs);
  }

  /** A slot stays while any of its tenth of a second is in the window: the edge is fuzzy by at most one slot. */
  private prune(nowMs: number): void {
    const oldestSlot = Math.floor((nowMs - this.windowMs) / SLOT_MS);
    let expired = 0;
    while (expired < this.slots.length && this.slots[expired].slot < oldestSlot) expired += 1;
    if (expired > 0) this.slots.splice(0, expired);
  }
}
