import SwaggerParser from '@apidevtools/swagger-parser';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { openApiDocument } from '../../functions/serving/openapi-document';

/** The default views: site_metric_hour declares a baseline, the other two do not. */
const config = definePipelineConfig();
const NOW = Date.UTC(2026, 10, 25, 12);

interface Operation {
  parameters: { name: string; in: string; required?: boolean }[];
  description: string;
  responses: Record<
    string,
    { content: { 'application/json': { schema: { properties: Record<string, unknown>; required?: string[] } } } }
  >;
}
const document = openApiDocument(config.schema, config.views, NOW) as unknown as {
  paths: Record<string, { get?: Operation }>;
};

describe('the OpenAPI document of anomalies and forecasts', () => {
  it('is valid, with an anomalies and a forecast path for the view with a baseline only', async () => {
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
    const paths = Object.keys(document.paths);
    expect(paths).toEqual(
      expect.arrayContaining(['/views/site_metric_hour/anomalies', '/views/site_metric_hour/forecast']),
    );
    expect(paths.filter((path) => path.endsWith('/anomalies') || path.endsWith('/forecast'))).toHaveLength(2);
  });

  it('lists anomalies by optional dimension values, a time range, limit and next', () => {
    const operation = document.paths['/views/site_metric_hour/anomalies'].get!;
    expect(operation.parameters.map(({ name, required }) => [name, required ?? false])).toEqual([
      ['site', false],
      ['metric', false],
      ['from', false],
      ['to', false],
      ['limit', false],
      ['next', false],
    ]);
    expect(operation.description).toMatch(/EventBridge/);
    const answer = operation.responses['200'].content['application/json'].schema;
    expect(Object.keys(answer.properties)).toEqual([
      'view',
      'from',
      'to',
      'field',
      'seasonality',
      'threshold',
      'anomalies',
      'next',
    ]);
  });

  it('forecasts one key: every dimension required, from and horizon optional', () => {
    const operation = document.paths['/views/site_metric_hour/forecast'].get!;
    expect(operation.parameters.map(({ name, required }) => [name, required ?? false])).toEqual([
      ['site', true],
      ['metric', true],
      ['from', false],
      ['horizon', false],
    ]);
    const answer = operation.responses['200'].content['application/json'].schema;
    expect(Object.keys(answer.properties)).toEqual([
      'view',
      'key',
      'field',
      'seasonality',
      'threshold',
      'from',
      'fromMs',
      'window',
      'buckets',
    ]);
  });
});
