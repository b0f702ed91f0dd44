import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ViewReader } from '../../functions/adapters/view-reader';
import { decodeDimensionKey } from '../../functions/core/dimension-key';
import { applyServingRule } from '../../functions/core/serving-rule';
import { MAX_EVENT_TIME_MS } from '../../functions/core/event-limits';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { presented, type PresentedView } from '../batch/expected-batch-view';

/**
 * What a reader is served from the batch layer alone, for every key the table holds rows of, in expectedBatchView's
 * shape (`values joined by |@bucket`, each measure by name): the keys come from a scan, the rows from the serving layer's own reader.
 */
export async function servedBatchAnswer(
  dynamodb: DynamoDBClient,
  tables: { readonly batchTable: string; readonly manifestTable: string; readonly realtimeTable?: string },
  view: ViewDefinition,
): Promise<PresentedView> {
  const reader = new ViewReader({
    client: dynamodb,
    batchTable: tables.batchTable,
    manifestTable: tables.manifestTable,
    realtimeTable: tables.realtimeTable ?? 'unused',
    manifestCacheMs: 0,
  });
  const manifest = await reader.servedBatch(view.name);
  const answer: PresentedView = new Map();
  if (manifest === null) return answer;
  const keys = new Set<string>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: tables.batchTable, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      const pk = item.pk?.S ?? '';
      const window = `${view.name}#w#`;
      if (pk.startsWith(window)) keys.add(pk.slice(window.length));
      const base = `${view.name}#b#`;
      if (pk.startsWith(base)) keys.add(pk.slice(base.length).split('#').slice(1).join('#'));
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  for (const key of keys) {
    const rows = await reader.batchRows(view, manifest, key, 0, MAX_EVENT_TIME_MS);
    const buckets = applyServingRule({
      batch: rows,
      realtime: [],
      cutoff: manifest.cutoff,
      granularity: view.granularity,
    }).map((bucket) => ({
      ...bucket,
      dimensionKey: decodeDimensionKey(key)
        .map((value) => encodeURIComponent(value))
        .join('|'),
    }));
    for (const [id, measures] of presented(view, buckets)) answer.set(id, measures);
  }
  return answer;
}
