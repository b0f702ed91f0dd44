/** POSTs `events` to the runtime's API as one request; the caller reads the answer's status. */
export function postEvents(apiUrl: string, events: readonly unknown[]): Promise<Response> {
  return fetch(`${apiUrl}/events`, { method: 'POST', body: JSON.stringify(events) });
}

/** GETs `path` (from the API's root, e.g. `/views/…?…`) and gives its JSON body as `T`. */
export async function getJson<T>(apiUrl: string, path: string): Promise<T> {
  const response = await fetch(`${apiUrl}${path}`);
  return (await response.json()) as T;
}
