import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EventStreamWriter, PutOutcome } from '../adapters/event-stream-writer';
import type { CountMetrics, HandlerLogger } from '../adapters/telemetry';
import { MAX_RECORD_BYTES } from '../core/event-limits';
import { DEFAULT_EVENT_SCHEMA, parseEvent, partitionKeyOf, type EventSchema } from '../core/event-schema';
import { clientError, jsonResponse } from '../adapters/api-response';

/** Events one request may carry: PutRecords' limit, so that one request is at most one stream write. */
export const MAX_EVENTS_PER_REQUEST = 500;

export const INGEST_METRICS = { accepted: 'EventsAccepted', rejected: 'EventsRejected' } as const;

export type RecordAnswer =
  | ({ readonly index: number } & PutOutcome)
  | { readonly index: number; readonly status: 'rejected'; readonly errors: readonly string[] };

export interface IngestHandlerDependencies {
  readonly writer: EventStreamWriter;
  /** How far event time may run ahead of arrival (PipelineConfig.eventTimeSkewMs), the bound every layer applies. */
  readonly eventTimeSkewMs: number;
  /** The declared event schema. @default DEFAULT_EVENT_SCHEMA */
  readonly schema?: EventSchema;
  /** The request's arrival, which precedes the record's arrival on the stream. @default Date.now */
  readonly now?: () => number;
  readonly logger: HandlerLogger;
  readonly metrics: CountMetrics;
}

/**
 * POST /events: one event or an array of up to 500. Each is validated with the event schema; the valid ones go to
 * the stream with the device id as partition key (a device's events stay in order on one shard), as the producer
 * sent them. The answer is per record, in order: accepted with its sequence number, rejected with the reasons,
 * failed if the stream still refused it after retries, or unknown if the write broke after it was sent (see
 * event-stream-writer.ts). 200 when all were accepted, 400 when every event was rejected or the body is not events
 * at all, 413 when it has too many, 207 for a mix.
 */
export function createIngestHandler({
  writer,
  eventTimeSkewMs,
  schema = DEFAULT_EVENT_SCHEMA,
  now = Date.now,
  logger,
  metrics,
}: IngestHandlerDependencies) {
  async function ingest(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    if (event.httpMethod !== 'POST') return clientError(405, [`${event.httpMethod}: POST events here`]);
    const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      return clientError(400, [`body: malformed JSON (${(error as Error).message})`]);
    }
    if (typeof body !== 'object' || body === null) {
      return clientError(400, ['body: expected an event (a JSON object) or a non-empty array of events']);
    }
    const inputs = Array.isArray(body) ? body : [body];
    if (inputs.length === 0) return clientError(400, ['body: expected an event or a non-empty array of events']);
    if (inputs.length > MAX_EVENTS_PER_REQUEST) {
      return clientError(413, [
        `body: ${inputs.length} events, above the limit of ${MAX_EVENTS_PER_REQUEST} per request`,
      ]);
    }

    const answers = new Array<RecordAnswer>(inputs.length);
    const valid: { index: number; data: Buffer; partitionKey: string }[] = [];
    const arrival = { arrivalMs: now(), eventTimeSkewMs, schema };
    inputs.forEach((input, index) => {
      const parsed = parseEvent(input, arrival);
      if (!parsed.ok) {
        answers[index] = { index, status: 'rejected', errors: parsed.errors };
        return;
      }
      const data = Buffer.from(JSON.stringify(input));
      const partitionKey = partitionKeyOf(schema, parsed.event);
      const bytes = data.length + Buffer.byteLength(partitionKey);
      if (bytes > MAX_RECORD_BYTES) {
        answers[index] = {
          index,
          status: 'rejected',
          errors: [
            `event: ${bytes} bytes (data and partition key), above the Kinesis record limit of ${MAX_RECORD_BYTES}`,
          ],
        };
        return;
      }
      valid.push({ index, data, partitionKey });
    });
    const outcomes = await writer.put(valid);
    valid.forEach(({ index }, position) => (answers[index] = { index, ...outcomes[position] }));

    const accepted = answers.filter((answer) => answer.status === 'accepted').length;
    const rejected = answers.filter((answer) => answer.status === 'rejected').length;
    const failed = answers.filter((answer) => answer.status === 'failed').length;
    const unknown = answers.length - accepted - rejected - failed;
    metrics.addMetric(INGEST_METRICS.accepted, MetricUnit.Count, accepted);
    metrics.addMetric(INGEST_METRICS.rejected, MetricUnit.Count, rejected);
    if (failed > 0) logger.error('events not written after retries', { failed });
    if (unknown > 0) logger.error('events whose write broke after it was sent: they may be on the stream', { unknown });
    const summary = { accepted, rejected, failed, unknown, results: answers };
    if (accepted === answers.length) return jsonResponse(200, summary);
    if (rejected < answers.length) return jsonResponse(207, summary);
    // Nothing was written because of what was sent: a client error, in the error shape, every reason listed.
    const errors = answers.flatMap((answer) =>
      answer.status === 'rejected'
        ? answer.errors.map((error) => (answers.length === 1 ? error : `events[${answer.index}].${error}`))
        : [],
    );
    return jsonResponse(400, { message: `no event accepted: ${errors[0]}`, errors, ...summary });
  }

  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      return await ingest(event);
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
