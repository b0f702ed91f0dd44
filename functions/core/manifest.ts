import type { AttributeValue, StoredAttributes } from './aggregate-attributes';
import { padTime } from './storage-keys';

/**
 * The manifest says, per view, what the batch layer serves (DESIGN.md §6). Queries read it once per request, so
 * they never see a pending window or a half-written base. Its items live in the manifest table under (view, kind),
 * so that other kinds of entry (a served realtime generation) can sit beside the batch one.
 */
export const MANIFEST_KINDS = { batch: 'batch', generation: 'generation' } as const;

/**
 * A base: a view recomputed from the archive by a rebuild, every record that arrived before `cutoff`. The windows
 * that start at or after its cutoff continue from it.
 */
export interface BatchBase {
  readonly id: string;
  readonly cutoff: number;
  /** Rows the rebuild wrote. */
  readonly rows: number;
}

/** An arrival window [from, to): a batch run's unit of work (DESIGN.md §6). */
export interface ArrivalWindow {
  readonly from: number;
  readonly to: number;
}

/** A window recorded before its rows are written; a run that finds one resumes it, on the same bounds. */
export interface PendingWindow extends ArrivalWindow {
  readonly startedAt: number;
}

/** What a rebuild has done so far; every step of it is recorded here, so that any invocation can resume it. */
export interface RebuildProgress {
  readonly id: string;
  /** The base's cutoff: the rebuild covers every record that arrived before it. */
  readonly cutoff: number;
  readonly startedAt: number;
  /** Where the engine's result files are, once computed (null before). */
  readonly result: { readonly prefix: string; readonly files: number; readonly bytesScanned: number } | null;
  /** Result files written completely, in the order of their keys. */
  readonly filesDone: number;
  /** Lines of the next file already written. */
  readonly linesDone: number;
  /** Rows written so far. */
  readonly rowsWritten: number;
}

/** A view's batch state: what is served, the pending window, and a rebuild in progress. */
export interface BatchViewState {
  readonly view: string;
  /** The served cutoff C: every record that arrived before it is in the served rows. null before the first flip. */
  readonly cutoff: number | null;
  readonly base: BatchBase | null;
  /** When the served cutoff last moved. */
  readonly computedAt: string | null;
  /** Windows flipped since the manifest was created. */
  readonly windows: number;
  readonly pending: PendingWindow | null;
  readonly rebuild: RebuildProgress | null;
  /**
   * Left by a rebuild's flip until the rows it superseded (the old base, the windows below the new base) have a
   * TTL: the new base's cutoff, and the old base's id if there was one.
   */
  readonly expiring: { readonly below: number; readonly baseId: string | null } | null;
}

/**
 * What a reader needs of the served state: the base, if any, and the cutoff. The served rows are the base's, plus
 * the window rows of every window from the base's cutoff (0 without a base) up to the served cutoff.
 */
export interface BatchManifest {
  readonly view: string;
  /** A label of what is served, for answers' provenance: the base and the cutoff. */
  readonly version: string;
  readonly cutoff: number;
  readonly base: { readonly id: string; readonly cutoff: number } | null;
  readonly computedAt: string;
}

/** The served part of a view's state, or null before anything was flipped. */
export function servedManifest(state: BatchViewState): BatchManifest | null {
  if (state.cutoff === null) return null;
  return {
    view: state.view,
    version: `${state.base?.id ?? 'b0'}+w${padTime(state.cutoff)}`,
    cutoff: state.cutoff,
    base: state.base === null ? null : { id: state.base.id, cutoff: state.base.cutoff },
    computedAt: state.computedAt ?? '',
  };
}

/** A rebuild's id: it sorts by cutoff, then by the start of the rebuild. */
export function rebuildId(cutoffMs: number, startedAtMs: number): string {
  return `r${padTime(cutoffMs)}-${padTime(startedAtMs)}`;
}

export function manifestKey(view: string, kind: string): Record<string, AttributeValue> {
  return { pk: { S: view }, sk: { S: kind } };
}

export interface ManifestFlipRequest {
  readonly Key: Record<string, AttributeValue>;
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, AttributeValue>;
}

/** Attribute names of the batch manifest item. */
const A = {
  cutoff: 'cutoff',
  computedAt: 'computedAt',
  windows: 'windows',
  baseId: 'baseId',
  baseCutoff: 'baseCutoff',
  baseRows: 'baseRows',
  pendingFrom: 'pendingFrom',
  pendingTo: 'pendingTo',
  pendingStartedAt: 'pendingStartedAt',
  rebuildId: 'rebuildId',
  rebuildCutoff: 'rebuildCutoff',
  rebuildStartedAt: 'rebuildStartedAt',
  rebuildPrefix: 'rebuildPrefix',
  rebuildFiles: 'rebuildFiles',
  rebuildBytesScanned: 'rebuildBytesScanned',
  rebuildFilesDone: 'rebuildFilesDone',
  rebuildLinesDone: 'rebuildLinesDone',
  rebuildRows: 'rebuildRows',
  expiringBelow: 'expiringBelow',
  expiringBaseId: 'expiringBaseId',
  /**
   * Written by releases before arrival windows, whose batch rows were whole versions (now expiring by their TTL): an
   * item with it and no windows or base is read as a view with nothing served, and its first window replaces it.
   */
  legacyVersion: 'version',
} as const;

const names = (...keys: (keyof typeof A)[]) => Object.fromEntries(keys.map((key) => [`#${key}`, A[key]]));
const n = (value: number): AttributeValue => ({ N: String(value) });
const s = (value: string): AttributeValue => ({ S: value });

const batchKey = (view: string) => manifestKey(view, MANIFEST_KINDS.batch);

/** Nothing served: no cutoff, or only a pre-window release's (see A.legacyVersion). */
const NOTHING_SERVED =
  '(attribute_not_exists(#cutoff) OR ' +
  '(attribute_exists(#legacyVersion) AND attribute_not_exists(#baseId) AND attribute_not_exists(#windows)))';
const NOTHING_SERVED_NAMES = ['cutoff', 'legacyVersion', 'baseId', 'windows'] as const;

/**
 * Records window [from, to) as pending. Only from the served cutoff (or, for a view with nothing served, from 0
 * while no rebuild is laying its first base), and only if no window is pending: two runs cannot record two windows.
 */
export function beginWindowRequest(view: string, window: PendingWindow): ManifestFlipRequest {
  const first = window.from === 0;
  return {
    Key: batchKey(view),
    UpdateExpression: 'SET #pendingFrom = :from, #pendingTo = :to, #pendingStartedAt = :startedAt',
    ConditionExpression: first
      ? `attribute_not_exists(#pendingTo) AND ${NOTHING_SERVED} AND attribute_not_exists(#rebuildId)`
      : 'attribute_not_exists(#pendingTo) AND #cutoff = :from',
    ExpressionAttributeNames: names(
      'pendingFrom',
      'pendingTo',
      'pendingStartedAt',
      'cutoff',
      ...(first ? (['rebuildId', ...NOTHING_SERVED_NAMES] as const) : []),
    ),
    ExpressionAttributeValues: { ':from': n(window.from), ':to': n(window.to), ':startedAt': n(window.startedAt) },
  };
}

/** The flip of a window: the served cutoff moves from its start to its end, and the window is no longer pending. */
export function finishWindowRequest(view: string, window: ArrivalWindow, computedAt: string): ManifestFlipRequest {
  return {
    Key: batchKey(view),
    UpdateExpression:
      'SET #cutoff = :to, #computedAt = :computedAt REMOVE #pendingFrom, #pendingTo, #pendingStartedAt, ' +
      '#legacyVersion, #legacyRowCount ADD #windows :one',
    ConditionExpression: '#pendingFrom = :from AND #pendingTo = :to',
    ExpressionAttributeNames: {
      ...names('cutoff', 'computedAt', 'pendingFrom', 'pendingTo', 'pendingStartedAt', 'windows', 'legacyVersion'),
      '#legacyRowCount': 'rowCount',
    },
    ExpressionAttributeValues: {
      ':from': n(window.from),
      ':to': n(window.to),
      ':computedAt': s(computedAt),
      ':one': n(1),
    },
  };
}

/**
 * Starts a rebuild at cutoff `rebuild.cutoff`: the served cutoff, so that the windows after it continue from the
 * new base; or, for a view with nothing served, a fresh cutoff (its windows wait for the base). For such a view the
 * rebuild also takes over a pending first window ([0, C): the whole archive, which may be too much for one batch
 * run): a run still computing it is refused at its flip, and its rows, below the base, are never read.
 */
export function beginRebuildRequest(
  view: string,
  rebuild: Pick<RebuildProgress, 'id' | 'cutoff' | 'startedAt'>,
  served: number | null,
): ManifestFlipRequest {
  const first = served === null;
  return {
    Key: batchKey(view),
    UpdateExpression:
      'SET #rebuildId = :id, #rebuildCutoff = :cutoff, #rebuildStartedAt = :startedAt, #rebuildFilesDone = :zero, ' +
      '#rebuildLinesDone = :zero, #rebuildRows = :zero REMOVE #rebuildPrefix, #rebuildFiles, #rebuildBytesScanned' +
      (first ? ', #pendingFrom, #pendingTo, #pendingStartedAt' : ''),
    ConditionExpression: first
      ? `attribute_not_exists(#rebuildId) AND ${NOTHING_SERVED} AND (attribute_not_exists(#pendingTo) OR #pendingFrom = :zero)`
      : 'attribute_not_exists(#rebuildId) AND #cutoff = :cutoff',
    ExpressionAttributeNames: names(
      'rebuildId',
      'rebuildCutoff',
      'rebuildStartedAt',
      'rebuildFilesDone',
      'rebuildLinesDone',
      'rebuildRows',
      'rebuildPrefix',
      'rebuildFiles',
      'rebuildBytesScanned',
      'cutoff',
      ...(first ? (['pendingFrom', 'pendingTo', 'pendingStartedAt', ...NOTHING_SERVED_NAMES] as const) : []),
    ),
    ExpressionAttributeValues: {
      ':id': s(rebuild.id),
      ':cutoff': n(rebuild.cutoff),
      ':startedAt': n(rebuild.startedAt),
      ':zero': n(0),
    },
  };
}

/** Records where the rebuild's computed rows are; from then on only the writes remain. */
export function rebuildComputedRequest(
  view: string,
  id: string,
  result: NonNullable<RebuildProgress['result']>,
): ManifestFlipRequest {
  return {
    Key: batchKey(view),
    UpdateExpression: 'SET #rebuildPrefix = :prefix, #rebuildFiles = :files, #rebuildBytesScanned = :bytes',
    ConditionExpression: '#rebuildId = :id AND attribute_not_exists(#rebuildFiles)',
    ExpressionAttributeNames: names('rebuildPrefix', 'rebuildFiles', 'rebuildBytesScanned', 'rebuildId'),
    ExpressionAttributeValues: {
      ':id': s(id),
      ':prefix': s(result.prefix),
      ':files': n(result.files),
      ':bytes': n(result.bytesScanned),
    },
  };
}

/** Records how far the rebuild's writes got (a resumed invocation starts there: rewriting more is harmless). */
export function rebuildProgressRequest(
  view: string,
  id: string,
  progress: Pick<RebuildProgress, 'filesDone' | 'linesDone' | 'rowsWritten'>,
): ManifestFlipRequest {
  return {
    Key: batchKey(view),
    UpdateExpression: 'SET #rebuildFilesDone = :files, #rebuildLinesDone = :lines, #rebuildRows = :rows',
    ConditionExpression: '#rebuildId = :id',
    ExpressionAttributeNames: names('rebuildFilesDone', 'rebuildLinesDone', 'rebuildRows', 'rebuildId'),
    ExpressionAttributeValues: {
      ':id': s(id),
      ':files': n(progress.filesDone),
      ':lines': n(progress.linesDone),
      ':rows': n(progress.rowsWritten),
    },
  };
}

/**
 * The flip of a rebuild: its rows become the served base, and, for a view that had nothing served, its cutoff the
 * served cutoff. The rows it supersedes are named for expiry. Only the rebuild in progress can flip, and only once
 * every result file is written.
 */
export function flipRebuildRequest(
  view: string,
  rebuild: Pick<RebuildProgress, 'id' | 'cutoff' | 'rowsWritten'>,
  files: number,
  before: { readonly served: number | null; readonly baseId: string | null },
  computedAt: string,
): ManifestFlipRequest {
  const first = before.served === null;
  const set = [
    '#baseId = :id',
    '#baseCutoff = :cutoff',
    '#baseRows = :rows',
    '#expiringBelow = :cutoff',
    ...(first ? ['#cutoff = :cutoff', '#computedAt = :computedAt'] : []),
    ...(before.baseId === null ? [] : ['#expiringBaseId = :oldBase']),
  ];
  const remove = [
    '#rebuildId',
    '#rebuildCutoff',
    '#rebuildStartedAt',
    '#rebuildPrefix',
    '#rebuildFiles',
    '#rebuildBytesScanned',
    '#rebuildFilesDone',
    '#rebuildLinesDone',
    '#rebuildRows',
    ...(first ? ['#legacyVersion', '#legacyRowCount'] : []),
    ...(before.baseId === null ? ['#expiringBaseId'] : []),
  ];
  const used = [...set, ...remove, '#rebuildFiles'].map((part) => part.split(' ')[0].slice(1));
  return {
    Key: batchKey(view),
    UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
    ConditionExpression: '#rebuildId = :id AND #rebuildFiles = :files AND #rebuildFilesDone = :files',
    ExpressionAttributeNames: Object.fromEntries(
      [...new Set(used)].map((key) => [`#${key}`, key === 'legacyRowCount' ? 'rowCount' : A[key as keyof typeof A]]),
    ),
    ExpressionAttributeValues: {
      ':id': s(rebuild.id),
      ':cutoff': n(rebuild.cutoff),
      ':rows': n(rebuild.rowsWritten),
      ':files': n(files),
      ...(first ? { ':computedAt': s(computedAt) } : {}),
      ...(before.baseId === null ? {} : { ':oldBase': s(before.baseId) }),
    },
  };
}

/** Records that every row the last rebuild superseded has its TTL. */
export function expiredRequest(view: string, below: number): ManifestFlipRequest {
  return {
    Key: batchKey(view),
    UpdateExpression: 'REMOVE #expiringBelow, #expiringBaseId',
    ConditionExpression: '#expiringBelow = :below',
    ExpressionAttributeNames: names('expiringBelow', 'expiringBaseId'),
    ExpressionAttributeValues: { ':below': n(below) },
  };
}

/** The batch state from the manifest item (an absent item is a view with nothing served and nothing running). */
export function batchViewStateFromItem(view: string, item: StoredAttributes | undefined): BatchViewState {
  const num = (name: string) => {
    const value = item?.[name]?.N;
    return value === undefined ? null : Number(value);
  };
  const str = (name: string) => item?.[name]?.S ?? null;
  const baseId = str(A.baseId);
  const pendingFrom = num(A.pendingFrom);
  const pendingTo = num(A.pendingTo);
  const rebuild = str(A.rebuildId);
  const files = num(A.rebuildFiles);
  const below = num(A.expiringBelow);
  const legacy = str(A.legacyVersion) !== null && baseId === null && num(A.windows) === null;
  return {
    view,
    cutoff: legacy ? null : num(A.cutoff),
    base: baseId === null ? null : { id: baseId, cutoff: num(A.baseCutoff) ?? 0, rows: num(A.baseRows) ?? 0 },
    computedAt: str(A.computedAt),
    windows: num(A.windows) ?? 0,
    pending:
      pendingFrom === null || pendingTo === null
        ? null
        : { from: pendingFrom, to: pendingTo, startedAt: num(A.pendingStartedAt) ?? 0 },
    rebuild:
      rebuild === null
        ? null
        : {
            id: rebuild,
            cutoff: num(A.rebuildCutoff) ?? 0,
            startedAt: num(A.rebuildStartedAt) ?? 0,
            result:
              files === null
                ? null
                : { prefix: str(A.rebuildPrefix) ?? '', files, bytesScanned: num(A.rebuildBytesScanned) ?? 0 },
            filesDone: num(A.rebuildFilesDone) ?? 0,
            linesDone: num(A.rebuildLinesDone) ?? 0,
            rowsWritten: num(A.rebuildRows) ?? 0,
          },
    expiring: below === null ? null : { below, baseId: str(A.expiringBaseId) },
  };
}

/**
 * The next window a batch run computes for a view, or null when there is none to do: the pending one if any
 * (resumed on the same bounds), else from the served cutoff (0 for a view with nothing served) to the target cutoff,
 * at most `maxWindowMs` long so that a run that fell behind catches up window by window. A view whose first base a
 * rebuild is laying gets no window until it flips.
 */
export function nextWindow(state: BatchViewState, targetCutoff: number, maxWindowMs: number): ArrivalWindow | null {
  if (state.pending !== null) return { from: state.pending.from, to: state.pending.to };
  if (state.cutoff === null) {
    if (state.rebuild !== null) return null;
    return targetCutoff > 0 ? { from: 0, to: targetCutoff } : null;
  }
  if (state.cutoff >= targetCutoff) return null;
  return { from: state.cutoff, to: Math.min(targetCutoff, state.cutoff + maxWindowMs) };
}
