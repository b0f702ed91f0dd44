import { z } from 'zod';
import {
  eventTimeProblem,
  identifierProblem,
  jsonShapeProblem,
  MAX_ENCODED_IDENTIFIER_BYTES,
  MAX_EVENT_TIME_MS,
  MAX_IDENTIFIER_LENGTH,
  MIN_EVENT_TIME_MS,
  valueProblem,
} from './event-limits';
import { describeIssues } from './schema-issues';

const requiredString = z
  .string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a string') })
  .superRefine((value, ctx) => {
    const problem = identifierProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe(
    `Non-empty, well-formed Unicode, no white space at either end, at most ${MAX_IDENTIFIER_LENGTH} UTF-16 code ` +
      `units and ${MAX_ENCODED_IDENTIFIER_BYTES} bytes URI-encoded.`,
  );

const EARLIEST = 'expected a time at or after 1970-01-01T00:00:00Z';
const LATEST = 'expected a time at or before 9999-12-31T23:59:59.999Z';

// ISO-8601 date-times must carry a zone: a local time would bucket differently on every machine.
const isoDateTime = z.iso.datetime({ offset: true, error: 'expected an ISO-8601 date-time with a zone (Z or ±hh:mm)' });

/**
 * Event time: epoch milliseconds, or an ISO-8601 date-time that is normalised to epoch milliseconds so that
 * every layer (and the batch SQL) does integer arithmetic on it.
 */
export const eventTimeSchema = z
  .union(
    [
      // A refine, not .int(): zod reports a failed .int() inside a union as the union's type error.
      z
        .number()
        .refine(Number.isInteger, 'expected whole epoch milliseconds')
        .min(MIN_EVENT_TIME_MS, EARLIEST)
        .max(MAX_EVENT_TIME_MS, LATEST),
      isoDateTime.transform((text) => Date.parse(text)),
    ],
    {
      error: (issue) =>
        issue.input === undefined
          ? 'required'
          : 'expected epoch milliseconds (a non-negative integer) or an ISO-8601 date-time with a zone',
    },
  )
  .pipe(z.number().min(MIN_EVENT_TIME_MS, EARLIEST).max(MAX_EVENT_TIME_MS, LATEST));

/**
 * The default IoT event. Unknown extra fields are kept: they travel to the master dataset untouched, so a later
 * view can use what today's views ignore.
 */
export const iotEventSchema = z.looseObject({
  eventId: requiredString,
  deviceId: requiredString,
  site: requiredString,
  metric: requiredString,
  value: z
    .number({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a finite number') })
    .superRefine((value, ctx) => {
      const problem = valueProblem(value);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }),
  ts: eventTimeSchema,
});

/** An event as producers send it (`ts` may be an ISO string). */
export type IotEventInput = z.input<typeof iotEventSchema>;
/** A validated event: `ts` is epoch milliseconds. */
export type IotEvent = z.output<typeof iotEventSchema>;

export type EventParseResult = { ok: true; event: IotEvent } | { ok: false; errors: string[] };

/**
 * When the event arrived (Kinesis ApproximateArrivalTimestamp; at ingest, the time of the request, which precedes
 * it) and how far its time may run ahead of that: an event is judged against its own arrival in every layer.
 */
export interface EventArrival {
  readonly arrivalMs: number;
  readonly eventTimeSkewMs: number;
}

/** Validates one decoded JSON value as an event. Errors name the field and the rule. */
export function parseEvent(input: unknown, { arrivalMs, eventTimeSkewMs }: EventArrival): EventParseResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: ['event: expected a JSON object'] };
  }
  const shape = jsonShapeProblem(input);
  if (shape !== undefined) return { ok: false, errors: [shape] };
  const result = iotEventSchema.safeParse(input);
  if (!result.success) return { ok: false, errors: describeIssues(result.error.issues, 'event', { bareFields: true }) };
  const ahead = eventTimeProblem(result.data.ts, arrivalMs, eventTimeSkewMs);
  if (ahead !== undefined) return { ok: false, errors: [`ts: ${ahead}`] };
  return { ok: true, event: result.data };
}

/** Decodes and validates one event from its JSON text, as it travels in a Kinesis record. */
export function parseEventJson(text: string, arrival: EventArrival): EventParseResult {
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [`event: malformed JSON (${(error as Error).message})`] };
  }
  return parseEvent(decoded, arrival);
}
