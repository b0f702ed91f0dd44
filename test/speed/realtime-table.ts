import { CreateTableCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { StoredAttributes } from '../../functions/core/aggregate-attributes';
import { presentMeasures, type Measures } from '../../functions/core/measures';
import { realtimeAggregateFromItem } from '../../functions/core/realtime-update';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { bruteForce, plainMeasures, type PresentedBucket } from '../support/brute-force';

/** A table with the pipeline's key schema (pk, sk), on demand. */
export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

export async function scanTable(client: DynamoDBClient, tableName: string): Promise<StoredAttributes[]> {
  const items: StoredAttributes[] = [];
  let startKey: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...((page.Items ?? []) as StoredAttributes[]));
    startKey = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (startKey !== undefined);
  return items;
}

/** `view|epoch|dimension key@bucket` → the view's declared measures, by name, as a reader is served them. */
export type EpochAnswers = Map<string, PresentedBucket | null>;

function declaredOnly(view: ViewDefinition, measures: Measures): PresentedBucket | null {
  return presentMeasures(view, measures);
}

/** The realtime items of a generation, read back the way the serving layer reads them. */
export async function realtimeAnswers(
  client: DynamoDBClient,
  tableName: string,
  views: readonly ViewDefinition[],
  generation = 1,
): Promise<EpochAnswers> {
  const answers: EpochAnswers = new Map();
  for (const item of await scanTable(client, tableName)) {
    const pk = item.pk?.S ?? '';
    const view = views.find((candidate) => pk.startsWith(`${candidate.name}@`));
    if (view === undefined) throw new Error(`unexpected realtime item ${pk}`);
    if (!pk.startsWith(`${view.name}@${generation}#`)) continue;
    const dimensionKey = pk.slice(`${view.name}@${generation}#`.length);
    const { bucket, epoch, measures } = realtimeAggregateFromItem(dimensionKey, item, view.stored);
    answers.set(`${view.name}|${epoch}|${dimensionKey}@${bucket}`, declaredOnly(view, measures));
  }
  return answers;
}

/**
 * The brute-force answer per (view, epoch, key, bucket) over the distinct records: test/support's brute force,
 * restricted to each arrival epoch in turn (it has no epochs of its own).
 */
export function expectedAnswers(
  views: readonly ViewDefinition[],
  records: readonly StreamRecord[],
  epochLengthMs: number,
): EpochAnswers {
  const epochOf = (record: StreamRecord) => record.arrivalMs - (record.arrivalMs % epochLengthMs);
  const epochs = [...new Set(records.map(epochOf))];
  const answers: EpochAnswers = new Map();
  for (const view of views) {
    for (const epoch of epochs) {
      const buckets = bruteForce(view, records, view.granularity, (record) => epochOf(record) === epoch);
      for (const [key, measures] of buckets) answers.set(`${view.name}|${epoch}|${key}`, declaredOnly(view, measures));
    }
  }
  return answers;
}

/** `view|epoch|dimension key@bucket` → the stored measures, decoded: registers, bins and sums of squares included. */
export type EpochMeasures = Map<string, Measures>;

/**
 * The realtime items of a generation as stored measures, decoded: comparable register for register and bin for bin
 * with expectedMeasures, where answers (estimates, quantiles) could hide a difference.
 */
export async function realtimeMeasures(
  client: DynamoDBClient,
  tableName: string,
  views: readonly ViewDefinition[],
  generation = 1,
): Promise<EpochMeasures> {
  const result: EpochMeasures = new Map();
  for (const item of await scanTable(client, tableName)) {
    const pk = item.pk?.S ?? '';
    const view = views.find((candidate) => pk.startsWith(`${candidate.name}@${generation}#`));
    if (view === undefined) continue;
    const dimensionKey = pk.slice(`${view.name}@${generation}#`.length);
    const { bucket, epoch, measures } = realtimeAggregateFromItem(dimensionKey, item, view.stored);
    result.set(`${view.name}|${epoch}|${dimensionKey}@${bucket}`, plainMeasures(measures));
  }
  return result;
}

/** The brute force's stored measures per (view, epoch, key, bucket): test/support's monoid over distinct records. */
export function expectedMeasures(
  views: readonly ViewDefinition[],
  records: readonly StreamRecord[],
  epochLengthMs: number,
): EpochMeasures {
  const epochOf = (record: StreamRecord) => record.arrivalMs - (record.arrivalMs % epochLengthMs);
  const result: EpochMeasures = new Map();
  for (const view of views) {
    for (const epoch of new Set(records.map(epochOf))) {
      const buckets = bruteForce(view, records, view.granularity, (record) => epochOf(record) === epoch);
      for (const [key, measures] of buckets) result.set(`${view.name}|${epoch}|${key}`, plainMeasures(measures));
    }
  }
  return result;
}

/** Sorted entries, so that a failed toEqual shows the differing keys side by side. */
export function sortedEntries<T>(answers: ReadonlyMap<string, T>): [string, T][] {
  return [...answers.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
