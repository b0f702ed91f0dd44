import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** An error response DynamoDB could send, which the SDK's own deserializer turns into the matching exception. */
export interface DynamoDbFault {
  readonly statusCode: number;
  /** The error type, as in `__type` (ProvisionedThroughputExceededException, InternalServerError, ...). */
  readonly type: string;
}

export const THROTTLED: DynamoDbFault = { statusCode: 400, type: 'ProvisionedThroughputExceededException' };
export const INTERNAL_ERROR: DynamoDbFault = { statusCode: 500, type: 'InternalServerError' };
/** Not retryable: the item is given up for the batch at once. */
export const ACCESS_DENIED: DynamoDbFault = { statusCode: 400, type: 'AccessDeniedException' };

export interface DynamoDbRequest {
  /** e.g. UpdateItemCommand */
  readonly command: string;
  /** 1-based count of requests of this command so far, this one included. */
  readonly index: number;
  readonly input: Readonly<Record<string, unknown>>;
}

/**
 * Counts a client's requests per command and answers chosen ones with an error response instead of sending
 * them. It sits innermost in the middleware stack, where the HTTP handler would be, so everything else (the
 * SDK's deserializer, its retry middleware if the client has retries) sees a genuine DynamoDB error response.
 */
export class DynamoDbFaults {
  private readonly counts = new Map<string, number>();
  private decide: (request: DynamoDbRequest) => DynamoDbFault | undefined = () => undefined;
  /** Requests answered with a fault. */
  readonly injected: (DynamoDbRequest & { fault: DynamoDbFault })[] = [];

  attachTo(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        const index = (this.counts.get(command) ?? 0) + 1;
        this.counts.set(command, index);
        const request = { command, index, input: args.input as Record<string, unknown> };
        const fault = this.decide(request);
        if (fault === undefined) return next(args);
        this.injected.push({ ...request, fault });
        const body = JSON.stringify({
          __type: `com.amazonaws.dynamodb.v20120810#${fault.type}`,
          message: `injected ${fault.type}`,
        });
        return {
          response: {
            statusCode: fault.statusCode,
            reason: '',
            headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `fault-${index}` },
            body: Buffer.from(body),
          },
          output: undefined as never,
        };
      },
      { step: 'deserialize', priority: 'low', name: 'injectDynamoDbFaults' },
    );
    return this;
  }

  /** Chooses which of the following requests fail; replaces the previous choice. */
  failWhen(decide: (request: DynamoDbRequest) => DynamoDbFault | undefined): void {
    this.decide = decide;
  }

  /** Stops injecting. */
  heal(): void {
    this.decide = () => undefined;
  }

  count(command: string): number {
    return this.counts.get(command) ?? 0;
  }

  resetCounts(): void {
    this.counts.clear();
  }
}
