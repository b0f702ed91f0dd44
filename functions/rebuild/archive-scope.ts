import type { SessionScope } from '../batch/batch-engine';
import type { PipelineConfig } from '../core/pipeline-config';
import { firstRetainedBucket, type ViewDefinition } from '../core/view-declaration';

/** The arrivals a rebuild or replay reads, and the bounds its SQL counts within. */
export interface ArchiveScope {
  /** What the engine gathers: the counted arrivals, plus the de-dup horizon before them. */
  readonly session: SessionScope;
  readonly sql: { readonly arrivalFromMs: number; readonly arrivalToMs: number; readonly firstBucketMs: number };
}

/**
 * What a rebuild (or a replay) of a view up to `cutoffMs` must read (DESIGN.md §6): only buckets within the view's
 * retention count, and an event's time is at most the skew bound after its arrival (every layer rejects events
 * further ahead), so no record that arrived before `first retained bucket - skew` can count. The scan starts there,
 * not at the beginning of the archive.
 */
export function archiveScope(
  view: ViewDefinition,
  config: Pick<PipelineConfig, 'eventTimeSkewMs' | 'dedupHorizonMs'>,
  cutoffMs: number,
  nowMs: number,
): ArchiveScope {
  const firstBucketMs = firstRetainedBucket(view, nowMs);
  const counted = Math.min(Math.max(0, firstBucketMs - config.eventTimeSkewMs), Math.max(0, cutoffMs - 1));
  const read = Math.max(0, counted - (view.dedupeByEventId ? config.dedupHorizonMs : 0));
  return {
    session: { arrivalFromMs: read, arrivalToMs: cutoffMs },
    sql: { arrivalFromMs: counted, arrivalToMs: cutoffMs, firstBucketMs },
  };
}
