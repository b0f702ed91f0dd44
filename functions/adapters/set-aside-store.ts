import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SET_ASIDE_PREFIX } from '../core/set-aside-layout';
import { retryPolicy, withRetries, type RetryPolicy } from './retry-policy';

/** A record that passed validation but could not be written to a view, with where it would have counted. */
export interface SetAsideRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly arrivalMs: number;
  readonly view: string;
  readonly generation: number;
  readonly dimensionKey: string;
  readonly bucket: number;
  readonly epoch: number;
  readonly reason: string;
  /** The validated event, so that an operator can post it again once the cause is fixed. */
  readonly event: unknown;
}

export interface SetAsideStoreOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** @default SET_ASIDE_PREFIX */
  readonly prefix?: string;
  /** @default DEFAULT_RETRY_POLICY */
  readonly retry?: Partial<RetryPolicy>;
}

/**
 * Keeps what the speed layer sets aside (DESIGN.md §4: no single record may stop a shard or a view) where an operator
 * can see and replay it: one JSON object per Lambda batch and shard, under `set-aside/speed/dt=<arrival day>/`. The
 * key is a function of the records, so a redelivered batch overwrites its own object instead of adding a copy. A
 * batch skips its set-aside items only once this write has succeeded.
 */
export class SetAsideStore {
  private readonly retry: RetryPolicy;

  constructor(private readonly options: SetAsideStoreOptions) {
    this.retry = retryPolicy(options.retry);
  }

  /** Writes the records (one shard's) and answers the object's key. */
  async put(layer: string, records: readonly SetAsideRecord[]): Promise<string> {
    if (records.length === 0) throw new Error('set-aside: nothing to write');
    // Sequence numbers are decimal strings of varying length: the shorter is the lower.
    const [first] = [...records].sort(
      (a, b) => a.sequenceNumber.length - b.sequenceNumber.length || a.sequenceNumber.localeCompare(b.sequenceNumber),
    );
    const day = new Date(first.arrivalMs).toISOString().slice(0, 10);
    const key =
      `${this.options.prefix ?? SET_ASIDE_PREFIX}${layer}/dt=${day}/` +
      `${first.shardId}-${first.sequenceNumber}-${records.length}.json`;
    const body = JSON.stringify({ layer, records }, null, 1);
    await withRetries(this.retry, (abortSignal) =>
      this.options.s3.send(
        new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: body, ContentType: 'application/json' }),
        { abortSignal },
      ),
    );
    return key;
  }
}
