import { BatchWriteItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KeyDirectoryStore } from '../functions/adapters/key-directory-store';
import { ViewReader } from '../functions/adapters/view-reader';
import type { AttributeValue } from '../functions/core/aggregate-attributes';
import { beginWindowRequest, finishWindowRequest, type ArrivalWindow } from '../functions/core/manifest';
import type { PipelineConfig } from '../functions/core/pipeline-config';
import { openApiDocument } from '../functions/serving/openapi-document';
import { createQueryHandler } from '../functions/serving/query-handler';
import { LocalMetrics } from '../local/local-handlers';

/** The query handler over the bench's tables (realtime, batch, manifest, keyDirectory), at a fixed `now`. */
export function benchQueryHandler(client: DynamoDBClient, config: PipelineConfig, now: number) {
  return createQueryHandler({
    config,
    reader: new ViewReader({ client, realtimeTable: 'realtime', batchTable: 'batch', manifestTable: 'manifest' }),
    directory: new KeyDirectoryStore({ client, tableName: 'keyDirectory' }),
    logger: { info: () => undefined, warn: () => undefined, error: console.error },
    metrics: new LocalMetrics(),
    openApiDocument: () => openApiDocument(config.schema, config.views),
    now: () => now,
  });
}

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
