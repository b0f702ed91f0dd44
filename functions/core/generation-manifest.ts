import type { StoredAttributes } from './aggregate-attributes';
import { manifestKey, MANIFEST_KINDS, type ManifestFlipRequest } from './manifest';

/** The generation a view's realtime items are in until its first replay (and, in Lambda mode, usually for ever). */
export const FIRST_GENERATION = 1;

/**
 * A replay in progress: the generation it builds, and the hand-off. Records that arrived before `handoffMs` come
 * from the master dataset (the backfill); records that arrive from it on are written by the live consumer into
 * both the served and the building generation. Every record is classified by its own arrival time on both sides,
 * so none is counted twice or missed, whatever order the shards deliver in.
 */
export interface BuildingGeneration {
  readonly generation: number;
  readonly handoffMs: number;
  readonly startedAt: number;
  /** Set once every backfill item is written; the flip requires it. */
  readonly backfilledItems: number | null;
  /**
   * The backfill's computed result and how far its writes got, once the engine has exported it (null before): an
   * invocation that stops goes on from here (DESIGN.md §6, the same machinery as rebuilds).
   */
  readonly backfill?: BackfillProgress | null;
}

export interface BackfillProgress {
  readonly prefix: string;
  readonly files: number;
  readonly filesDone: number;
  readonly linesDone: number;
  readonly items: number;
}

/** Which generation of a view's realtime items is served, and which (if any) a replay is building. */
export interface GenerationState {
  readonly view: string;
  readonly served: number;
  /**
   * The hand-off of the replay that built the served generation (null for the first): records that arrived before
   * it are in the generation through its backfill, so a consumer still behind it must not write them again.
   */
  readonly servedFromMs: number | null;
  readonly building: BuildingGeneration | null;
  /** A generation the last flip unserved whose items are not yet all given a TTL: a re-run finishes that first. */
  readonly expiring: number | null;
}

/** Where the layers learn a view's generation state: the directory in the manifest table, or a fixed answer. */
export interface GenerationSource {
  stateOf(view: string): Promise<GenerationState>;
}

/** Every view served in the first generation, none building: a pipeline that never replays. */
export const FIRST_GENERATION_ONLY: GenerationSource = {
  stateOf: async (view) => ({ view, served: FIRST_GENERATION, servedFromMs: null, building: null, expiring: null }),
};

export function generationStateFromItem(view: string, item: StoredAttributes | undefined): GenerationState {
  const served = item?.served?.N === undefined ? FIRST_GENERATION : Number(item.served.N);
  const building =
    item?.building?.N === undefined
      ? null
      : {
          generation: Number(item.building.N),
          handoffMs: Number(item.handoffMs?.N),
          startedAt: Number(item.startedAt?.N),
          backfilledItems: item.backfilledItems?.N === undefined ? null : Number(item.backfilledItems.N),
          backfill:
            item.backfillFiles?.N === undefined
              ? null
              : {
                  prefix: item.backfillPrefix?.S ?? '',
                  files: Number(item.backfillFiles.N),
                  filesDone: Number(item.backfillFilesDone?.N ?? 0),
                  linesDone: Number(item.backfillLinesDone?.N ?? 0),
                  items: Number(item.backfillWritten?.N ?? 0),
                },
        };
  const servedFromMs = item?.servedFromMs?.N === undefined ? null : Number(item.servedFromMs.N);
  const expiring = item?.expiring?.N === undefined ? null : Number(item.expiring.N);
  return { view, served, servedFromMs, building, expiring };
}

/**
 * Whether the live consumer writes a record into the building generation (true) or the backfill does (false): one
 * predicate on the record's own arrival time, used by both sides.
 */
export function handedOff(building: Pick<BuildingGeneration, 'handoffMs'>, arrivalMs: number): boolean {
  return arrivalMs >= building.handoffMs;
}

/**
 * The generations the live consumer writes a record into: the served one, unless the record came before the
 * served generation's own hand-off (its backfill has it: a consumer lagging behind a flip must not add it again),
 * and the building one from its hand-off on.
 */
export function generationsOf(state: GenerationState, arrivalMs: number): number[] {
  const generations: number[] = [];
  if (state.servedFromMs === null || handedOff({ handoffMs: state.servedFromMs }, arrivalMs)) {
    generations.push(state.served);
  }
  if (state.building !== null && handedOff(state.building, arrivalMs)) generations.push(state.building.generation);
  return generations;
}

/**
 * The hand-off time of a replay started at `nowMs`. Every consumer must know of the building generation before it
 * processes a record that arrived at or after the hand-off: a consumer's state is at most `stateCacheMs` old, so
 * the hand-off lies two cache periods plus an allowance for clock skew ahead.
 */
export function handoffTime(nowMs: number, stateCacheMs: number, clockSkewMs = 1_000): number {
  return nowMs + 2 * stateCacheMs + clockSkewMs;
}

/** The replay may read the master dataset below the hand-off once Firehose has delivered everything below it. */
export function archiveCompleteAt(building: BuildingGeneration, bufferIntervalMs: number, safetyMarginMs: number) {
  return building.handoffMs + bufferIntervalMs + safetyMarginMs;
}

const NAMES = {
  '#served': 'served',
  '#building': 'building',
  '#handoffMs': 'handoffMs',
  '#startedAt': 'startedAt',
  '#backfilledItems': 'backfilledItems',
};

/** The backfill's progress attributes, removed when a replay starts and when it flips. */
const BACKFILL_NAMES = {
  '#backfillPrefix': 'backfillPrefix',
  '#backfillFiles': 'backfillFiles',
  '#backfillFilesDone': 'backfillFilesDone',
  '#backfillLinesDone': 'backfillLinesDone',
  '#backfillWritten': 'backfillWritten',
};
const REMOVE_BACKFILL = Object.keys(BACKFILL_NAMES).join(', ');

/** Records where the backfill's computed items are (once; another invocation that computed too uses this one). */
export function backfillComputedRequest(
  view: string,
  generation: number,
  result: Pick<BackfillProgress, 'prefix' | 'files'>,
): ManifestFlipRequest {
  return {
    Key: manifestKey(view, MANIFEST_KINDS.generation),
    UpdateExpression:
      'SET #backfillPrefix = :prefix, #backfillFiles = :files, #backfillFilesDone = :zero, ' +
      '#backfillLinesDone = :zero, #backfillWritten = :zero',
    ConditionExpression: '#building = :building AND attribute_not_exists(#backfillFiles)',
    ExpressionAttributeNames: { '#building': NAMES['#building'], ...BACKFILL_NAMES },
    ExpressionAttributeValues: {
      ':building': { N: String(generation) },
      ':prefix': { S: result.prefix },
      ':files': { N: String(result.files) },
      ':zero': { N: '0' },
    },
  };
}

/** Records how far the backfill's writes got. */
export function backfillProgressRequest(
  view: string,
  generation: number,
  progress: Pick<BackfillProgress, 'filesDone' | 'linesDone' | 'items'>,
): ManifestFlipRequest {
  return {
    Key: manifestKey(view, MANIFEST_KINDS.generation),
    UpdateExpression: 'SET #backfillFilesDone = :files, #backfillLinesDone = :lines, #backfillWritten = :items',
    ConditionExpression: '#building = :building',
    ExpressionAttributeNames: {
      '#building': NAMES['#building'],
      '#backfillFilesDone': BACKFILL_NAMES['#backfillFilesDone'],
      '#backfillLinesDone': BACKFILL_NAMES['#backfillLinesDone'],
      '#backfillWritten': BACKFILL_NAMES['#backfillWritten'],
    },
    ExpressionAttributeValues: {
      ':building': { N: String(generation) },
      ':files': { N: String(progress.filesDone) },
      ':lines': { N: String(progress.linesDone) },
      ':items': { N: String(progress.items) },
    },
  };
}

/** Starts building `building.generation`, only if no replay of the view is in progress and `served` is current. */
export function startReplayRequest(state: GenerationState, building: BuildingGeneration): ManifestFlipRequest {
  return {
    Key: manifestKey(state.view, MANIFEST_KINDS.generation),
    UpdateExpression:
      'SET #served = if_not_exists(#served, :served), #building = :building, #handoffMs = :handoffMs, ' +
      `#startedAt = :startedAt REMOVE #backfilledItems, ${REMOVE_BACKFILL}`,
    ConditionExpression: 'attribute_not_exists(#building) AND (attribute_not_exists(#served) OR #served = :served)',
    ExpressionAttributeNames: { ...NAMES, ...BACKFILL_NAMES },
    ExpressionAttributeValues: {
      ':served': { N: String(state.served) },
      ':building': { N: String(building.generation) },
      ':handoffMs': { N: String(building.handoffMs) },
      ':startedAt': { N: String(building.startedAt) },
    },
  };
}

/** Records that the backfill of `generation` is complete. */
export function backfilledRequest(view: string, generation: number, items: number): ManifestFlipRequest {
  return {
    Key: manifestKey(view, MANIFEST_KINDS.generation),
    UpdateExpression: 'SET #backfilledItems = :items',
    ConditionExpression: '#building = :building',
    ExpressionAttributeNames: { '#building': NAMES['#building'], '#backfilledItems': NAMES['#backfilledItems'] },
    ExpressionAttributeValues: { ':building': { N: String(generation) }, ':items': { N: String(items) } },
  };
}

/**
 * The flip: serve the building generation, only if it is still the one built, its backfill is complete, and the
 * served generation is still the one the replay started from. Queries read the state once per request, so an
 * answer comes from one generation, before or after.
 */
export function flipGenerationRequest(view: string, from: number, to: number): ManifestFlipRequest {
  return {
    Key: manifestKey(view, MANIFEST_KINDS.generation),
    UpdateExpression:
      'SET #served = :to, #servedFromMs = #handoffMs, #expiring = :from ' +
      `REMOVE #building, #handoffMs, #startedAt, #backfilledItems, ${REMOVE_BACKFILL}`,
    ConditionExpression: '#served = :from AND #building = :to AND attribute_exists(#backfilledItems)',
    ExpressionAttributeNames: { ...NAMES, ...BACKFILL_NAMES, '#servedFromMs': 'servedFromMs', '#expiring': 'expiring' },
    ExpressionAttributeValues: { ':from': { N: String(from) }, ':to': { N: String(to) } },
  };
}

/** Records that every item of the unserved generation has its TTL. */
export function expiredRequest(view: string, generation: number): ManifestFlipRequest {
  return {
    Key: manifestKey(view, MANIFEST_KINDS.generation),
    UpdateExpression: 'REMOVE #expiring',
    ConditionExpression: '#expiring = :generation',
    ExpressionAttributeNames: { '#expiring': 'expiring' },
    ExpressionAttributeValues: { ':generation': { N: String(generation) } },
  };
}
