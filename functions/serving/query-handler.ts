import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CountMetrics, HandlerLogger } from '../adapters/telemetry';
import type { ViewReader } from '../adapters/view-reader';
import { mapConcurrently } from '../adapters/concurrent-map';
import type { PipelineConfig } from '../core/pipeline-config';
import { DEFAULT_QUERY_LIMITS, parseViewQuery, retentionProblem, type QueryLimits } from '../core/query-request';
import { applyServingRule } from '../core/serving-rule';
import { findView } from '../core/view-declaration';
import { clientError, jsonResponse } from '../adapters/api-response';
import { viewAnswer, viewListing } from './view-answer';
import { FIRST_GENERATION_ONLY, type GenerationSource } from '../core/generation-manifest';

export const SERVING_METRICS = { answered: 'QueriesAnswered', rejected: 'QueriesRejected' } as const;

export interface QueryHandlerDependencies {
  readonly config: PipelineConfig;
  readonly reader: ViewReader;
  readonly logger: HandlerLogger;
  readonly metrics: CountMetrics;
  /** The OpenAPI document served at GET /openapi.json. */
  readonly openApiDocument: () => unknown;
  readonly limits?: QueryLimits;
  /** Which realtime generation of each view is served. @default generation 1 for every view */
  readonly generations?: GenerationSource;
  /** Keys read in parallel per request. @default 8 */
  readonly concurrency?: number;
  readonly now?: () => number;
}

/**
 * The serving layer's Lambda behind API Gateway: GET /views, GET /views/{view} and GET /openapi.json. Per query it
 * takes the served batch version once, reads that version's rows and the realtime items of each key, and applies
 * the serving rule (DESIGN.md §3). Bad input gets a 4xx naming the problem; only a fault of ours is a 5xx.
 */
export function createQueryHandler(dependencies: QueryHandlerDependencies) {
  const { config, reader, logger, metrics } = dependencies;
  const limits = dependencies.limits ?? DEFAULT_QUERY_LIMITS;
  const now = dependencies.now ?? Date.now;
  const generations = dependencies.generations ?? FIRST_GENERATION_ONLY;

  async function answer(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    if (event.httpMethod !== 'GET') return clientError(405, [`${event.httpMethod}: only GET is served here`]);
    if (event.resource === '/openapi.json') return jsonResponse(200, dependencies.openApiDocument());
    if (event.resource === '/views') return jsonResponse(200, viewListing(config.views));

    const name = event.pathParameters?.view ?? '';
    const view = findView(config.views, name);
    if (view === undefined) {
      // Cut short: the name is the caller's, and a path may be kilobytes long.
      const shown = JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name);
      return clientError(404, [`view: unknown view ${shown} (known: ${config.views.map((v) => v.name).join(', ')})`]);
    }
    // Read by parseViewQuery as own entries only: names like `constructor` are the caller's, not Object.prototype's.
    const parameters = event.multiValueQueryStringParameters ?? {};
    // One clock read: the default range and the retention check must agree on what now is.
    const nowMs = now();
    const parsed = parseViewQuery(view, parameters, nowMs, limits);
    if (!parsed.ok) return clientError(parsed.status, parsed.errors);
    const { query } = parsed;
    const pastRetention = retentionProblem(view, config.views, query.from, nowMs);
    if (pastRetention !== undefined) return clientError(400, [pastRetention]);

    // The served batch version and realtime generation are each taken once, so an answer never mixes two of either.
    const [manifest, { served: generation }] = await Promise.all([
      config.architecture === 'lambda' ? reader.servedBatch(view.name) : null,
      generations.stateOf(view.name),
    ]);
    const cutoff = manifest?.cutoff ?? null;
    const parts = await mapConcurrently(query.dimensionKeys, dependencies.concurrency ?? 8, async (dimensionKey) => {
      const [batch, realtime] = await Promise.all([
        manifest === null ? [] : reader.batchRows(view, manifest, dimensionKey, query.firstBucket, query.lastBucket),
        reader.realtimeRows(view, generation, dimensionKey, query.firstBucket, query.lastBucket, cutoff),
      ]);
      return { batch, realtime };
    });
    const buckets = applyServingRule({
      batch: parts.flatMap((part) => part.batch),
      realtime: parts.flatMap((part) => part.realtime),
      cutoff,
      granularity: query.granularity,
    });
    return jsonResponse(200, viewAnswer(query, manifest, generation, buckets));
  }

  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      const response = await answer(event);
      metrics.addMetric(
        response.statusCode < 400 ? SERVING_METRICS.answered : SERVING_METRICS.rejected,
        MetricUnit.Count,
        1,
      );
      if (response.statusCode >= 400)
        logger.info('query rejected', { path: event.path, status: response.statusCode, body: response.body });
      return response;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
