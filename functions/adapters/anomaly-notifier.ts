import {
  PutEventsCommand,
  type EventBridgeClient,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { presentAnomaly, type Anomaly } from '../core/anomaly';
import type { ViewDefinition } from '../core/view-declaration';
import { backoffDelayMs, retryPolicy, withRetries, type RetryPolicy } from './retry-policy';

/** Where anomalies go once recorded: an event a user can route (an EventBridge rule, an SNS topic...). */
export interface AnomalyNotifier {
  /** Publishes one event per anomaly; throws unless every one was accepted. */
  publish(view: ViewDefinition, anomalies: readonly Anomaly[]): Promise<void>;
}

/** What a rule matches anomaly events on: `{ "source": [source], "detail-type": [detailType] }`. */
export const ANOMALY_EVENT = { source: 'lambda-architecture', detailType: 'Anomaly detected' } as const;

/** PutEvents' limit of entries per request. */
export const PUT_EVENTS_LIMIT = 10;

/** Entry error codes after which the entry was not accepted and may be sent again as it is. */
const RETRYABLE_ENTRY_ERRORS = new Set(['ThrottlingException', 'InternalFailure', 'InternalException']);

export interface EventBridgeAnomalyNotifierOptions {
  /** Built with maxAttempts 1 in the speed layer: the notifier's retry policy is the only one. */
  readonly client: EventBridgeClient;
  /** A bus name or ARN; 'default' is the account's default bus. */
  readonly eventBusName: string;
  /** @default DEFAULT_RETRY_POLICY */
  readonly retry?: Partial<RetryPolicy>;
}

/** Entries PutEvents did not accept, with the codes it gave: the anomalies' records are redelivered. */
export class AnomalyEventsNotPutError extends Error {
  constructor(
    readonly failed: number,
    readonly errorCodes: readonly string[],
  ) {
    super(`EventBridge did not accept ${failed} anomaly event(s): ${errorCodes.join(', ')}`);
    this.name = 'AnomalyEventsNotPutError';
  }
}

/**
 * Publishes anomalies to an EventBridge bus (DESIGN.md §12): source `lambda-architecture`, detail type `Anomaly
 * detected`, the detail the anomalies answer presents (presentAnomaly), ten entries per PutEvents request.
 *
 * Delivery is at least once: a request that failed or timed out is sent again, and may then put an event twice, so
 * consumers de-duplicate by `detail.id`. Entries refused for capacity are sent again on their own; an entry refused
 * for its content (or still refused after the retries) fails the call, and the caller's records with it.
 */
export class EventBridgeAnomalyNotifier implements AnomalyNotifier {
  private readonly retry: RetryPolicy;

  constructor(private readonly options: EventBridgeAnomalyNotifierOptions) {
    this.retry = retryPolicy(options.retry);
  }

  async publish(view: ViewDefinition, anomalies: readonly Anomaly[]): Promise<void> {
    const entries = anomalies.map((anomaly) => this.entryOf(view, anomaly));
    for (let start = 0; start < entries.length; start += PUT_EVENTS_LIMIT) {
      await this.put(entries.slice(start, start + PUT_EVENTS_LIMIT));
    }
  }

  private entryOf(view: ViewDefinition, anomaly: Anomaly): PutEventsRequestEntry {
    return {
      EventBusName: this.options.eventBusName,
      Source: ANOMALY_EVENT.source,
      DetailType: ANOMALY_EVENT.detailType,
      Detail: JSON.stringify(presentAnomaly(view, anomaly)),
    };
  }

  /** One request's entries: those refused for capacity are sent again, up to the retry policy's attempts. */
  private async put(entries: readonly PutEventsRequestEntry[]): Promise<void> {
    let pending = [...entries];
    for (let round = 1; ; round += 1) {
      const sent = pending;
      const response = await withRetries(this.retry, (abortSignal) =>
        this.options.client.send(new PutEventsCommand({ Entries: sent }), { abortSignal }),
      );
      const results: readonly PutEventsResultEntry[] = response.Entries ?? [];
      if ((response.FailedEntryCount ?? 0) === 0 && results.every((result) => result.ErrorCode === undefined)) return;
      const refused = sent.flatMap((entry, index) => {
        const code = results[index]?.ErrorCode;
        return code === undefined || code === null ? [] : [{ entry, code }];
      });
      if (refused.length === 0) {
        throw new AnomalyEventsNotPutError(response.FailedEntryCount ?? 0, ['(no error code in the response)']);
      }
      const retryable = refused.every(({ code }) => RETRYABLE_ENTRY_ERRORS.has(code));
      if (!retryable || round >= this.retry.maxAttempts) {
        throw new AnomalyEventsNotPutError(refused.length, [...new Set(refused.map(({ code }) => code))]);
      }
      pending = refused.map(({ entry }) => entry);
      await this.retry.sleep(backoffDelayMs(this.retry, round));
    }
  }
}
