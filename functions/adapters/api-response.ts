import type { APIGatewayProxyResult } from 'aws-lambda';

/** A JSON response; API Gateway's proxy integration passes it through as it is. */
export function jsonResponse(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** A client error: the message says what is wrong, `errors` lists each problem when there are several. */
export function clientError(statusCode: number, errors: readonly string[]): APIGatewayProxyResult {
  return jsonResponse(statusCode, { message: errors[0], errors });
}
