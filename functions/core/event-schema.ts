import { z } from 'zod';
import { describeIssues } from './schema-issues';

/** The largest payload Kinesis accepts for one record (data plus partition key): 1 MiB. */
export const MAX_RECORD_BYTES = 1_048_576;

/** Dimension values and ids are bounded so that DynamoDB keys stay far below the 2 KiB partition-key limit. */
export const MAX_IDENTIFIER_LENGTH = 256;

const requiredString = z
  .string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a string') })
  .min(1, 'expected a non-empty string')
  .max(MAX_IDENTIFIER_LENGTH, `expected at most ${MAX_IDENTIFIER_LENGTH} characters`);

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
        .nonnegative('expected a time at or after 1970-01-01T00:00:00Z')
        .max(Number.MAX_SAFE_INTEGER, 'expected epoch milliseconds'),
      isoDateTime.transform((text) => Date.parse(text)),
    ],
    {
      error: (issue) =>
        issue.input === undefined
          ? 'required'
          : 'expected epoch milliseconds (a non-negative integer) or an ISO-8601 date-time with a zone',
    },
  )
  .pipe(z.number().nonnegative('expected a time at or after 1970-01-01T00:00:00Z'));

/**
 * The default IoT event. Unknown extra fields are kept: they travel to the master dataset untouched, so a later
 * view can use what today's views ignore.
 */
export const iotEventSchema = z.looseObject({
  eventId: requiredString,
  deviceId: requiredString,
  site: requiredString,
  metric: requiredString,
  value: z.number({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a finite number') }),
  ts: eventTimeSchema,
});

/** An event as producers send it (`ts` may be an ISO string). */
export type IotEventInput = z.input<typeof iotEventSchema>;
/** A validated event: `ts` is epoch milliseconds. */
export type IotEvent = z.output<typeof iotEventSchema>;

export type EventParseResult = { ok: true; event: IotEvent } | { ok: false; errors: string[] };

/** Validates one decoded JSON value as an event. Errors name the field and the rule. */
export function parseEvent(input: unknown): EventParseResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: ['event: expected a JSON object'] };
  }
  const result = iotEventSchema.safeParse(input);
  if (result.success) return { ok: true, event: result.data };
  return { ok: false, errors: describeIssues(result.error.issues, 'event', { bareFields: true }) };
}

/** Decodes and validates one event from its JSON text, as it travels in a Kinesis record. */
export function parseEventJson(text: string): EventParseResult {
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [`event: malformed JSON (${(error as Error).message})`] };
  }
  return parseEvent(decoded);
}
