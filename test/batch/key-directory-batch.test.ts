import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { KeyDirectoryStore } from '../../functions/adapters/key-directory-store';
import type { ViewRunSummary } from '../../functions/batch/batch-job';
import { aggregateKeyOf } from '../../functions/core/fold';
import type { DirectoryEntry } from '../../functions/core/key-directory';
import type { StreamRecord } from '../../functions/core/stream-record';
import type { ViewDefinition } from '../../functions/core/view-declaration';
import { emulatorClientConfig } from '../../local/emulators';
import { ensureTable } from '../../local/provision';
import { ACCESS_DENIED, DynamoDbFaults } from '../speed/dynamodb-faults';
import { cutoffArbitrary, streamArbitrary } from '../support/stream-arbitraries';
import {
  arrivingIn,
  BATCH_TEST_CONFIG,
  BatchEmulators,
  batchRunFixture,
  countedRecords,
  nowFor,
} from './batch-run-fixture';

const config = BATCH_TEST_CONFIG;
const EPOCH_MS = config.epochLengthMs;
const emulators = BatchEmulators.forThisFile();
let directories = 0;

/** A fresh directory table, a store over it for the job, and one whose faults the test chooses. */
async function directoryFor() {
  directories += 1;
  const tableName = `key-directory-${directories}`;
  const client = new DynamoDBClient({ ...emulatorClientConfig(emulators.dynamoEndpoint), maxAttempts: 1 });
  const faults = new DynamoDbFaults().attachTo(client);
  await ensureTable(client, tableName);
  const store = new KeyDirectoryStore({ client, tableName, retry: { sleep: async () => undefined } });
  const listAll = async (view: ViewDefinition): Promise<DirectoryEntry[]> => {
    const entries: DirectoryEntry[] = [];
    let after: string | undefined;
    do {
      const page = await store.listPage(view, new Map(), { limit: 50, after });
      entries.push(...page.entries);
      after = page.lastSortKey ?? undefined;
    } while (after !== undefined);
    return entries.sort((a, b) => (a.dimensionKey < b.dimensionKey ? -1 : 1));
  };
  return { client, faults, store, listAll };
}

/** What the directory must list of a view: each key the view counts below the cutoff, with its records' arrivals. */
function expectedEntries(view: ViewDefinition, deliveries: readonly StreamRecord[], cutoff: number): DirectoryEntry[] {
  const entries = new Map<string, DirectoryEntry>();
  for (const record of countedRecords(view, deliveries, config.dedupHorizonMs)) {
    if (record.arrivalMs >= cutoff) continue;
    const key = aggregateKeyOf(view, record, EPOCH_MS);
    if (key === undefined) continue;
    const known = entries.get(key.dimensionKey);
    entries.set(key.dimensionKey, {
      dimensionKey: key.dimensionKey,
      firstSeenMs: Math.min(known?.firstSeenMs ?? Infinity, record.arrivalMs),
      lastSeenMs: Math.max(known?.lastSeenMs ?? -Infinity, record.arrivalMs),
    });
  }
  return [...entries.values()].sort((a, b) => (a.dimensionKey < b.dimensionKey ? -1 : 1));
}

describe('batch job: the key directory', () => {
  // Keys only the batch layer saw (no speed layer ran: as if their realtime items had expired) are listed after a
  // run, each with the earliest and latest arrival of the records the view counts; a second window of later
  // records moves the last arrivals on and lists the new keys. Five runs of a generated stream over four views
  // (key shapes, a filter, eventId de-duplication), each two batch runs.
  it('lists every key a window counted, with the min and max arrival of its records, before the window flips', async () => {
    let listedKeys = 0;
    await fc.assert(
      fc.asyncProperty(
        streamArbitrary({ minLength: 5, maxLength: 30 }),
        cutoffArbitrary(EPOCH_MS),
        async ({ deliveries }, cutoff) => {
          const setup = await batchRunFixture(emulators, config);
          const directory = await directoryFor();
          await setup.archive(deliveries);
          const listedAtFlip = new Map<string, DirectoryEntry[]>();
          const first = await setup.run(nowFor(cutoff), {
            keyDirectory: directory.store,
            onStep: async ({ view, step }) => {
              if (step !== 'flipping') return;
              const definition = config.views.find((candidate) => candidate.name === view) as ViewDefinition;
              listedAtFlip.set(view, await directory.listAll(definition));
            },
          });
          expect(first.failed).toBe(false);
          for (const view of config.views) {
            const expected = expectedEntries(view, deliveries, cutoff);
            expect({ view: view.name, listed: await directory.listAll(view) }).toEqual({
              view: view.name,
              listed: expected,
            });
            if (expected.length > 0) expect(listedAtFlip.get(view.name)).toEqual(expected);
            listedKeys += expected.length;
          }

          const laterCutoff = cutoff + 4 * EPOCH_MS;
          const later = arrivingIn(deliveries.slice(0, 3), cutoff, laterCutoff, 'shardId-000000000009');
          await setup.archive(later);
          const second = await setup.run(nowFor(laterCutoff), { keyDirectory: directory.store });
          expect(second.failed).toBe(false);
          for (const view of config.views) {
            expect({ view: view.name, listed: await directory.listAll(view) }).toEqual({
              view: view.name,
              listed: expectedEntries(view, [...deliveries, ...later], laterCutoff),
            });
          }
          setup.destroy();
          directory.client.destroy();
        },
      ),
      { numRuns: 5 },
    );
    // Runs whose cutoff precedes every record list nothing: the property must not hold only vacuously.
    expect(listedKeys).toBeGreaterThan(0);
  });

  it('a window whose keys cannot be recorded does not flip, and the next run records them and flips', async () => {
    const setup = await batchRunFixture(emulators, config);
    const directory = await directoryFor();
    const [{ deliveries }] = fc.sample(streamArbitrary({ minLength: 10, maxLength: 20 }), { seed: 15, numRuns: 1 });
    await setup.archive(deliveries);
    const cutoff = Math.max(...deliveries.map((record) => record.arrivalMs)) + EPOCH_MS;
    const aligned = cutoff - (cutoff % EPOCH_MS);
    directory.faults.failWhen(({ command }) => (command === 'UpdateItemCommand' ? ACCESS_DENIED : undefined));
    const failed = await setup.run(nowFor(aligned), { keyDirectory: directory.store });
    expect(failed.failed).toBe(true);
    const outcomes = failed.summary.views as readonly ViewRunSummary[];
    expect(outcomes.every((outcome) => outcome.outcome === 'failed')).toBe(true);
    expect(outcomes.every((outcome) => /^directory: .*AccessDenied/.test(outcome.error ?? ''))).toBe(true);
    for (const view of config.views) expect((await setup.state(view.name)).cutoff).toBeNull();

    directory.faults.heal();
    const resumed = await setup.run(nowFor(aligned), { keyDirectory: directory.store });
    expect(resumed.failed).toBe(false);
    for (const view of config.views) {
      expect(await directory.listAll(view)).toEqual(expectedEntries(view, deliveries, aligned));
      expect((await setup.state(view.name)).cutoff).toBe(aligned);
    }
    setup.destroy();
    directory.client.destroy();
  });
});
