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
 * The fields of an event, as declared (DESIGN.md §9): string dimensions that views key and filter by, numeric
 * fields that measures aggregate, the event-time field and the id field. Every other field of an event is kept: it
 * travels to the master dataset untouched, so that a later declaration can use what today's ignores.
 */
export interface EventSchemaDeclaration {
  /** The id field, a string: what `dedupeByEventId` de-duplicates by. @default 'eventId' */
  readonly id?: string;
  /** The event-time field: epoch milliseconds, or an ISO-8601 date-time with a zone. @default 'ts' */
  readonly time?: string;
  /** String fields views may key and filter by. The first is the Kinesis partition key. At least one. */
  readonly dimensions: readonly string[];
  /** Numeric fields measures may aggregate and filters may compare. Every event carries each of them. */
  readonly numbers: readonly string[];
}

/** A validated schema: what every layer follows. */
export interface EventSchema {
  readonly id: string;
  readonly time: string;
  readonly dimensions: readonly string[];
  readonly numbers: readonly string[];
}

/** The IoT example, and the schema when none is declared. */
export const DEFAULT_EVENT_SCHEMA: EventSchema = Object.freeze({
  id: 'eventId',
  time: 'ts',
  dimensions: Object.freeze(['deviceId', 'site', 'metric']),
  numbers: Object.freeze(['value']),
});

/** An event of the default IoT schema as producers send it (`ts` may be an ISO string). */
export interface IotEventInput {
  readonly eventId: string;
  readonly deviceId: string;
  readonly site: string;
  readonly metric: string;
  readonly value: number;
  readonly ts: number | string;
  readonly [extra: string]: unknown;
}

/** A validated event of the default IoT schema: `ts` is epoch milliseconds. */
export interface IotEvent extends IotEventInput {
  readonly ts: number;
}

/**
 * A validated event of any schema: its declared fields checked (dimensions and the id are strings, numbers finite
 * numbers within the stores' range, the time normalised to epoch milliseconds), its other fields as they came.
 */
export type PipelineEvent = Readonly<Record<string, unknown>>;

export type EventParseResult = { ok: true; event: PipelineEvent } | { ok: false; errors: string[] };

/** The event time of a validated event, epoch ms. */
export function eventTimeOf(schema: EventSchema, event: PipelineEvent): number {
  return event[schema.time] as number;
}

/** The id of a validated event. */
export function eventIdOf(schema: EventSchema, event: PipelineEvent): string {
  return event[schema.id] as string;
}

/** A dimension's value in a validated event. */
export function dimensionOf(event: PipelineEvent, field: string): string {
  return event[field] as string;
}

/** A numeric field's value in a validated event. */
export function numberOf(event: PipelineEvent, field: string): number {
  return event[field] as number;
}

/** The Kinesis partition key of a validated event: its first dimension, which keeps one device's events in order. */
export function partitionKeyOf(schema: EventSchema, event: PipelineEvent): string {
  return dimensionOf(event, schema.dimensions[0] as string);
}

const measuredValue = z
  .number({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a finite number') })
  .superRefine((value, ctx) => {
    const problem = valueProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

const validators = new WeakMap<EventSchema, z.ZodType<PipelineEvent>>();

/** The zod schema of a declared event, built once per schema: what validation and the OpenAPI document use. */
export function validatorOf(schema: EventSchema): z.ZodType<PipelineEvent> {
  let validator = validators.get(schema);
  if (validator === undefined) {
    const shape: Record<string, z.ZodType> = { [schema.id]: requiredString };
    for (const field of schema.dimensions) shape[field] = requiredString;
    for (const field of schema.numbers) shape[field] = measuredValue;
    shape[schema.time] = eventTimeSchema;
    validator = z.looseObject(shape) as unknown as z.ZodType<PipelineEvent>;
    validators.set(schema, validator);
  }
  return validator;
}

/**
 * When the event arrived (Kinesis ApproximateArrivalTimestamp; at ingest, the time of the request, which precedes
 * it) and how far its time may run ahead of that: an event is judged against its own arrival in every layer.
 */
export interface EventArrival {
  readonly arrivalMs: number;
  readonly eventTimeSkewMs: number;
  /** The declared schema. @default DEFAULT_EVENT_SCHEMA */
  readonly schema?: EventSchema;
}

/** Validates one decoded JSON value as an event. Errors name the field and the rule. */
export function parseEvent(
  input: unknown,
  { arrivalMs, eventTimeSkewMs, schema = DEFAULT_EVENT_SCHEMA }: EventArrival,
): EventParseResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: ['event: expected a JSON object'] };
  }
  const shape = jsonShapeProblem(input);
  if (shape !== undefined) return { ok: false, errors: [shape] };
  const result = validatorOf(schema).safeParse(input);
  if (!result.success) return { ok: false, errors: describeIssues(result.error.issues, 'event', { bareFields: true }) };
  const ahead = eventTimeProblem(eventTimeOf(schema, result.data), arrivalMs, eventTimeSkewMs);
  if (ahead !== undefined) return { ok: false, errors: [`${schema.time}: ${ahead}`] };
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
