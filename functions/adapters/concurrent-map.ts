/**
 * Maps items through an async function with at most `limit` calls in flight, results in input order. The speed
 * layer bounds its DynamoDB requests this way: one batch may touch thousands of items, and firing them all at once
 * would only earn throttling (and, in Lambda, exhaust sockets).
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  map: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error('concurrency limit must be a positive integer');
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await map(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
