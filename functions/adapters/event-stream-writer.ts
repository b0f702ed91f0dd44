import { PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import {
  backoffDelayMs,
  isRetryableError,
  isUnappliedError,
  retryPolicy,
  withRetries,
  type RetryPolicy,
} from './retry-policy';
import { describeError } from '../core/error-description';

/** PutRecords limits: 500 entries and 5 MiB per request. */
export const PUT_RECORDS_MAX_ENTRIES = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;

/**
 * What became of one entry. `failed`: certainly not on the stream (the entry or the request was refused), so the
 * producer may send it again. `unknown`: the request timed out or broke after it was sent, so the entry may be on
 * the stream; sending it again with the same eventId is safe for views that de-duplicate by eventId.
 */
export type PutOutcome =
  | { readonly status: 'accepted'; readonly sequenceNumber: string; readonly shardId: string }
  | { readonly status: 'failed' | 'unknown'; readonly error: string };

export interface StreamEntry {
  readonly data: Buffer;
  readonly partitionKey: string;
}

export interface EventStreamWriterOptions {
  readonly client: KinesisClient;
  readonly streamName: string;
  readonly retry?: Partial<RetryPolicy>;
}

/**
 * Writes records to the stream with PutRecords, in requests within its limits. PutRecords is not idempotent: a
 * request sent twice puts its records twice, and the default views would count them twice. So only what certainly
 * was not written is sent again: the entries PutRecords reports as failed (throttled shards), and a request refused
 * whole (throttling, no connection), with backoff, a bounded number of times. A request that timed out or broke
 * after it was sent is not resent: its entries are answered `unknown`, and the producer decides. The answer is per
 * entry, in order.
 */
export class EventStreamWriter {
  private readonly retry: RetryPolicy;

  constructor(private readonly options: EventStreamWriterOptions) {
    this.retry = retryPolicy(options.retry);
  }

  async put(entries: readonly StreamEntry[]): Promise<PutOutcome[]> {
    const outcomes = new Array<PutOutcome>(entries.length);
    for (const chunk of putRecordsChunks(entries)) {
      let pending = chunk.map((index) => ({ entry: entries[index], index }));
      for (let attempt = 1; pending.length > 0; attempt += 1) {
        const request: PutRecordsRequestEntry[] = pending.map(({ entry }) => ({
          Data: entry.data,
          PartitionKey: entry.partitionKey,
        }));
        let response;
        try {
          response = await withRetries(
            this.retry,
            (abortSignal) =>
              this.options.client.send(
                new PutRecordsCommand({ StreamName: this.options.streamName, Records: request }),
                { abortSignal },
              ),
            undefined,
            isUnappliedError,
          );
        } catch (error) {
          const status = isRetryableError(error) && !isUnappliedError(error) ? 'unknown' : 'failed';
          for (const { index } of pending) outcomes[index] = { status, error: describeError(error) };
          break;
        }
        const retry: typeof pending = [];
        (response.Records ?? []).forEach((result, position) => {
          const { index } = pending[position];
          if (result.ErrorCode === undefined && result.SequenceNumber !== undefined) {
            outcomes[index] = {
              status: 'accepted',
              sequenceNumber: result.SequenceNumber,
              shardId: result.ShardId ?? '',
            };
          } else if (attempt < this.retry.maxAttempts) {
            retry.push(pending[position]);
          } else {
            outcomes[index] = {
              status: 'failed',
              error: `${result.ErrorCode ?? 'Unknown'}: ${result.ErrorMessage ?? 'not written'}`,
            };
          }
        });
        pending = retry;
        if (pending.length > 0) await this.retry.sleep(backoffDelayMs(this.retry, attempt));
      }
    }
    return outcomes;
  }
}

/** The entries' indexes, grouped in order into requests within PutRecords' entry and byte limits. */
export function putRecordsChunks(entries: readonly StreamEntry[]): number[][] {
  const result: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  entries.forEach((entry, index) => {
    const size = entry.data.length + Buffer.byteLength(entry.partitionKey);
    if (current.length > 0 && (current.length === PUT_RECORDS_MAX_ENTRIES || bytes + size > PUT_RECORDS_MAX_BYTES)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  });
  if (current.length > 0) result.push(current);
  return result;
}
