import { z } from 'zod';
import { extendZodWithOpenApi, OpenApiGeneratorV3, OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { validatorOf, type EventSchema } from '../core/event-schema';
import { MAX_IDENTIFIER_LENGTH } from '../core/event-limits';
import { GRANULARITIES, canRollUp } from '../core/granularity';
import { orderableMeasures } from '../core/key-ranking';
import { DEFAULT_QUANTILES } from '../core/measures';
import {
  DEFAULT_KEYS_PAGE,
  DEFAULT_QUERY_LIMITS,
  DEFAULT_TOP_LIMIT,
  MAX_QUANTILES,
  QUERY_TIME_RANGE,
  TOP_ORDERS,
} from '../core/query-request';
import { describeMeasure, type MeasureDefinition, type ViewDefinition } from '../core/view-declaration';
import { measureAccuracy } from './measure-accuracy';
import { DEFAULT_ANOMALY_LIMIT, MAX_ANOMALY_LIMIT } from '../core/anomaly-request';
import { DEFAULT_FORECAST_HORIZON, MAX_FORECAST_HORIZON } from '../core/forecast-request';
import { SEASONALITIES, type BaselineDefinition } from '../core/baseline';
import { MAX_EVENTS_PER_REQUEST } from '../ingest/ingest-handler';

extendZodWithOpenApi(z);

const errorSchema = z.object({ message: z.string(), errors: z.array(z.string()) });
const provenanceSchema = z
  .object({ batchVersion: z.string(), cutoff: z.string(), cutoffMs: z.number(), computedAt: z.string() })
  .nullable()
  .openapi({ description: 'The batch version served and its cutoff; null before the first batch run.' });
const keysAnswerSchema = z.object({
  view: z.string(),
  keys: z.array(
    z.object({
      key: z.record(z.string(), z.string()).openapi({ description: 'Every dimension of the view, with its value.' }),
      firstSeen: z.string().openapi({ format: 'date-time', description: 'When the key first arrived.' }),
      firstSeenMs: z.number().int(),
      lastSeen: z.string().openapi({
        format: 'date-time',
        description:
          'When the key last arrived, as the batch layer last saw it (the speed layer records a key once, when new).',
      }),
      lastSeenMs: z.number().int(),
    }),
  ),
  next: z.string().nullable().openapi({
    description: 'Pass it as `next` for the following page, with the same filter; null on the last page.',
  }),
});

const quantileEstimateSchema = z.object({
  estimate: z.number().openapi({ description: 'The point of the bin with the least relative error.' }),
  lower: z
    .number()
    .nullable()
    .openapi({ description: 'The true quantile is above it; null: below the first boundary, unbounded.' }),
  upper: z
    .number()
    .nullable()
    .openapi({ description: 'The true quantile is at most it; null: above the last boundary, unbounded.' }),
});

/**
 * The schema of one measure's value in a bucket. count, sum, min, max and avg are numbers, as they have always been
 * documented; the measures added with sketches say when they are null.
 */
function measureValueSchema(measure: MeasureDefinition) {
  const what = describeMeasure(measure.kind, measure.field);
  switch (measure.kind) {
    case 'histogram':
      return z
        .record(z.string(), quantileEstimateSchema)
        .nullable()
        .openapi({
          description:
            `${what}: per quantile asked for (\`quantiles\`, default ${DEFAULT_QUANTILES.join(',')}), keyed by its ` +
            'decimal text ("0.5"), the estimate and the bounds of the bin it lies in: the true quantile (the value ' +
            'of rank ⌈q·count⌉, at least 1) is in (lower, upper]. null when none of the rows holds the measure.',
          example: { '0.5': { estimate: 120.2, lower: 117.9, upper: 122.6 } },
        });
    case 'distinct':
      return z
        .number()
        .int()
        .nullable()
        .openapi({
          description:
            `${what}: the HyperLogLog estimate of the distinct values, rounded (its standard error is in ` +
            '`accuracy`). Merged over buckets and keys, a value counts once. null when none of the rows holds it.',
        });
    case 'variance':
    case 'stddev':
      return z
        .number()
        .nullable()
        .openapi({
          description:
            `${what}: the sample ${measure.kind === 'variance' ? 'variance' : 'standard deviation'} (divided by ` +
            'count − 1), derived from the sum and the sum of squares; null below two events.',
        });
    case 'sumSquares':
      return z
        .number()
        .nullable()
        .openapi({ description: `${what}: the sum of the squares of the values.` });
    default:
      return z.number().openapi({ description: what });
  }
}

/** The `accuracy` of an answer of a view with sketch measures: each sketch's error, stated once. */
function accuracySchema(view: ViewDefinition) {
  const sketches = view.measures.filter((measure) => measureAccuracy(measure) !== undefined);
  if (sketches.length === 0) return undefined;
  const distinct = z.object({
    precision: z.number().int(),
    standardError: z.number().openapi({
      description: 'Relative standard error of the estimate, 1.04/√2^precision: two estimates in three are within it.',
    }),
  });
  const histogram = z.object({
    relativeError: z
      .number()
      .nullable()
      .openapi({
        description:
          "The largest relative error of a quantile's estimate inside range; outside it, only the bounds hold. null " +
          'when a bin inside the range spans 0.',
      }),
    range: z.array(z.number()).length(2).openapi({ description: '[first boundary, last boundary]' }),
    bins: z.number().int(),
  });
  return z
    .object(
      Object.fromEntries(sketches.map((measure) => [measure.name, measure.kind === 'distinct' ? distinct : histogram])),
    )
    .openapi({ description: 'How far each sketch measure may be from the exact answer.' });
}

/** One view's answer: its own measure names in every bucket. */
function viewAnswerSchema(view: ViewDefinition) {
  const measures = z.object(
    Object.fromEntries(view.measures.map((measure) => [measure.name, measureValueSchema(measure)])),
  );
  const accuracy = accuracySchema(view);
  const bucket = measures.extend({
    start: z.string().openapi({ format: 'date-time' }),
    startMs: z.number().int(),
    batch: measures.nullable().openapi({ description: 'The part that came from the batch view.' }),
    realtime: measures.nullable().openapi({ description: 'The part that came from the speed layer.' }),
  });
  return z.object({
    view: z.string(),
    granularity: z.enum(GRANULARITIES),
    from: z.string(),
    to: z.string(),
    provenance: provenanceSchema,
    realtimeGeneration: z.number().int().openapi({
      description: 'The generation of the realtime views read: a replay builds the next one, then the manifest flips.',
    }),
    groupBy: z
      .array(z.string())
      .optional()
      .openapi({ description: 'A group-by: the dimensions given, which each series is keyed by.' }),
    orderBy: z.string().optional().openapi({ description: 'A top-N: the measure the series are ranked by.' }),
    order: z.enum(TOP_ORDERS).optional(),
    limit: z.number().int().optional(),
    ...(accuracy === undefined ? {} : { accuracy }),
    series: z.array(
      z.object({
        key: z.record(z.string(), z.string()).openapi({
          description: "The series' dimension values: every dimension, or for a group-by only those given.",
        }),
        keys: z.number().int().optional().openapi({
          description: 'A group-by: how many keys of the key directory were merged into the series (0: none matched).',
        }),
        rank: z.number().int().optional().openapi({ description: 'A top-N: 1 for the first key.' }),
        value: z.number().optional().openapi({
          description:
            'A top-N: the measure over the whole range (avg: the sum over the count; distinct: each value once).',
        }),
        buckets: z.array(bucket),
      }),
    ),
  });
}

/** An event as the schema declares it, stamped with the time the document was made: it lands in the default range. */
function exampleEvent(schema: EventSchema, nowMs: number): Record<string, unknown> {
  return {
    [schema.id]: 'evt-0001',
    ...Object.fromEntries(schema.dimensions.map((field) => [field, `${field}-1`])),
    ...Object.fromEntries(schema.numbers.map((field, index) => [field, 21.5 + index])),
    [schema.time]: new Date(nowMs).toISOString(),
  };
}

const ingestAnswerSchema = z.object({
  accepted: z.number().int(),
  rejected: z.number().int(),
  failed: z.number().int(),
  results: z.array(
    z.object({
      index: z.number().int(),
      status: z.enum(['accepted', 'rejected', 'failed']),
      sequenceNumber: z.string().optional(),
      shardId: z.string().optional(),
      errors: z.array(z.string()).optional(),
      error: z.string().optional(),
    }),
  ),
});
const keySchema = z
  .record(z.string(), z.string())
  .openapi({ description: 'Every dimension of the view, with its value.' });

/** An anomaly as answers and the EventBridge event's detail present it (presentAnomaly in core/anomaly.ts). */
const anomalySchema = z.object({
  id: z.string().openapi({
    description: 'The same for every delivery of the same reading (sha-256 of view, key and event id): dedup by it.',
  }),
  view: z.string(),
  key: keySchema,
  eventId: z.string(),
  time: z.string().openapi({ format: 'date-time', description: 'The event time of the reading.' }),
  timeMs: z.number().int(),
  arrivedAt: z.string().openapi({ format: 'date-time' }),
  field: z.string(),
  value: z.number(),
  score: z.number().openapi({ description: 'z-score: (value − expected) / stddev.' }),
  direction: z.enum(['high', 'low']),
  threshold: z.number(),
  baseline: z
    .object({
      slot: z.string().openapi({ description: 'The season slot, e.g. `14:00 UTC` or `Tue 14:00 UTC`.' }),
      expected: z.number(),
      stddev: z.number(),
      lower: z.number(),
      upper: z.number(),
      events: z.number().int().openapi({ description: "Readings the slot's baseline holds." }),
      windowFrom: z.string().openapi({ format: 'date-time' }),
      windowTo: z.string().openapi({ format: 'date-time' }),
    })
    .openapi({ description: 'What the reading was scored against: the served baseline of its key and slot.' }),
  shardId: z.string(),
  sequenceNumber: z.string(),
});

const anomaliesAnswerSchema = z.object({
  view: z.string(),
  from: z.string().openapi({ format: 'date-time' }),
  to: z.string().openapi({ format: 'date-time' }),
  field: z.string().openapi({ description: 'The numeric field whose readings are scored.' }),
  seasonality: z.enum(SEASONALITIES),
  threshold: z.number(),
  anomalies: z.array(anomalySchema).openapi({ description: 'Newest first (by event time).' }),
  next: z.string().nullable().openapi({
    description: 'Pass it as `next` for the following page, with the same parameters; null on the last page.',
  }),
});

const forecastAnswerSchema = z.object({
  view: z.string(),
  key: keySchema,
  field: z.string(),
  seasonality: z.enum(SEASONALITIES),
  threshold: z.number(),
  from: z.string().openapi({ format: 'date-time', description: 'The start of the first bucket forecast.' }),
  fromMs: z.number().int(),
  window: z
    .object({ from: z.string(), to: z.string() })
    .openapi({ description: 'The training window: the buckets the baseline is learned from (to exclusive).' }),
  buckets: z.array(
    z.object({
      start: z.string().openapi({ format: 'date-time' }),
      startMs: z.number().int(),
      slot: z.string(),
      status: z.enum(['ready', 'cold']).openapi({
        description: 'cold: too few readings in the slot, or none that vary; `reason` says which.',
      }),
      expected: z.number().nullable().openapi({ description: "The slot's mean; null when cold." }),
      lower: z.number().nullable().openapi({ description: 'expected − threshold × stddev; null when cold.' }),
      upper: z.number().nullable().openapi({ description: 'expected + threshold × stddev; null when cold.' }),
      stddev: z.number().nullable(),
      events: z.number().int().openapi({ description: 'Readings in the slot over the window.' }),
      reason: z.string().optional().openapi({ description: 'Why a cold slot is not scored.' }),
    }),
  ),
});

/** What a view's baseline is, in a sentence for the anomalies and forecast paths. */
function baselineSummary(view: ViewDefinition, baseline: BaselineDefinition): string {
  const slots =
    baseline.seasonality === 'none'
      ? 'one slot'
      : baseline.seasonality === 'hourOfDay'
        ? 'one slot per UTC hour of the day'
        : 'one slot per UTC hour of the week';
  return (
    `${view.name} learns what ${baseline.field} usually reads per key with ${slots}, over the ` +
    `${baseline.trainingWindowDays} days before the bucket (batch ⊕ realtime, so every reading that has arrived ` +
    `counts); a reading ${baseline.threshold} or more standard deviations from its slot's mean is an anomaly. A ` +
    `slot with fewer than ${baseline.minEvents} readings, or readings that never vary, is cold: not scored.`
  );
}
const TIME_RANGE = `from ${QUERY_TIME_RANGE}`;
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/**
 * What a view's retention means for `from`, or undefined for a view that keeps its buckets for ever: as the query
 * handler checks it (retentionProblem), on `from` aligned down to the requested granularity.
 */
function retentionNote(view: ViewDefinition): string | undefined {
  if (view.retentionDays === null) return undefined;
  return (
    `Aligned down to the requested granularity, it must be at most ${view.retentionDays} days before now ` +
    `(${view.name}'s retention); further back, the answer is a 400 naming the views that still cover the range.`
  );
}

/**
 * The API's OpenAPI 3 document, generated from the event schema the ingest handler validates with and from the view
 * declarations the query handler checks parameters against: one path per view, with its dimensions as parameters.
 */
export function openApiDocument(schema: EventSchema, views: readonly ViewDefinition[], nowMs: number = Date.now()) {
  const limits = DEFAULT_QUERY_LIMITS;
  const registry = new OpenAPIRegistry();
  const apiKey = registry.registerComponent('securitySchemes', 'apiKey', {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
  });
  const security = [{ [apiKey.name]: [] }];
  // Inline, not registry.register(): the core's schemas exist before extendZodWithOpenApi, without .openapi().
  const event = validatorOf(schema);

  registry.registerPath({
    method: 'post',
    path: '/events',
    summary: `Send one event or up to ${MAX_EVENTS_PER_REQUEST}`,
    security,
    request: {
      body: {
        content: {
          'application/json': {
            schema: z.union([event, z.array(event).min(1).max(MAX_EVENTS_PER_REQUEST)]),
            // ts is the time the document was made: send events with the time they happened.
            example: [exampleEvent(schema, nowMs)],
          },
        },
      },
    },
    responses: {
      200: json(ingestAnswerSchema, 'Every event was accepted.'),
      207: json(ingestAnswerSchema, 'Some events were rejected or not written: see each result.'),
      400: json(errorSchema, 'The body is not JSON, or not events.'),
      413: json(errorSchema, `More than ${MAX_EVENTS_PER_REQUEST} events.`),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/views',
    summary: 'The views, with their dimensions, measures, granularity and retention',
    security,
    responses: {
      200: json(
        z.object({
          views: z.array(
            z
              .object({
                name: z.string(),
                measureDetails: z
                  .record(
                    z.string(),
                    z
                      .object({
                        kind: z.string(),
                        field: z.string().nullable(),
                        precision: z.number().int().optional(),
                        standardError: z.number().optional(),
                        relativeError: z.number().nullable().optional(),
                        range: z.array(z.number()).length(2).optional(),
                        bins: z.number().int().optional(),
                      })
                      .loose(),
                  )
                  .openapi({
                    description:
                      'Per measure, what it computes over which field; for a sketch its accuracy, as an answer ' +
                      'states it in `accuracy`: distinct its precision and relative standard error, histogram the ' +
                      'largest relative error of a quantile inside its range of boundaries, and its bins.',
                  }),
                retentionDays: z
                  .number()
                  .int()
                  .nullable()
                  .openapi({
                    description:
                      'Days of buckets the view keeps, counted back from now; null: kept for ever. A query whose ' +
                      '`from` is further back is refused with a 400 naming the views that still cover it.',
                  }),
                baseline: z
                  .object({
                    measure: z.string(),
                    seasonality: z.enum(SEASONALITIES),
                    trainingWindowDays: z.number().int(),
                    threshold: z.number(),
                    minEvents: z.number().int(),
                  })
                  .optional()
                  .openapi({
                    description:
                      'The baseline its readings are scored by, as declared (absent without one): see the ' +
                      'anomalies and forecast paths.',
                  }),
              })
              .loose(),
          ),
        }),
        'The views.',
      ),
    },
  });
  for (const view of views) {
    const retention = retentionNote(view);
    const dimensionParameters = Object.fromEntries(
      view.dimensions.map((field) => [
        field,
        z
          .string()
          .optional()
          .openapi({
            description:
              `One or more comma-separated ${field} values, each as it was sent in events: not empty, ` +
              `no white space at either end, at most ${MAX_IDENTIFIER_LENGTH} characters. Left out: grouped over ` +
              '(or ranked over, with orderBy).',
            example: `${field}-1`,
          }),
      ]),
    );
    const measureNames = orderableMeasures(view).map((measure) => measure.name) as [string, ...string[]];
    const histograms = view.measures.filter((measure) => measure.kind === 'histogram').map((measure) => measure.name);
    const query = z.object({
      ...dimensionParameters,
      from: z
        .string()
        .optional()
        .openapi({
          description:
            `Epoch ms or ISO-8601 with a zone, ${TIME_RANGE}. Default: a day before \`to\`.` +
            (retention === undefined ? '' : ` ${retention}`),
        }),
      to: z
        .string()
        .optional()
        .openapi({ description: `Epoch ms or ISO-8601 with a zone, exclusive, ${TIME_RANGE}. Default: now.` }),
      granularity: z
        .enum(GRANULARITIES.filter((g) => canRollUp(view.granularity, g)) as [string, ...string[]])
        .optional(),
      orderBy: z
        .enum(measureNames)
        .optional()
        .openapi({
          description:
            'A top-N: rank the keys that match the values given by this measure over the whole range, ties broken ' +
            "by dimension key ascending, and answer the first `limit` keys' series in rank order. Keys without " +
            'data in the range are left out.',
          example: measureNames.find((name) => name !== 'count') ?? measureNames[0],
        }),
      order: z.enum(TOP_ORDERS).optional().openapi({ description: 'With orderBy. Default: desc.' }),
      limit: z
        .string()
        .optional()
        .openapi({
          description: `With orderBy: how many keys, 1 to ${limits.maxTopLimit}. Default: ${DEFAULT_TOP_LIMIT}.`,
          example: '5',
        }),
      // Offered only where a histogram answers it: elsewhere it is refused with a 400.
      ...(histograms.length === 0
        ? {}
        : {
            quantiles: z
              .string()
              .optional()
              .openapi({
                description:
                  `The quantiles ${histograms.join(', ')} answer${histograms.length === 1 ? 's' : ''}: up to ` +
                  `${MAX_QUANTILES} comma-separated decimals from 0 to 1, each once (0: the smallest value, 1: ` +
                  `the largest). Default: ${DEFAULT_QUANTILES.join(',')}.`,
                example: '0.5,0.95,0.999',
              }),
          }),
    });
    const [first, second] = view.dimensions;
    const examples = [
      `\`/views/${view.name}?${view.dimensions.map((field) => `${field}=${field}-1`).join('&')}\`: one key.`,
      ...(second === undefined
        ? [`\`/views/${view.name}\`: every ${first} merged into one series (a group-by over all keys).`]
        : [
            `\`/views/${view.name}?${first}=${first}-1,${first}-2\`: a group-by: one series per ${first}, each ` +
              `merged over every key with it.`,
          ]),
      `\`/views/${view.name}?orderBy=${measureNames.at(-1)}&limit=5\`: the top 5 keys by ${measureNames.at(-1)} ` +
        'over the last day.',
    ];
    registry.registerPath({
      method: 'get',
      path: `/views/${view.name}`,
      summary: view.description || `Query ${view.name}`,
      description:
        `Give every dimension (${view.dimensions.join(', ')}) for one series per key; leave some out for a ` +
        'group-by: one series per combination of the values given, merged (count, sum, min and max exactly, avg ' +
        'derived; distinct registers by maximum, so a value counts once; histogram counts by adding) over every key ' +
        'the key directory lists with them; add orderBy for a top-N. A coarser granularity merges buckets alike. ' +
        'A group-by or top-N ' +
        `merges at most ${limits.maxMergedKeys} keys, and keys × buckets of the view's granularity at most ` +
        `${limits.maxBuckets}; past that the answer is a 400 that says so (give more dimensions, a coarser view, ` +
        `or a shorter range). The values given may combine into at most ${limits.maxKeys} keys or groups. ` +
        `Examples:\n\n- ${examples.join('\n- ')}`,
      security,
      request: { query },
      responses: {
        200: json(viewAnswerSchema(view), 'Buckets of batch ⊕ realtime, with provenance.'),
        400: json(
          errorSchema,
          'A parameter is unknown, malformed or above a limit, or a group-by or top-N matches more keys than it ' +
            'may merge' +
            (retention === undefined
              ? '.'
              : `; or \`from\` is past the view's retention (${view.retentionDays} days): the message names the ` +
                'views that still cover the range.'),
        ),
        404: json(errorSchema, 'Unknown view.'),
      },
    });
    registry.registerPath({
      method: 'get',
      path: `/views/${view.name}/keys`,
      summary: `The keys of ${view.name} seen by either layer`,
      description:
        'Lists the key directory: every key the stream carried for the view, with when it was first and last seen, ' +
        'in key order, filtered by any dimension values given. Pages: pass `next` from one answer to get the ' +
        `following page. Example: \`/views/${view.name}/keys?${first}=${first}-1&limit=50\`.`,
      security,
      request: {
        query: z.object({
          ...dimensionParameters,
          limit: z
            .string()
            .optional()
            .openapi({
              description: `Keys per page, 1 to ${limits.maxKeysPage}. Default: ${DEFAULT_KEYS_PAGE}.`,
              example: '50',
            }),
          next: z.string().optional().openapi({ description: 'The `next` of the previous page, as it was given.' }),
        }),
      },
      responses: {
        200: json(keysAnswerSchema, 'A page of keys.'),
        400: json(errorSchema, 'A parameter is unknown or malformed, or `next` is not a token this API gave.'),
        404: json(errorSchema, 'Unknown view.'),
      },
    });
    if (view.baseline !== undefined) {
      const summary = baselineSummary(view, view.baseline);
      const oneValue = (field: string, required: boolean) =>
        z.string().openapi({
          description:
            `One ${field} value, as it was sent in events` +
            (required ? ': required, a forecast is of one key.' : '. Left out: anomalies of every key.'),
          example: `${field}-1`,
        });
      registry.registerPath({
        method: 'get',
        path: `/views/${view.name}/anomalies`,
        summary: `Anomalies of ${view.name}: readings far from their baseline`,
        description:
          `${summary} Each anomaly is also published to EventBridge (source \`lambda-architecture\`, detail-type ` +
          '`Anomaly detected`, the anomaly as detail) once recorded; delivery is at least once, so dedup by `id`. ' +
          'Newest first; filter by any dimension values; pages: pass `next` from one answer to get the following ' +
          `page. Example: \`/views/${view.name}/anomalies?${first}=${first}-1\`.`,
        security,
        request: {
          query: z.object({
            ...Object.fromEntries(view.dimensions.map((field) => [field, oneValue(field, false).optional()])),
            from: z
              .string()
              .optional()
              .openapi({
                description: `Event time, epoch ms or ISO-8601 with a zone, ${TIME_RANGE}. Default: a day before \`to\`.`,
              }),
            to: z
              .string()
              .optional()
              .openapi({
                description: `Event time, exclusive, epoch ms or ISO-8601 with a zone, ${TIME_RANGE}. Default: now.`,
              }),
            limit: z
              .string()
              .optional()
              .openapi({
                description: `Anomalies per page, 1 to ${MAX_ANOMALY_LIMIT}. Default: ${DEFAULT_ANOMALY_LIMIT}.`,
                example: '50',
              }),
            next: z.string().optional().openapi({ description: 'The `next` of the previous page, as it was given.' }),
          }),
        },
        responses: {
          200: json(anomaliesAnswerSchema, 'A page of anomalies.'),
          400: json(errorSchema, 'A parameter is unknown or malformed, or `next` is not a token this API gave.'),
          404: json(errorSchema, 'Unknown view.'),
        },
      });
      registry.registerPath({
        method: 'get',
        path: `/views/${view.name}/forecast`,
        summary: `The expected ${view.baseline.field} of one key of ${view.name}, with its band, for the coming buckets`,
        description:
          `${summary} Per bucket from \`from\` on, the expected reading (the slot's mean) and the band a reading ` +
          'may take without being an anomaly, from the baseline of the window that ends where the forecast starts. ' +
          `Example: \`/views/${view.name}/forecast?${view.dimensions.map((field) => `${field}=${field}-1`).join('&')}&horizon=24\`.`,
        security,
        request: {
          query: z.object({
            ...Object.fromEntries(view.dimensions.map((field) => [field, oneValue(field, true)])),
            from: z
              .string()
              .optional()
              .openapi({
                description: `Epoch ms or ISO-8601 with a zone, ${TIME_RANGE}: the forecast starts with its bucket. Default: now.`,
              }),
            horizon: z
              .string()
              .optional()
              .openapi({
                description: `Buckets (${view.granularity}s) to forecast, 1 to ${MAX_FORECAST_HORIZON}. Default: ${DEFAULT_FORECAST_HORIZON}.`,
                example: '24',
              }),
          }),
        },
        responses: {
          200: json(forecastAnswerSchema, 'The forecast, bucket by bucket.'),
          400: json(
            errorSchema,
            'A dimension is missing, a parameter is unknown or malformed, or the training window of `from` reaches ' +
              "past the view's retention.",
          ),
          404: json(errorSchema, 'Unknown view.'),
        },
      });
    }
  }
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'Lambda architecture API',
      version: '1.0.0',
      description: 'Ingest events; query views that merge the batch and speed layers.',
    },
  });
}
