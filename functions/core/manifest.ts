import type { AttributeValue, StoredAttributes } from './aggregate-attributes';
import { padTime } from './storage-keys';

/**
 * The manifest says, per view, which batch version is served (DESIGN.md §6). Queries read it first, so they
 * never see a half-written version. Its items live in the manifest table under (view, kind), so that other kinds
 * of entry (a served realtime generation) can sit beside the batch one.
 */
export const MANIFEST_KINDS = { batch: 'batch', generation: 'generation' } as const;

export interface BatchManifest {
  readonly view: string;
  readonly version: string;
  /** Every record that arrived before the cutoff is in this version; the speed layer serves epochs from it on. */
  readonly cutoff: number;
  readonly rowCount: number;
  readonly computedAt: string;
}

/**
 * A version id that sorts by cutoff, then by the start of the run that made it. The manifest's conditional write
 * compares these, so a slower run that started earlier, or one with an older cutoff, can never replace a newer one.
 */
export function batchVersionId(cutoffMs: number, runStartedAtMs: number): string {
  return `v${padTime(cutoffMs)}-${padTime(runStartedAtMs)}`;
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

/** The conditional write that flips a view to a new batch version, only if it is newer than the served one. */
export function batchManifestFlip(manifest: BatchManifest): ManifestFlipRequest {
  return {
    Key: manifestKey(manifest.view, MANIFEST_KINDS.batch),
    UpdateExpression: 'SET #version = :version, #cutoff = :cutoff, #rowCount = :rowCount, #computedAt = :computedAt',
    ConditionExpression: 'attribute_not_exists(#version) OR #version < :version',
    ExpressionAttributeNames: {
      '#version': 'version',
      '#cutoff': 'cutoff',
      '#rowCount': 'rowCount',
      '#computedAt': 'computedAt',
    },
    ExpressionAttributeValues: {
      ':version': { S: manifest.version },
      ':cutoff': { N: String(manifest.cutoff) },
      ':rowCount': { N: String(manifest.rowCount) },
      ':computedAt': { S: manifest.computedAt },
    },
  };
}

export function batchManifestFromItem(item: StoredAttributes | undefined): BatchManifest | null {
  const version = item?.version?.S;
  if (item === undefined || version === undefined) return null;
  return {
    view: item.pk?.S ?? '',
    version,
    cutoff: Number(item.cutoff?.N),
    rowCount: Number(item.rowCount?.N),
    computedAt: item.computedAt?.S ?? '',
  };
}
