import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';

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
 * request context) and the handler's result back into the HTTP response. It answers 404 and 405 with JSON bodies
 * and 413 above the 10 MB payload limit, as API Gateway does, and a handler's crash as a 502.
 */
export class HttpGateway {
  private server: Server | undefined;

  constructor(private readonly options: HttpGatewayOptions) {}

  /** Starts listening and resolves with the base URL. */
  async start(): Promise<string> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) respond(response, 500, { message: `local gateway error: ${String(error)}` });
      });
    });
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
    const url = new URL(request.url ?? '/', 'http://local');
    for (const route of this.options.localRoutes ?? []) {
      if (await route(request, response, url)) return;
    }
    const candidates = this.options.routes
      .map((route) => ({ route, pathParameters: matchResource(route.resource, url.pathname) }))
      .filter((match) => match.pathParameters !== undefined);
    if (candidates.length === 0) return respond(response, 404, { message: 'Not Found' });
    const match = candidates.find(({ route }) => route.method === request.method);
    if (match === undefined) return respond(response, 405, { message: 'Method Not Allowed' });

    const body = await readBody(request);
    if (body === undefined) return respond(response, 413, { message: 'Request Too Long' });
    const event = toProxyEvent(
      request,
      url,
      match.route.resource,
      match.pathParameters ?? {},
      body,
      this.options.stage ?? 'local',
    );
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
    const headers: Record<string, string | string[]> = { ...(result.headers as Record<string, string> | undefined) };
    for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) headers[name] = values.map(String);
    response.writeHead(result.statusCode, headers);
    response.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
  }
}

function matchResource(resource: string, path: string): Record<string, string> | undefined {
  const expected = resource.split('/').filter(Boolean);
  const actual = path.split('/').filter(Boolean);
  if (expected.length !== actual.length) return undefined;
  const parameters: Record<string, string> = {};
  for (const [index, segment] of expected.entries()) {
    const parameter = /^\{(\w+)\}$/.exec(segment);
    if (parameter !== null) parameters[parameter[1]] = decodeURIComponent(actual[index]);
    else if (segment !== actual[index]) return undefined;
  }
  return parameters;
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
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    const [name, value] = [request.rawHeaders[index], request.rawHeaders[index + 1]];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiValueQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value; // API Gateway keeps the last of repeated parameters here.
    (multiValueQuery[name] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const now = Date.now();
  return {
    resource,
    path: url.pathname,
    httpMethod: request.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiValueQuery : null,
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
        apiKey: headers['x-api-key'] ?? null,
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
        userAgent: headers['user-agent'] ?? null,
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
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
