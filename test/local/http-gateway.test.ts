import type { APIGatewayProxyEvent } from 'aws-lambda';
import { HttpGateway, MAX_PAYLOAD_BYTES } from '../../local/http-gateway';

const seen: APIGatewayProxyEvent[] = [];
const crashes: unknown[] = [];
const gateway = new HttpGateway({
  onHandlerError: (_route, error) => crashes.push(error),
  routes: [
    {
      method: 'GET',
      resource: '/views/{view}',
      handler: async (event) => {
        seen.push(event);
        return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ok: true }) };
      },
    },
    {
      method: 'POST',
      resource: '/events',
      handler: async (event) => {
        seen.push(event);
        return { statusCode: 207, body: event.body ?? '' };
      },
    },
    {
      method: 'GET',
      resource: '/crash',
      handler: async () => {
        throw new Error('boom');
      },
    },
  ],
  localRoutes: [
    (_request, response, url) => {
      if (url.pathname !== '/') return false;
      response.end('dashboard');
      return true;
    },
  ],
});
let base: string;

beforeAll(async () => {
  base = await gateway.start();
});
afterAll(() => gateway.stop());
beforeEach(() => {
  seen.length = 0;
});

describe('local API Gateway stand-in', () => {
  it('turns a GET into a REST proxy event with path and single- and multi-value query parameters', async () => {
    const response = await fetch(`${base}/views/device%20view?deviceId=a&deviceId=b&from=1`, {
      headers: { 'x-api-key': 'k' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    const [event] = seen;
    expect(event).toMatchObject({
      resource: '/views/{view}',
      path: '/views/device%20view',
      httpMethod: 'GET',
      pathParameters: { view: 'device view' },
      queryStringParameters: { deviceId: 'b', from: '1' },
      multiValueQueryStringParameters: { deviceId: ['a', 'b'], from: ['1'] },
      body: null,
      isBase64Encoded: false,
      requestContext: { resourcePath: '/views/{view}', httpMethod: 'GET', stage: 'local', identity: { apiKey: 'k' } },
    });
  });

  it('passes a POST body through and returns the handler status and body', async () => {
    const response = await fetch(`${base}/events`, { method: 'POST', body: '{"a":1}' });
    expect(response.status).toBe(207);
    expect(await response.text()).toBe('{"a":1}');
    expect(seen[0]).toMatchObject({ body: '{"a":1}', queryStringParameters: null, pathParameters: null });
  });

  it('answers unknown paths with 404, wrong methods with 405, and a crashing handler with 502, as API Gateway does', async () => {
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    expect((await fetch(`${base}/events`)).status).toBe(405);
    const crash = await fetch(`${base}/crash`);
    expect(crash.status).toBe(502);
    expect(await crash.json()).toEqual({ message: 'Internal server error' });
    expect(crashes).toEqual([new Error('boom')]);
  });

  it('rejects a payload above the 10 MB limit with 413 without calling the handler', async () => {
    const response = await fetch(`${base}/events`, { method: 'POST', body: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) });
    expect(response.status).toBe(413);
    expect(seen).toHaveLength(0);
  });

  it('serves local routes before the API', async () => {
    expect(await (await fetch(`${base}/`)).text()).toBe('dashboard');
  });
});
