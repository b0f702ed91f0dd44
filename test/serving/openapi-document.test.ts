import SwaggerParser from '@apidevtools/swagger-parser';
import { parseEvent } from '../../functions/core/event-schema';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { openApiDocument } from '../../functions/serving/openapi-document';

const webConfig = definePipelineConfig({
  schema: { id: 'requestId', time: 'at', dimensions: ['path', 'status', 'country'], numbers: ['latencyMs', 'bytes'] },
  views: [
    {
      name: 'path_country_minute',
      dimensions: ['path', 'country'],
      granularity: 'minute',
      measures: { requests: 'count', slowest: { max: 'latencyMs' }, traffic: { sum: 'bytes' } },
    },
  ],
});
const NOW = Date.UTC(2026, 0, 10, 12);

interface Operation {
  parameters: { name: string; in: string; required?: boolean; schema: { enum?: string[] } }[];
  description?: string;
  requestBody?: { content: { 'application/json': { example: unknown[]; schema: unknown } } };
  responses: Record<string, { content: { 'application/json': { schema: { properties: Record<string, unknown> } } } }>;
}
const document = openApiDocument(webConfig.schema, webConfig.views, NOW) as unknown as {
  paths: Record<string, { get?: Operation; post?: Operation }>;
};

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3 document with a query path and a keys path per view', async () => {
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
    expect(Object.keys(document.paths)).toEqual([
      '/events',
      '/views',
      '/views/path_country_minute',
      '/views/path_country_minute/keys',
    ]);
  });

  it("gives an example event of the declared schema, stamped with the document's time, that ingest accepts", () => {
    const [example] = document.paths['/events'].post?.requestBody?.content['application/json'].example ?? [];
    expect(example).toEqual({
      requestId: 'evt-0001',
      path: 'path-1',
      status: 'status-1',
      country: 'country-1',
      latencyMs: 21.5,
      bytes: 22.5,
      at: '2026-01-10T12:00:00.000Z',
    });
    expect(parseEvent(example, { arrivalMs: NOW, eventTimeSkewMs: 60_000, schema: webConfig.schema })).toMatchObject({
      ok: true,
    });
  });

  it('makes every dimension optional, and offers orderBy among the measures, order and limit', () => {
    const query = document.paths['/views/path_country_minute'].get;
    const parameters = new Map(query?.parameters.map((parameter) => [parameter.name, parameter]));
    expect([...parameters.keys()]).toEqual([
      'path',
      'country',
      'from',
      'to',
      'granularity',
      'orderBy',
      'order',
      'limit',
    ]);
    expect(query?.parameters.every((parameter) => parameter.required !== true)).toBe(true);
    expect(parameters.get('orderBy')?.schema.enum).toEqual(['requests', 'slowest', 'traffic']);
    expect(parameters.get('order')?.schema.enum).toEqual(['desc', 'asc']);
    expect(query?.description).toContain('/views/path_country_minute?path=path-1,path-2');
    expect(query?.description).toContain('at most 1000 keys');
  });

  it("answers buckets with the view's own measure names, and series with group-by and top-N fields", () => {
    const answer = document.paths['/views/path_country_minute'].get?.responses['200'].content['application/json']
      .schema as unknown as {
      properties: { series: { items: { properties: Record<string, { items?: { properties: object } }> } } };
    };
    const series = answer.properties.series.items.properties;
    expect(Object.keys(series)).toEqual(['key', 'keys', 'rank', 'value', 'buckets']);
    expect(Object.keys(series.buckets.items?.properties ?? {})).toEqual([
      'requests',
      'slowest',
      'traffic',
      'start',
      'startMs',
      'batch',
      'realtime',
    ]);
  });

  it('documents the keys listing: dimension filters, limit and next, and the page it answers', () => {
    const keys = document.paths['/views/path_country_minute/keys'].get;
    expect(keys?.parameters.map((parameter) => parameter.name)).toEqual(['path', 'country', 'limit', 'next']);
    expect(Object.keys(keys?.responses['200'].content['application/json'].schema.properties ?? {})).toEqual([
      'view',
      'keys',
      'next',
    ]);
  });

  describe('a view with sketch measures', () => {
    const sketchConfig = definePipelineConfig({
      schema: webConfig.schema,
      views: [
        {
          name: 'path_minute',
          dimensions: ['path'],
          granularity: 'minute',
          measures: {
            requests: 'count',
            countries: { distinct: 'country' },
            latency: { histogram: 'latencyMs', range: [1, 60_000], relativeAccuracy: 0.02 },
            sdLatency: { stddev: 'latencyMs' },
            varLatency: { variance: 'latencyMs' },
            squares: { sumSquares: 'bytes' },
          },
        },
      ],
    });
    interface Schema {
      type?: string;
      nullable?: boolean;
      properties?: Record<string, Schema>;
      additionalProperties?: Schema;
      items?: Schema;
      required?: string[];
    }
    const sketchDocument = openApiDocument(sketchConfig.schema, sketchConfig.views, NOW) as unknown as {
      paths: Record<string, { get: Operation }>;
    };
    const operation = sketchDocument.paths['/views/path_minute'].get;
    const answer = operation.responses['200'].content['application/json'].schema as unknown as Schema;
    const measures = answer.properties?.series.items?.properties?.buckets.items?.properties ?? {};

    it('is a valid OpenAPI 3 document', async () => {
      await expect(SwaggerParser.validate(structuredClone(sketchDocument) as never)).resolves.toBeDefined();
    });

    it('offers quantiles, and orderBy among the measures keys can be ranked by: every one but the histogram', () => {
      const parameters = new Map(operation.parameters.map((parameter) => [parameter.name, parameter]));
      expect([...parameters.keys()].slice(-2)).toEqual(['limit', 'quantiles']);
      expect(parameters.get('orderBy')?.schema.enum).toEqual([
        'requests',
        'countries',
        'sdLatency',
        'varLatency',
        'squares',
      ]);
    });

    it('documents distinct, variance, stddev and sumSquares as nullable numbers, a histogram as estimates by quantile', () => {
      expect(measures.countries).toMatchObject({ type: 'integer', nullable: true });
      for (const name of ['sdLatency', 'varLatency', 'squares']) {
        expect(measures[name]).toMatchObject({ type: 'number', nullable: true });
      }
      expect(measures.latency).toMatchObject({
        type: 'object',
        nullable: true,
        additionalProperties: {
          type: 'object',
          properties: {
            estimate: { type: 'number' },
            lower: { type: 'number', nullable: true },
            upper: { type: 'number', nullable: true },
          },
          required: ['estimate', 'lower', 'upper'],
        },
      });
      expect(measures.batch.properties?.latency).toMatchObject({ type: 'object', nullable: true });
    });

    it("states each sketch's accuracy once, in the answer's accuracy", () => {
      expect(answer.properties?.accuracy).toMatchObject({
        required: ['countries', 'latency'],
        properties: {
          countries: { required: ['precision', 'standardError'] },
          latency: { required: ['relativeError', 'range', 'bins'] },
        },
      });
      // A view of exact measures has none to state.
      const exact = document.paths['/views/path_country_minute'].get?.responses['200'].content['application/json']
        .schema as unknown as Schema;
      expect(exact.properties).not.toHaveProperty('accuracy');
    });
  });
});
