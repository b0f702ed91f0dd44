import { z } from 'zod';
import { extendZodWithOpenApi, OpenApiGeneratorV3, OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { validatorOf, type EventSchema } from '../core/event-schema';
import { MAX_IDENTIFIER_LENGTH } from '../core/event-limits';
import { GRANULARITIES, canRollUp } from '../core/granularity';
import { QUERY_TIME_RANGE } from '../core/query-request';
import type { ViewDefinition } from '../core/view-declaration';
import { MAX_EVENTS_PER_REQUEST } from '../ingest/ingest-handler';

extendZodWithOpenApi(z);

const errorSchema = z.object({ message: z.string(), errors: z.array(z.string()) });
const measuresSchema = z.record(z.string(), z.number().nullable());
const bucketSchema = z.object({
  start: z.string().openapi({ format: 'date-time' }),
  startMs: z.number().int(),
  count: z.number(),
  sum: z.number().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  avg: z.number().nullable().optional(),
  batch: measuresSchema.nullable().openapi({ description: 'The part that came from the batch view.' }),
  realtime: measuresSchema.nullable().openapi({ description: 'The part that came from the speed layer.' }),
});
const viewAnswerSchema = z.object({
  view: z.string(),
  granularity: z.enum(GRANULARITIES),
  from: z.string(),
  to: z.string(),
  provenance: z
    .object({ batchVersion: z.string(), cutoff: z.string(), cutoffMs: z.number(), computedAt: z.string() })
    .nullable()
    .openapi({ description: 'The batch version served and its cutoff; null before the first batch run.' }),
  realtimeGeneration: z.number().int().openapi({
    description: 'The generation of the realtime views read: a replay builds the next one, then the manifest flips.',
  }),
  series: z.array(z.object({ key: z.record(z.string(), z.string()), buckets: z.array(bucketSchema) })),
});
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
export function openApiDocument(schema: EventSchema, views: readonly ViewDefinition[]) {
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
          'application/json': { schema: z.union([event, z.array(event).min(1).max(MAX_EVENTS_PER_REQUEST)]) },
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
                retentionDays: z
                  .number()
                  .int()
                  .nullable()
                  .openapi({
                    description:
                      'Days of buckets the view keeps, counted back from now; null: kept for ever. A query whose ' +
                      '`from` is further back is refused with a 400 naming the views that still cover it.',
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
    const query = z.object({
      ...Object.fromEntries(
        view.dimensions.map((field) => [
          field,
          z.string().openapi({
            description:
              `One or more comma-separated ${field} values, each as it was sent in events: not empty, ` +
              `no white space at either end, at most ${MAX_IDENTIFIER_LENGTH} characters.`,
          }),
        ]),
      ),
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
    });
    registry.registerPath({
      method: 'get',
      path: `/views/${view.name}`,
      summary: view.description || `Query ${view.name}`,
      security,
      request: { query },
      responses: {
        200: json(viewAnswerSchema, 'Buckets of batch ⊕ realtime, with provenance.'),
        400: json(
          errorSchema,
          'A parameter is missing, unknown, malformed or above a limit' +
            (retention === undefined
              ? '.'
              : `; or \`from\` is past the view's retention (${view.retentionDays} days): the message names the ` +
                'views that still cover the range.'),
        ),
        404: json(errorSchema, 'Unknown view.'),
      },
    });
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
