import type { ReplaySummary } from '../replay/replay-job';
import type { ViewDefinition } from '../core/view-declaration';
import type { RebuildStepResult } from './rebuild-job';

/** What the rebuild Lambda is asked: rebuild a view's batch base, or replay it into a realtime generation. */
export interface RebuildRequest {
  readonly kind: 'batch' | 'realtime';
  /** A view's name, or `*` (batch only) for every view. */
  readonly view: string;
}

export type RebuildInvocationResult =
  { readonly started: readonly string[] } | { readonly result: RebuildStepResult | ReplaySummary };

export class RebuildRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RebuildRequestError';
  }
}

/** Validates an invocation's event, naming what is wrong. `{"view": "X"}` alone is a replay, as it always was. */
export function rebuildRequest(event: unknown, views: readonly ViewDefinition[]): RebuildRequest {
  const shaped = (typeof event === 'object' && event !== null ? event : {}) as { kind?: unknown; view?: unknown };
  const kind = shaped.kind ?? 'realtime';
  if (kind !== 'batch' && kind !== 'realtime') {
    throw new RebuildRequestError(`kind: expected "batch" or "realtime", got ${JSON.stringify(shaped.kind)}`);
  }
  const view = shaped.view;
  if (typeof view !== 'string' || view === '') {
    throw new RebuildRequestError(`view: required, a view name or "*" (got ${JSON.stringify(event)})`);
  }
  if (view === '*') {
    if (kind !== 'batch') throw new RebuildRequestError('view: "*" rebuilds every batch view; replay views one by one');
    return { kind, view };
  }
  if (!views.some((candidate) => candidate.name === view)) {
    throw new RebuildRequestError(
      `view: unknown view ${JSON.stringify(view)} (known: ${views.map((candidate) => candidate.name).join(', ')})`,
    );
  }
  return { kind, view };
}

/** The margin an invocation keeps before its own timeout, to save progress and invoke the next one. */
export const CONTINUATION_MARGIN_MS = 90_000;

/** When an invocation with `remainingMs` left stops starting work (at least a few seconds from now). */
export function continuationDeadline(nowMs: number, remainingMs: number): number {
  return nowMs + Math.max(5_000, remainingMs - CONTINUATION_MARGIN_MS);
}
