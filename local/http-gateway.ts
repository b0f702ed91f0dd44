import { randomUUID } from 'node:crypto';
import { createServer, maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { clientError } from '../functions/adapters/api-response';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** A REST API resource, as API Gateway declares it: a method and a path template such as `/views/{view}`. */
export interface GatewayRoute {
  readonly method: string;
  readonly resource: string;
  readonly handler: ProxyHandler;
}

/** A plain HTTP route of the local server that is not part of the API (the dashboard, local controls). */
export type LocalRoute = (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<boolean> | boolean;

export interface HttpGatewayOptions {
  readonly routes: readonly GatewayRoute[];
  /** Tried, in order, before the API routes. */
  readonly localRoutes?: readonly LocalRoute[];
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 'local' */
  readonly stage?: string;
  /** Where a handler's crash is reported. @default console.error */
  readonly onHandlerError?: (route: GatewayRoute, error: unknown) => void;
}

/** API Gateway's payload limit for REST APIs. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/**
 * A local stand-in for an API Gateway REST API with Lambda proxy integrations: it turns each HTTP request into the
 * proxy event API Gateway sends (resource, path parameters, single- and multi-value query parameters and headers,
 * request context) and the handler's result back into the HTTP response. Requests it refuses itself get the API's
 * error body (`clientError`) naming the problem: 400 for a path that is not valid percent-encoded UTF-8, 404, 405,
 * 413 above the 10 MB payload limit, 431 above Node's header-size limit, and 400 for an HTTP/1.1 request without
 * Host or for what is not HTTP at all. A handler's crash is a 502 with API Gateway's own body.
 */
export class HttpGateway {
  private server: Server | undefined;

  constructor(private readonly options: HttpGatewayOptions) {}

  /** Starts listening and resolves with the base URL. */
  async start(): Promise<string> {
    // Node would answer an HTTP/1.1 request without Host with a bare 400; handle() answers it with a JSON body.
    const server = createServer({ requireHostHeader: false }, (request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) respond(response, 500, { message: `local gateway error: ${String(error)}` });
      });
    });
    // Node answers what it cannot parse (a request line and headers above maxHeaderSize, say) with a bare status
    // line; this listener replaces that with a JSON body that says what was wrong, keeping Node's limits.
    server.on('clientError', answerClientError);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return `http://${this.options.host ?? '127.0.0.1'}:${port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.httpVersion === '1.1' && request.headers.host === undefined) {
      return respondError(response, 400, 'host: the Host header is required in an HTTP/1.1 request');
    }
    const url = requestUrl(request.url ?? '/');
    if (url === undefined) {
      return respondError(response, 400, `path: ${quote(request.url ?? '')} is not a valid request target`);
    }
    for (const route of this.options.localRoutes ?? []) {
      if (await route(request, response, url)) return;
    }
    const candidates = this.options.routes
      .map((route) => ({ route, rawParameters: matchResource(route.resource, url.pathname) }))
      .filter(
        (candidate): candidate is { route: GatewayRoute; rawParameters: Map<string, string> } =>
          candidate.rawParameters !== undefined,
      );
    if (candidates.length === 0) {
      const resources = [...new Set(this.options.routes.map((route) => route.resource))].join(', ');
      return respondError(response, 404, `path: no resource at ${quote(url.pathname)} (the API has ${resources})`);
    }
    const match = candidates.find(({ route }) => route.method === request.method);
    if (match === undefined) {
      const allowed = candidates.map(({ route }) => route.method).join(', ');
      return respondError(
        response,
        405,
        `method: ${request.method ?? ''} is not allowed on ${quote(url.pathname)} (allowed: ${allowed})`,
      );
    }
    // API Gateway decodes path parameters; a `%` that does not start valid percent-encoded UTF-8 is the caller's error.
    const pathParameters = decodeParameters(match.rawParameters);
    if (pathParameters === undefined) {
      return respondError(
        response,
        400,
        `path: ${quote(url.pathname)} is not valid percent-encoded UTF-8 (a % must start %XX, and the bytes must be UTF-8)`,
      );
    }

    const body = await readBody(request);
    if (body === undefined) {
      return respondError(response, 413, `body: above API Gateway's payload limit of ${MAX_PAYLOAD_BYTES} bytes`);
    }
    const event = toProxyEvent(request, url, match.route.resource, pathParameters, body, this.options.stage ?? 'local');
    let result: APIGatewayProxyResult;
    try {
      result = await match.route.handler(event, lambdaContext());
    } catch (error) {
      // API Gateway answers a failed Lambda integration with 502 and this body.
      const report =
        this.options.onHandlerError ??
        ((route: GatewayRoute, thrown: unknown) => console.error(`${route.method} ${route.resource} threw:`, thrown));
      report(match.route, error);
      return respond(response, 502, { message: 'Internal server error' });
    }
    const headers = new Map<string, string | string[]>(
      Object.entries(result.headers ?? {}).map(([name, value]) => [name, String(value)]),
    );
    for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) headers.set(name, values.map(String));
    response.writeHead(result.statusCode, Object.fromEntries(headers));
    response.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
  }
}

/**
 * The request target as a URL. Prefixed rather than resolved against a base, so that `//x/views` stays the path
 * it is instead of naming a host; undefined when it is not a URL at all.
 */
function requestUrl(target: string): URL | undefined {
  try {
    return new URL(target.startsWith('/') ? `http://local${target}` : target, 'http://local');
  } catch {
    return undefined;
  }
}

/** The resource's `{name}` segments, still percent-encoded, when the path matches it. */
function matchResource(resource: string, path: string): Map<string, string> | undefined {
  const expected = resource.split('/').filter(Boolean);
  const actual = path.split('/').filter(Boolean);
  if (expected.length !== actual.length) return undefined;
  const parameters = new Map<string, string>();
  for (const [index, segment] of expected.entries()) {
    const parameter = /^\{(\w+)\}$/.exec(segment);
    if (parameter !== null) parameters.set(parameter[1], actual[index]);
    else if (segment !== actual[index]) return undefined;
  }
  return parameters;
}

function decodeParameters(raw: Map<string, string>): Record<string, string> | undefined {
  const decoded = new Map<string, string>();
  for (const [name, value] of raw) {
    try {
      decoded.set(name, decodeURIComponent(value));
    } catch {
      return undefined; // URIError: URI malformed
    }
  }
  return Object.fromEntries(decoded);
}

async function readBody(request: IncomingMessage): Promise<string | null | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 0 ? null : Buffer.concat(chunks).toString('utf8');
}

function toProxyEvent(
  request: IncomingMessage,
  url: URL,
  resource: string,
  pathParameters: Record<string, string>,
  body: string | null,
  stage: string,
): APIGatewayProxyEvent {
  // Names come from the caller, so they are gathered in Maps: in a plain object `constructor` or `__proto__` would
  // be Object.prototype's. The event then holds plain objects with each name as an own property, as the JSON that
  // API Gateway sends to Lambda parses to, so a handler meets here what it meets in AWS.
  const headerValues = new Map<string, string>();
  const multiValueHeaderValues = new Map<string, string[]>();
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    const [name, value] = [request.rawHeaders[index], request.rawHeaders[index + 1]];
    headerValues.set(name, value);
    multiValueHeaderValues.set(name, [...(multiValueHeaderValues.get(name) ?? []), value]);
  }
  const queryValues = new Map<string, string>();
  const multiValueQueryValues = new Map<string, string[]>();
  for (const [name, value] of url.searchParams) {
    queryValues.set(name, value); // API Gateway keeps the last of repeated parameters here.
    multiValueQueryValues.set(name, [...(multiValueQueryValues.get(name) ?? []), value]);
  }
  const headers = Object.fromEntries(headerValues);
  const multiValueHeaders = Object.fromEntries(multiValueHeaderValues);
  const hasQuery = queryValues.size > 0;
  const now = Date.now();
  return {
    resource,
    path: url.pathname,
    httpMethod: request.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? Object.fromEntries(queryValues) : null,
    multiValueQueryStringParameters: hasQuery ? Object.fromEntries(multiValueQueryValues) : null,
    pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: request.method ?? 'GET',
      path: `/${stage}${url.pathname}`,
      stage,
      requestId: randomUUID(),
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: resource,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: headerValues.get('x-api-key') ?? null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: headerValues.get('user-agent') ?? null,
        userArn: null,
      },
    },
  };
}

function lambdaContext(): Context {
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:local',
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/local',
    logStreamName: requestId,
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function respond(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/** An error the local server answers itself, in the API's error shape (`clientError`): the message names the problem. */
export function respondError(response: ServerResponse, status: number, message: string): void {
  const { body } = clientError(status, [message]);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

/** What Node could not parse as an HTTP request, answered as Node would (status, then close) but with a JSON body. */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // As Node's own handler: write only to a socket that is open and not in the middle of another response.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const [status, reason, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [
          431,
          'Request Header Fields Too Large',
          `request: the request line and headers are above the limit of ${maxHeaderSize} bytes ` +
            '(a long query string counts: send fewer or shorter parameters)',
        ]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request: not received in time']
        : [400, 'Bad Request', `request: not a valid HTTP request (${parseFailure(error)})`];
  const { body } = clientError(status, [message]);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Node's parse errors carry llhttp's code and its reason, such as `HPE_INVALID_METHOD: Invalid method encountered`. */
function parseFailure(error: NodeJS.ErrnoException & { reason?: string }): string {
  return [error.code, error.reason ?? error.message].filter((part) => part !== undefined && part !== '').join(': ');
}

/** A caller's text in a message: quoted, and cut short so that a long path does not make a long message. */
function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}
