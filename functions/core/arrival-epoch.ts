/**
 * Arrival epochs: fixed windows of arrival time (DESIGN.md §3). Epochs, not event-time buckets, are the unit of
 * hand-over between the batch and the speed layer, so a late event is counted by exactly one of them.
 */
export function epochStart(arrivalMs: number, epochLengthMs: number): number {
  return Math.floor(arrivalMs / epochLengthMs) * epochLengthMs;
}

export interface CutoffInputs {
  /** The time the batch run starts. */
  readonly nowMs: number;
  readonly epochLengthMs: number;
  /** Firehose's buffering interval: records that arrived this recently may not be in S3 yet. */
  readonly bufferIntervalMs: number;
  /** Extra allowance for Firehose delivery and S3 listing delays. */
  readonly safetyMarginMs: number;
}

/** The batch cutoff C: the latest epoch boundary with C + buffer interval + safety margin <= now. */
export function batchCutoff({ nowMs, epochLengthMs, bufferIntervalMs, safetyMarginMs }: CutoffInputs): number {
  return epochStart(nowMs - bufferIntervalMs - safetyMarginMs, epochLengthMs);
}
