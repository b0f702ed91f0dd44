import { z } from 'zod';
import { DEFAULT_VIEW_DECLARATIONS } from './default-views';
import type { EventSchema } from './event-schema';
import { defineEventSchema, EventSchemaError } from './event-schema-definition';
import { describeIssues, objectError } from './schema-issues';
import { defineViews, viewDeclarationOf, type ViewDefinition } from './view-declaration';

export const ARCHITECTURES = ['lambda', 'kappa'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;

const settingsSchema = z
  .object(
    {
      /** The event schema (event-schema.ts). @default the IoT example */
      schema: z.unknown().optional(),
      views: z.unknown().optional(),
      /** Arrival epoch length. Divides a day so that epochs align with UTC days. @default 15 */
      epochLengthMinutes: z
        .number()
        .int()
        .min(1)
        .max(DAY_MINUTES)
        .refine((minutes) => DAY_MINUTES % minutes === 0, 'expected a divisor of 1440 (a day), such as 5, 15 or 60')
        .default(15),
      /** Firehose buffering interval. @default 60 */
      firehoseBufferIntervalSeconds: z.number().int().min(0).max(900).default(60),
      /** Extra wait past the buffer interval before an epoch counts as archived. @default 5 */
      safetyMarginMinutes: z.number().int().min(0).default(5),
      /** How often the batch job runs. @default 60 */
      batchScheduleMinutes: z.number().int().min(1).default(60),
      /** How long realtime items outlive their epoch. Must outlast a missed batch run. @default 48 */
      realtimeRetentionHours: z.number().positive().default(48),
      /**
       * How far an event's time may run ahead of its arrival; events further ahead are rejected by every layer
       * alike. Retention-bounded rebuilds rely on it. @default 24
       */
      eventTimeSkewHours: z.number().positive().default(24),
      /**
       * eventId de-duplication (a view option): a copy of an eventId that arrives at most this long after an earlier
       * copy is a duplicate. Producer retries come seconds apart; each batch window reads this far back for earlier
       * copies, so it is what a de-duplicating view's window costs beyond the window itself. @default 60
       */
      eventIdDedupHorizonMinutes: z.number().int().min(1).default(60),
      /**
       * Athena stops a batch window's query that would scan more than this (the workgroup's cutoff). A window reads
       * the arrival partitions of its own hours, plus the de-dup horizon for de-duplicating views. @default 10
       */
      batchScanCutoffGiB: z.number().positive().default(10),
      /** The same for a rebuild's or a replay's query, which reads the history within the views' retention. @default 1000 */
      rebuildScanCutoffGiB: z.number().positive().default(1000),
      /** Rebuild every view this often (days), compacting its windows into a new base; null: only on demand. @default null */
      rebuildScheduleDays: z.number().int().min(1).nullable().default(null),
      /** @default 'lambda' */
      architecture: z.enum(ARCHITECTURES, { error: `expected one of ${ARCHITECTURES.join(', ')}` }).default('lambda'),
    },
    { error: objectError('a configuration object') },
  )
  .strict();

export type PipelineSettingsInput = z.input<typeof settingsSchema>;

/** Everything the layers share about the pipeline, in milliseconds, with the views validated. */
export interface PipelineConfig {
  /** The declared event schema every layer follows. */
  readonly schema: EventSchema;
  readonly views: readonly ViewDefinition[];
  readonly epochLengthMs: number;
  readonly bufferIntervalMs: number;
  readonly safetyMarginMs: number;
  readonly batchIntervalMs: number;
  readonly realtimeRetentionMs: number;
  /** How far event time may run ahead of arrival (event-limits.ts). */
  readonly eventTimeSkewMs: number;
  /** eventId de-dup horizon H (DESIGN.md §4). */
  readonly dedupHorizonMs: number;
  /** The longest arrival window one batch run step computes; a run that fell behind catches up in windows of this. */
  readonly maxWindowMs: number;
  readonly batchScanCutoffBytes: number;
  readonly rebuildScanCutoffBytes: number;
  readonly rebuildIntervalMs: number | null;
  readonly architecture: Architecture;
}

export class PipelineConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid pipeline configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PipelineConfigError';
  }
}

/**
 * Validates the pipeline configuration, from cdk.json context or the local runtime's options. Like view
 * declarations, a bad configuration fails at synth or start time.
 */
export function definePipelineConfig(input: unknown = {}): PipelineConfig {
  const parsed = settingsSchema.safeParse(input);
  if (!parsed.success) throw new PipelineConfigError(describeIssues(parsed.error.issues, 'config'));
  const settings = parsed.data;
  const schema = schemaOf(settings.schema);
  const config: PipelineConfig = {
    schema,
    views: defineViews(settings.views ?? DEFAULT_VIEW_DECLARATIONS, schema),
    epochLengthMs: settings.epochLengthMinutes * MINUTE_MS,
    bufferIntervalMs: settings.firehoseBufferIntervalSeconds * 1000,
    safetyMarginMs: settings.safetyMarginMinutes * MINUTE_MS,
    batchIntervalMs: settings.batchScheduleMinutes * MINUTE_MS,
    realtimeRetentionMs: settings.realtimeRetentionHours * 3_600_000,
    eventTimeSkewMs: settings.eventTimeSkewHours * 3_600_000,
    dedupHorizonMs: settings.eventIdDedupHorizonMinutes * MINUTE_MS,
    // A few intervals' worth: a window never costs more than a few scheduled runs would, and catching up after an
    // outage of a day takes a handful of runs (each run computes windows until it has caught up or used its time).
    maxWindowMs:
      Math.max(1, Math.round((4 * settings.batchScheduleMinutes) / settings.epochLengthMinutes)) *
      settings.epochLengthMinutes *
      MINUTE_MS,
    batchScanCutoffBytes: Math.round(settings.batchScanCutoffGiB * 1024 ** 3),
    rebuildScanCutoffBytes: Math.round(settings.rebuildScanCutoffGiB * 1024 ** 3),
    rebuildIntervalMs: settings.rebuildScheduleDays === null ? null : settings.rebuildScheduleDays * 86_400_000,
    architecture: settings.architecture,
  };
  // The speed layer's eventId claims live as long as its items; the horizon must not outlast them.
  if (config.dedupHorizonMs > config.realtimeRetentionMs) {
    throw new PipelineConfigError([
      `config.eventIdDedupHorizonMinutes: ${settings.eventIdDedupHorizonMinutes} min is longer than ` +
        `realtimeRetentionHours (${settings.realtimeRetentionHours} h), which the speed layer's eventId claims last`,
    ]);
  }
  // A realtime item must stay until the batch run that covers its epoch has flipped, even if one run is missed:
  // the cutoff lags arrival by up to an epoch plus the buffer and margin, and a missed run adds an interval.
  const needed = config.epochLengthMs + config.bufferIntervalMs + config.safetyMarginMs + 2 * config.batchIntervalMs;
  if (config.architecture === 'lambda' && config.realtimeRetentionMs < needed) {
    throw new PipelineConfigError([
      `config.realtimeRetentionHours: ${settings.realtimeRetentionHours} h is too short: realtime items must ` +
        `outlast a missed batch run (at least ${Math.ceil(needed / 3_600_000)} h with these settings)`,
    ]);
  }
  return config;
}

/** The schema, with its problems reported as the configuration's, under `config.schema`. */
function schemaOf(input: unknown): EventSchema {
  try {
    return defineEventSchema(input);
  } catch (error) {
    if (error instanceof EventSchemaError) {
      throw new PipelineConfigError(error.problems.map((problem) => `config.${problem}`));
    }
    throw error;
  }
}

/**
 * The configuration as JSON, the form in which handlers receive it (environment variable PIPELINE_CONFIG). Views
 * are written in the declaration notation, so that reading them back validates them against the schema again.
 */
export function serializePipelineConfig(config: PipelineConfig): string {
  return JSON.stringify({ ...config, views: config.views.map(viewDeclarationOf) });
}

/** Reads a serialized configuration back, validating the schema and the views again so a corrupted value fails loudly. */
export function deserializePipelineConfig(json: string): PipelineConfig {
  const raw = JSON.parse(json) as Omit<PipelineConfig, 'views'> & { views: unknown };
  const schema = defineEventSchema(raw.schema);
  return { ...raw, schema, views: defineViews(raw.views, schema) };
}
