import { BatchWriteItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeValue } from '../functions/core/aggregate-attributes';
import { beginWindowRequest, finishWindowRequest, type ArrivalWindow } from '../functions/core/manifest';

/**
 * Seeds a bench's tables as a finished batch run would leave them: the window's rows in the `batch` table, then the
 * window recorded and flipped in the `manifest` table, so that the query handler serves them.
 */
export async function serveBatchWindow(
  client: DynamoDBClient,
  view: string,
  window: ArrivalWindow,
  items: readonly Record<string, AttributeValue>[],
): Promise<void> {
  // BatchWriteItem takes at most 25 requests.
  for (let start = 0; start < items.length; start += 25) {
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: { batch: items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
  }
  await client.send(
    new UpdateItemCommand({ TableName: 'manifest', ...beginWindowRequest(view, { ...window, startedAt: window.to }) }),
  );
  await client.send(
    new UpdateItemCommand({
      TableName: 'manifest',
      ...finishWindowRequest(view, window, new Date(window.to + 600_000).toISOString()),
    }),
  );
}
