import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  backfillComputedRequest,
  backfilledRequest,
  backfillProgressRequest,
  type BackfillProgress,
  expiredRequest,
  flipGenerationRequest,
  generationStateFromItem,
  startReplayRequest,
  type BuildingGeneration,
  type GenerationState,
} from '../core/generation-manifest';
import { manifestKey, MANIFEST_KINDS, type ManifestFlipRequest } from '../core/manifest';

export interface GenerationDirectoryOptions {
  readonly client: DynamoDBClient;
  readonly manifestTable: string;
  /** How long a read serves later calls. The replay's hand-off lies two of these ahead (generation-manifest.ts). */
  readonly cacheMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export const DEFAULT_GENERATION_CACHE_MS = 2_000;

/**
 * Which realtime generation of each view is served and which is being built, from the manifest table. The speed
 * layer and the serving layer read it through a short cache; the replay reads it fresh and changes it with
 * conditional writes.
 */
export class GenerationDirectory {
  private readonly cache = new Map<string, { state: GenerationState; readAt: number }>();
  readonly cacheMs: number;

  constructor(private readonly options: GenerationDirectoryOptions) {
    this.cacheMs = options.cacheMs ?? DEFAULT_GENERATION_CACHE_MS;
  }

  /** The view's state, at most `cacheMs` old. */
  async stateOf(view: string): Promise<GenerationState> {
    const now = (this.options.now ?? Date.now)();
    const cached = this.cache.get(view);
    if (cached !== undefined && now - cached.readAt < this.cacheMs) return cached.state;
    const state = await this.read(view);
    this.cache.set(view, { state, readAt: now });
    return state;
  }

  /** The view's state as stored now (a strongly consistent read). */
  async read(view: string): Promise<GenerationState> {
    const { Item } = await this.options.client.send(
      new GetItemCommand({
        TableName: this.options.manifestTable,
        Key: manifestKey(view, MANIFEST_KINDS.generation),
        ConsistentRead: true,
      }),
    );
    return generationStateFromItem(view, Item);
  }

  /** False when another replay of the view started first, or the served generation moved. */
  startReplay(state: GenerationState, building: BuildingGeneration): Promise<boolean> {
    return this.conditional(startReplayRequest(state, building));
  }

  /** False when another invocation recorded its result first (or the replay is no longer the one building). */
  recordBackfillResult(view: string, generation: number, result: Pick<BackfillProgress, 'prefix' | 'files'>) {
    return this.conditional(backfillComputedRequest(view, generation, result));
  }

  saveBackfillProgress(
    view: string,
    generation: number,
    progress: Pick<BackfillProgress, 'filesDone' | 'linesDone' | 'items'>,
  ): Promise<boolean> {
    return this.conditional(backfillProgressRequest(view, generation, progress));
  }

  markBackfilled(view: string, generation: number, items: number): Promise<boolean> {
    return this.conditional(backfilledRequest(view, generation, items));
  }

  flip(view: string, from: number, to: number): Promise<boolean> {
    return this.conditional(flipGenerationRequest(view, from, to));
  }

  markExpired(view: string, generation: number): Promise<boolean> {
    return this.conditional(expiredRequest(view, generation));
  }

  private async conditional(request: ManifestFlipRequest): Promise<boolean> {
    try {
      await this.options.client.send(new UpdateItemCommand({ TableName: this.options.manifestTable, ...request }));
      return true;
    } catch (error) {
      if ((error as { name?: unknown }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}
