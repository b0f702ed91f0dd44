import { PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { backoffDelayMs, retryPolicy, withRetries, type RetryPolicy } from './retry-policy';

/** PutRecords limits: 500 entries and 5 MiB per request. */
export const PUT_RECORDS_MAX_ENTRIES = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;

export type PutOutcome =
  | { readonly status: 'accepted'; readonly sequenceNumber: string; readonly shardId: string }
  | { readonly status: 'failed'; readonly error: string };

export interface EventStreamWriterOptions {
  readonly client: KinesisClient;
  readonly streamName: string;
  readonly retry?: Partial<RetryPolicy>;
}

/**
 * Writes records to the stream with PutRecords, in requests within its limits, and retries only the entries that
 * PutRecords reports as failed (throttled shards), with backoff, a bounded number of times. A whole-request error
 * that is transient is retried too. The answer is per entry, in order.
 */
export class EventStreamWriter {
  private readonly retry: RetryPolicy;

  constructor(private readonly options: EventStreamWriterOptions) {
    this.retry = retryPolicy(options.retry);
  }

  async put(entries: readonly { data: Buffer; partitionKey: string }[]): Promise<PutOutcome[]> {
    const outcomes = new Array<PutOutcome>(entries.length);
    for (const chunk of chunks(entries)) {
      let pending = chunk;
      for (let attempt = 1; pending.length > 0; attempt += 1) {
        const request: PutRecordsRequestEntry[] = pending.map(({ entry }) => ({
          Data: entry.data,
          PartitionKey: entry.partitionKey,
        }));
        const response = await withRetries(this.retry, (abortSignal) =>
          this.options.client.send(new PutRecordsCommand({ StreamName: this.options.streamName, Records: request }), {
            abortSignal,
          }),
        );
        const retry: typeof pending = [];
        (response.Records ?? []).forEach((result, index) => {
          const { index: original } = pending[index];
          if (result.ErrorCode === undefined && result.SequenceNumber !== undefined) {
            outcomes[original] = {
              status: 'accepted',
              sequenceNumber: result.SequenceNumber,
              shardId: result.ShardId ?? '',
            };
          } else if (attempt < this.retry.maxAttempts) {
            retry.push(pending[index]);
          } else {
            outcomes[original] = {
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

function chunks<T extends { data: Buffer; partitionKey: string }>(
  entries: readonly T[],
): { entry: T; index: number }[][] {
  const result: { entry: T; index: number }[][] = [];
  let current: { entry: T; index: number }[] = [];
  let bytes = 0;
  entries.forEach((entry, index) => {
    const size = entry.data.length + Buffer.byteLength(entry.partitionKey);
    if (current.length > 0 && (current.length === PUT_RECORDS_MAX_ENTRIES || bytes + size > PUT_RECORDS_MAX_BYTES)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push({ entry, index });
    bytes += size;
  });
  if (current.length > 0) result.push(current);
  return result;
}
