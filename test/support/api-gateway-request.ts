import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/**
 * A GET of one of the view routes as API Gateway hands it to the serving Lambda: `resource` is the route's template
 * (`/views/{view}/anomalies`), and each parameter is given as one value or several.
 */
export function viewRouteEvent(
  resource: string,
  viewName: string,
  parameters: Readonly<Record<string, string | readonly string[]>>,
): APIGatewayProxyEvent {
  return {
    httpMethod: 'GET',
    resource,
    path: resource.replace('{view}', viewName),
    pathParameters: { view: viewName },
    multiValueQueryStringParameters: Object.fromEntries(
      Object.entries(parameters).map(([name, value]) => [name, [value].flat()]),
    ),
  } as unknown as APIGatewayProxyEvent;
}

/** Sends a view route's GET to a query handler and reads the JSON answer back. */
export async function getViewRoute<Body>(
  handler: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>,
  resource: string,
  viewName: string,
  parameters: Readonly<Record<string, string | readonly string[]>>,
): Promise<{ status: number; body: Body }> {
  const response = await handler(viewRouteEvent(resource, viewName, parameters));
  return { status: response.statusCode, body: JSON.parse(response.body) as Body };
}
