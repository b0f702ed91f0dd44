import { maxHeaderSize } from 'node:http';
import { connect } from 'node:net';
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

/** The API's error shape: the message is the first of the errors. */
async function errorBody(response: Response): Promise<{ message: string; errors: string[] }> {
  expect(response.headers.get('content-type')).toBe('application/json');
  const body = (await response.json()) as { message: string; errors: string[] };
  expect(body.errors[0]).toBe(body.message);
  return body;
}

/** Sends raw bytes and reads until the server closes: for requests no HTTP client would send. */
function rawRequest(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

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

  it('answers a path that is not valid percent-encoded UTF-8 with a 400 naming the path, without calling the handler', async () => {
    for (const path of ['/views/%', '/views/%ZZ', '/views/%C0%AF', '/views/%E2%82']) {
      const response = await fetch(`${base}${path}`);
      expect(response.status).toBe(400);
      expect((await errorBody(response)).message).toBe(
        `path: "${path}" is not valid percent-encoded UTF-8 (a % must start %XX, and the bytes must be UTF-8)`,
      );
    }
    expect(seen).toHaveLength(0);
  });

  it('passes query parameters and headers named like Object.prototype members through as own properties', async () => {
    const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
    const query = names.map((name) => `${name}=1&${name}=2`).join('&');
    // Raw, because fetch drops a header named __proto__ before sending it.
    const answer = await rawRequest(
      `GET /views/v?${query} HTTP/1.1\r\nhost: local\r\nconnection: close\r\n` +
        names.map((name) => `${name}: h-${name}\r\n`).join('') +
        '\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const [event] = seen;
    for (const name of names) {
      expect(Object.getOwnPropertyDescriptor(event.queryStringParameters, name)?.value).toBe('2');
      expect(Object.getOwnPropertyDescriptor(event.multiValueQueryStringParameters, name)?.value).toEqual(['1', '2']);
      // Header names as sent (rawHeaders, `hasOwnProperty` in its case), as API Gateway passes them.
      expect(Object.getOwnPropertyDescriptor(event.headers, name)?.value).toBe(`h-${name}`);
      expect(Object.getOwnPropertyDescriptor(event.multiValueHeaders, name)?.value).toEqual([`h-${name}`]);
    }
  });

  it('answers 404 and 405 with bodies that name the path and the method', async () => {
    const missing = await fetch(`${base}/nowhere`);
    expect(missing.status).toBe(404);
    expect((await errorBody(missing)).message).toBe(
      'path: no resource at "/nowhere" (the API has /views/{view}, /events, /crash)',
    );
    const wrongMethod = await fetch(`${base}/events`);
    expect(wrongMethod.status).toBe(405);
    expect((await errorBody(wrongMethod)).message).toBe('method: GET is not allowed on "/events" (allowed: POST)');
  });

  it('answers a request line and headers above the header-size limit with a 431 and a JSON body, and keeps serving', async () => {
    const response = await fetch(`${base}/views/v?deviceId=${'a'.repeat(20 * 1024)}`);
    expect(response.status).toBe(431);
    expect((await errorBody(response)).message).toBe(
      `request: the request line and headers are above the limit of ${maxHeaderSize} bytes ` +
        '(a long query string counts: send fewer or shorter parameters)',
    );
    expect(seen).toHaveLength(0);
    // Just under the limit is still served: the limit is Node's, kept as it is.
    expect((await fetch(`${base}/views/v?deviceId=${'a'.repeat(maxHeaderSize - 1024)}`)).status).toBe(200);
  });

  it('answers what is not HTTP with a 400 and a JSON body', async () => {
    const answer = await rawRequest('NOT HTTP AT ALL\r\n\r\n');
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(body)).toEqual({
      message: expect.stringMatching(/^request: not a valid HTTP request \(HPE_/),
      errors: [expect.any(String)],
    });
  });

  it('answers an HTTP/1.1 request without a Host header with a 400 naming the header', async () => {
    const answer = await rawRequest('GET /views/v HTTP/1.1\r\nconnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(answer.split('\r\n\r\n')[1])).toEqual({
      message: 'host: the Host header is required in an HTTP/1.1 request',
      errors: ['host: the Host header is required in an HTTP/1.1 request'],
    });
    expect(seen).toHaveLength(0);
  });
});
