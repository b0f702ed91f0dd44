import type { DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';

/** What DynamoDB does with one request, as chosen by a test. */
export type WriteFault =
  /** An error response, which the SDK's own deserializer turns into the matching exception. */
  | { readonly error: { readonly statusCode: number; readonly type: string } }
  /** BatchWriteItem processes all but the last `items` of the request and returns them as UnprocessedItems. */
  | { readonly unprocessed: number };

export interface ObservedRequest {
  /** e.g. BatchWriteItemCommand */
  readonly command: string;
  /** 1-based count of requests of this command so far, this one included. */
  readonly index: number;
  readonly input: Readonly<Record<string, unknown>>;
  /** For BatchWriteItem: the partition keys of the items it carries. */
  readonly partitionKeys: readonly string[];
}

const INJECTED = Symbol('injected DynamoDB error');
type FaultContext = { [INJECTED]?: { readonly statusCode: number; readonly type: string } };

export const THROTTLED = { error: { statusCode: 400, type: 'ProvisionedThroughputExceededException' } } as const;
export const ACCESS_DENIED = { error: { statusCode: 400, type: 'AccessDeniedException' } } as const;

/**
 * Faults in front of a real DynamoDB-protocol server (dynalite). An error is answered as DynamoDB's own error
 * response, so the SDK's deserializer and retries see the genuine article; partial processing really writes only
 * the processed items and reports the rest as UnprocessedItems, as DynamoDB does under load (dynalite never does).
 */
export class DynamoDbWriteFaults {
  private readonly counts = new Map<string, number>();
  private decide: (request: ObservedRequest) => WriteFault | undefined = () => undefined;
  readonly requests: ObservedRequest[] = [];

  attachTo(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        const index = (this.counts.get(command) ?? 0) + 1;
        this.counts.set(command, index);
        const input = args.input as Record<string, unknown>;
        const request = { command, index, input, partitionKeys: partitionKeysOf(input) };
        this.requests.push(request);
        const fault = this.decide(request);
        if (fault === undefined) return next(args);
        if ('error' in fault) {
          (context as FaultContext)[INJECTED] = fault.error;
          return next(args);
        }
        const requestItems = input.RequestItems as Record<string, WriteRequest[]> | undefined;
        if (command !== 'BatchWriteItemCommand' || requestItems === undefined) {
          throw new Error(`unprocessed items are a BatchWriteItem answer, not one for ${command}`);
        }
        const [table] = Object.keys(requestItems);
        const writes = requestItems[table];
        const kept = writes.slice(0, Math.max(0, writes.length - fault.unprocessed));
        const withheld = writes.slice(kept.length);
        if (kept.length === 0)
          return { output: { UnprocessedItems: { [table]: withheld }, $metadata: {} }, response: {} };
        const result = await next({ ...args, input: { ...input, RequestItems: { [table]: kept } } });
        const output = result.output as { UnprocessedItems?: Record<string, WriteRequest[]> };
        output.UnprocessedItems = { [table]: [...(output.UnprocessedItems?.[table] ?? []), ...withheld] };
        return result;
      },
      { step: 'initialize', name: 'injectDynamoDbWriteFaults' },
    );
    // Innermost, where the HTTP handler would be: the request is not sent, and the SDK parses the error response.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const error = (context as FaultContext)[INJECTED];
        if (error === undefined) return next(args);
        const body = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${error.type}`, message: 'injected' });
        return {
          response: {
            statusCode: error.statusCode,
            reason: '',
            headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'injected' },
            body: Buffer.from(body),
          },
          output: undefined as never,
        };
      },
      { step: 'deserialize', priority: 'low', name: 'answerInjectedDynamoDbErrors' },
    );
    return this;
  }

  /** Chooses what happens to the following requests; replaces the previous choice. */
  failWhen(decide: (request: ObservedRequest) => WriteFault | undefined): void {
    this.decide = decide;
  }

  heal(): void {
    this.decide = () => undefined;
  }

  count(command: string): number {
    return this.counts.get(command) ?? 0;
  }
}

function partitionKeysOf(input: Record<string, unknown>): string[] {
  const requestItems = input.RequestItems as Record<string, WriteRequest[]> | undefined;
  if (requestItems === undefined) return [];
  return Object.values(requestItems).flatMap((writes) =>
    writes.map((write) => write.PutRequest?.Item?.pk?.S ?? write.DeleteRequest?.Key?.pk?.S ?? ''),
  );
}
