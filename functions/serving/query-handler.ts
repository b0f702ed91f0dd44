import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CountMetrics, HandlerLogger } from '../adapters/telemetry';
import type { ViewReader } from '../adapters/view-reader';
import { mapConcurrently } from '../adapters/concurrent-map';
import type { DirectoryEntry, DirectoryFilter } from '../core/key-directory';
import { rankKeys } from '../core/key-ranking';
import type { PipelineConfig } from '../core/pipeline-config';
import {
  DEFAULT_QUERY_LIMITS,
  groupKeyOf,
  parseKeyListing,
  parseViewQuery,
  quote,
  retentionProblem,
  tooManyKeysProblem,
  type QueryLimits,
} from '../core/query-request';
import { applyServingRule } from '../core/serving-rule';
import { findView, type ViewDefinition } from '../core/view-declaration';
import { clientError, jsonResponse } from '../adapters/api-response';
import { groupSeries, keyListing, keySeries, rankedSeries, viewAnswer, viewListing } from './view-answer';
import { FIRST_GENERATION_ONLY, type GenerationSource } from '../core/generation-manifest';
import { AnomalyPageTokenError } from '../adapters/anomaly-store';
import { BaselineReader, hasBaseline, type BaselineView } from '../adapters/baseline-reader';
import type { AnomalyPages } from '../core/anomaly';
import { noBaselineProblem, parseAnomalyListing } from '../core/anomaly-request';
import { trainingWindow } from '../core/baseline';
import { parseForecastRequest } from '../core/forecast-request';
import { anomalyAnswer } from './anomaly-answer';
import { forecastAnswer } from './forecast-answer';

export const SERVING_METRICS = { answered: 'QueriesAnswered', rejected: 'QueriesRejected' } as const;

/** What the serving layer reads of the key directory (KeyDirectoryStore): pages of a view's keys, in key order. */
export interface KeyDirectoryPages {
  listPage(
    view: Pick<ViewDefinition, 'name' | 'dimensions'>,
    filter: DirectoryFilter,
    options: { limit: number; after?: string },
  ): Promise<{ entries: DirectoryEntry[]; lastSortKey: string | null }>;
}

/** Directory entries read per page while collecting the keys of a group-by or top-N. */
const DIRECTORY_PAGE = 1000;

export interface QueryHandlerDependencies {
  readonly config: PipelineConfig;
  readonly reader: Pick<ViewReader, 'servedBatch' | 'batchRows' | 'realtimeRows'>;
  readonly directory: KeyDirectoryPages;
  readonly logger: HandlerLogger;
  readonly metrics: CountMetrics;
  /** The OpenAPI document served at GET /openapi.json. */
  readonly openApiDocument: () => unknown;
  readonly limits?: QueryLimits;
  /** Which realtime generation of each view is served. @default generation 1 for every view */
  readonly generations?: GenerationSource;
  /** The anomalies table (AnomalyStore), read by GET /views/{view}/anomalies. @default none: that route fails */
  readonly anomalies?: AnomalyPages;
  /**
   * Where a forecast reads a key's served buckets over its training window.
   * @default a BaselineReader over `reader` and `generations`
   */
  readonly baselines?: Pick<BaselineReader, 'servedBuckets'>;
  /** Keys read in parallel per request. @default 8 */
  readonly concurrency?: number;
  readonly now?: () => number;
}

/**
 * The serving layer's Lambda behind API Gateway: GET /views, GET /views/{view}, GET /views/{view}/keys,
 * GET /views/{view}/anomalies, GET /views/{view}/forecast and GET /openapi.json. Per query it takes the served batch
 * version once, finds the keys to read (those given, or for a group-by or top-N those the key directory lists,
 * DESIGN.md §10), reads that version's rows and the realtime items of each key, and applies the serving rule
 * (DESIGN.md §3). Anomalies are a page of the anomalies table; a forecast reads one key's served buckets over the
 * training window of `from` (DESIGN.md §12). Bad input gets a 4xx naming the problem; only a fault of ours is a 5xx.
 */
export function createQueryHandler(dependencies: QueryHandlerDependencies) {
  const { config, reader, logger, metrics } = dependencies;
  const limits = dependencies.limits ?? DEFAULT_QUERY_LIMITS;
  const now = dependencies.now ?? Date.now;
  const generations = dependencies.generations ?? FIRST_GENERATION_ONLY;
  const baselines =
    dependencies.baselines ?? new BaselineReader({ reader, architecture: config.architecture, generations });

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
    // Read by the parsers as own entries only: names like `constructor` are the caller's, not Object.prototype's.
    const parameters = event.multiValueQueryStringParameters ?? {};
    if (event.resource === '/views/{view}/keys') return listKeys(view, parameters);
    if (event.resource === '/views/{view}/anomalies' || event.resource === '/views/{view}/forecast') {
      if (!hasBaseline(view)) return clientError(400, [noBaselineProblem(view, config.views)]);
      return event.resource === '/views/{view}/anomalies'
        ? listAnomalies(view, parameters)
        : answerForecast(view, parameters);
    }
    // One clock read: the default range and the retention check must agree on what now is.
    const nowMs = now();
    const parsed = parseViewQuery(view, parameters, nowMs, limits);
    if (!parsed.ok) return clientError(parsed.status, parsed.errors);
    const { query } = parsed;
    const { selection } = query;
    const pastRetention = retentionProblem(view, config.views, query.from, nowMs);
    if (pastRetention !== undefined) return clientError(400, [pastRetention]);

    // The served batch version and realtime generation are each taken once, so an answer never mixes two of either.
    const [manifest, { served: generation }] = await Promise.all([
      config.architecture === 'lambda' ? reader.servedBatch(view.name) : null,
      generations.stateOf(view.name),
    ]);
    // The directory is read after the manifest: both layers list a key before its rows become visible (a batch
    // version before its flip), so every key holding data in the version taken is listed.
    let dimensionKeys: readonly string[] | undefined;
    if (selection.mode === 'keys') dimensionKeys = selection.dimensionKeys;
    else if (selection.mode === 'top' && selection.dimensionKeys !== null) dimensionKeys = selection.dimensionKeys;
    else dimensionKeys = await matchingKeys(view, selection.filter, query.maxMergedKeys);
    if (dimensionKeys === undefined) return clientError(400, [tooManyKeysProblem(query, limits)]);

    const cutoff = manifest?.cutoff ?? null;
    const parts = await mapConcurrently(dimensionKeys, dependencies.concurrency ?? 8, async (dimensionKey) => {
      const [batch, realtime] = await Promise.all([
        manifest === null ? [] : reader.batchRows(view, manifest, dimensionKey, query.firstBucket, query.lastBucket),
        reader.realtimeRows(view, generation, dimensionKey, query.firstBucket, query.lastBucket, cutoff),
      ]);
      return { batch, realtime };
    });
    let batch = parts.flatMap((part) => part.batch);
    let realtime = parts.flatMap((part) => part.realtime);
    if (selection.mode === 'group') {
      // The monoid merge does the grouping: each row counts under its group's key, so the serving rule merges every
      // key of a group per bucket, batch and realtime parts apart, as it merges a key's epochs.
      batch = batch.map((row) => ({ ...row, dimensionKey: groupKeyOf(selection.filter, row.dimensionKey) }));
      realtime = realtime.map((row) => ({ ...row, dimensionKey: groupKeyOf(selection.filter, row.dimensionKey) }));
    }
    const buckets = applyServingRule({ batch, realtime, cutoff, granularity: query.granularity });
    switch (selection.mode) {
      case 'keys':
        return jsonResponse(
          200,
          viewAnswer(query, manifest, generation, buckets, keySeries(view, selection.dimensionKeys)),
        );
      case 'group': {
        const keysPerGroup = new Map<string, number>();
        for (const dimensionKey of dimensionKeys) {
          const group = groupKeyOf(selection.filter, dimensionKey);
          keysPerGroup.set(group, (keysPerGroup.get(group) ?? 0) + 1);
        }
        const series = groupSeries(selection.groupBy, selection.groups, keysPerGroup);
        return jsonResponse(200, viewAnswer(query, manifest, generation, buckets, series));
      }
      case 'top': {
        const ranked = rankKeys(buckets, selection.orderBy, selection.order, selection.limit, query);
        return jsonResponse(200, viewAnswer(query, manifest, generation, buckets, rankedSeries(view, ranked)));
      }
    }
  }

  /**
   * The directory's keys passing the filter, or undefined as soon as more than `bound` do: pages are asked for no
   * larger than what is left of the bound (plus the one that tells it is passed), so a bound passed costs one key's
   * read more, never the whole directory.
   */
  async function matchingKeys(
    view: ViewDefinition,
    filter: DirectoryFilter,
    bound: number,
  ): Promise<string[] | undefined> {
    const keys: string[] = [];
    let after: string | undefined;
    do {
      const page = await dependencies.directory.listPage(view, filter, {
        limit: Math.min(DIRECTORY_PAGE, bound + 1 - keys.length),
        after,
      });
      keys.push(...page.entries.map((entry) => entry.dimensionKey));
      after = page.lastSortKey ?? undefined;
    } while (after !== undefined && keys.length <= bound);
    return keys.length > bound ? undefined : keys;
  }

  async function listKeys(
    view: ViewDefinition,
    parameters: Readonly<Record<string, readonly string[] | undefined>>,
  ): Promise<APIGatewayProxyResult> {
    const parsed = parseKeyListing(view, parameters, limits);
    if (!parsed.ok) return clientError(parsed.status, parsed.errors);
    const { filter, limit, after } = parsed.query;
    const page = await dependencies.directory.listPage(view, filter, {
      limit,
      ...(after === undefined ? {} : { after }),
    });
    return jsonResponse(200, keyListing(view, page.entries, page.lastSortKey));
  }

  async function listAnomalies(
    view: BaselineView,
    parameters: Readonly<Record<string, readonly string[] | undefined>>,
  ): Promise<APIGatewayProxyResult> {
    const parsed = parseAnomalyListing(view, parameters, now());
    if (!parsed.ok) return clientError(parsed.status, parsed.errors);
    // A deployment whose views declare a baseline always has the table (lib/view-tables.ts): its absence is ours.
    if (dependencies.anomalies === undefined) throw new Error('no anomalies table is configured (ANOMALY_TABLE)');
    try {
      const page = await dependencies.anomalies.page(view, parsed.listing.query);
      return jsonResponse(200, anomalyAnswer(parsed.listing, page));
    } catch (error) {
      if (!(error instanceof AnomalyPageTokenError)) throw error;
      const next = parsed.listing.query.after ?? '';
      return clientError(400, [
        `next: not a token this API gave, got ${quote(next)} (pass the next of the previous page as it is)`,
      ]);
    }
  }

  async function answerForecast(
    view: BaselineView,
    parameters: Readonly<Record<string, readonly string[] | undefined>>,
  ): Promise<APIGatewayProxyResult> {
    const parsed = parseForecastRequest(view, parameters, now());
    if (!parsed.ok) return clientError(parsed.status, parsed.errors);
    const { request } = parsed;
    const window = trainingWindow(view, request.fromMs);
    const buckets = await baselines.servedBuckets(view, request.dimensionKey, window.firstBucket, window.lastBucket);
    return jsonResponse(200, forecastAnswer(request, buckets));
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
