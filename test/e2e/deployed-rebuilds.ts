import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient, type InvocationType } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { BatchViewStore } from '../../functions/adapters/batch-view-store';
import { listKeys } from '../../functions/adapters/s3-listing';
import type { BatchBase, BatchViewState } from '../../functions/core/manifest';
import type { DeployedStack } from './deployed-stack';

/** A view's batch state once a rebuild has flipped to its base: the base is served. */
export type RebuiltState = BatchViewState & { readonly base: BatchBase; readonly cutoff: number };

/** What the rebuild Lambda is asked (functions/rebuild/rebuild-request.ts). */
export interface RebuildInvocation {
  readonly kind: 'batch' | 'realtime';
  /** A view's name, or `*` (batch only) for every view, as the schedule sends. */
  readonly view: string;
}

/** How often the manifest is read while a rebuild runs. */
const POLL_MS = 1_000;

/**
 * The deployed rebuild machinery as an operator reaches it: the rebuild Lambda, invoked by name, and the manifest
 * table, read with the same code the handlers use (BatchViewStore.state), as `npm run rebuild -- --stack` follows a
 * rebuild. The work bucket is listed for the engine's result files.
 */
export class DeployedRebuilds {
  private readonly lambda = new LambdaClient({});
  private readonly dynamodb = new DynamoDBClient({});
  private readonly s3: S3Client;
  private readonly store: BatchViewStore;

  constructor(private readonly stack: DeployedStack) {
    // Emulators serve buckets by path: their bucket host names do not resolve offline.
    this.s3 = new S3Client({ forcePathStyle: stack.target !== 'aws' });
    // Only the manifest is read: the batch rows' table is never named.
    this.store = new BatchViewStore({ client: this.dynamodb, batchTable: '-', manifestTable: stack.manifestTableName });
  }

  /** The view's batch state, read consistently from the manifest table. */
  state(view: string): Promise<BatchViewState> {
    return this.store.state(view);
  }

  /**
   * Invokes the rebuild Lambda. `Event` is how `npm run rebuild -- --stack`, the schedule's fan-out and a long job's
   * continuation call it, and answers nothing; `RequestResponse` answers the handler's result, or throws its error.
   */
  async invoke(request: RebuildInvocation, type: InvocationType): Promise<unknown> {
    const response = await this.lambda.send(
      new InvokeCommand({
        FunctionName: this.stack.rebuildFunctionName,
        InvocationType: type,
        Payload: JSON.stringify(request),
      }),
    );
    // An Event invocation answers no payload; on MiniStack the SDK then gives null, not the undefined its type says.
    const bytes: Uint8Array | null | undefined = response.Payload;
    const payload = bytes === undefined || bytes === null ? '' : Buffer.from(bytes).toString('utf8');
    if (response.FunctionError !== undefined) {
      throw new Error(`${this.stack.rebuildFunctionName} failed (${response.FunctionError}): ${payload}`);
    }
    const expected = type === 'Event' ? 202 : 200;
    if (response.StatusCode !== expected) {
      throw new Error(`${this.stack.rebuildFunctionName} answered ${response.StatusCode}, expected ${expected}`);
    }
    return payload === '' ? undefined : (JSON.parse(payload) as unknown);
  }

  /**
   * Waits until the view serves a base other than `previousBaseId`, with no rebuild in progress and nothing left
   * to expire: the rebuild flipped and gave the rows it superseded their TTL. Fails naming the last state seen.
   */
  async newBase(view: string, previousBaseId: string | null, timeoutMs: number): Promise<RebuiltState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.state(view);
      const { base, cutoff } = state;
      if (
        base !== null &&
        cutoff !== null &&
        base.id !== previousBaseId &&
        state.rebuild === null &&
        state.expiring === null
      ) {
        return { ...state, base, cutoff };
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${view} to flip to a new base (it served ` +
            `${previousBaseId ?? 'no base'} before the rebuild); last state: ${describeState(state)}. See the rebuild Lambda's log.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** The engine's result files of a base in the work bucket (rebuild-job.ts puts them under rebuilds/VIEW/ID/). */
  resultFiles(view: string, baseId: string): Promise<string[]> {
    return listKeys(this.s3, this.stack.workBucketName, `rebuilds/${view}/${baseId}/`);
  }

  destroy(): void {
    this.lambda.destroy();
    this.dynamodb.destroy();
    this.s3.destroy();
  }
}

function describeState(state: BatchViewState): string {
  const rebuild = state.rebuild;
  const served = `base ${state.base?.id ?? '(none)'}, cutoff ${state.cutoff ?? '(none)'}`;
  if (rebuild !== null) {
    const progress =
      rebuild.result === null
        ? 'the engine is computing it'
        : `${rebuild.rowsWritten} rows written, ${rebuild.filesDone} of ${rebuild.result.files} files`;
    return `${served}; rebuild ${rebuild.id} in progress: ${progress}`;
  }
  if (state.expiring !== null) return `${served}; the rows it superseded are being given their TTL`;
  return served;
}
