import fc from 'fast-check';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { aggregateKeyId, foldRecords } from '../../functions/core/fold';
import { mergeAllMeasures } from '../../functions/core/measures';
import { positionOf, recordIdentity, type StreamRecord } from '../../functions/core/stream-record';
import { defineViews } from '../../functions/core/view-declaration';
import { lowestPositionOf, touchedItems, type ClaimStatus } from '../../functions/speed/touched-items';
import { streamArbitrary } from '../support/stream-arbitraries';

const views = defineViews([
  ...DEFAULT_VIEW_DECLARATIONS,
  { name: 'device_once', dimensions: ['deviceId'], granularity: 'hour', dedupeByEventId: true },
  {
    name: 'warm_site',
    dimensions: ['site'],
    granularity: 'minute',
    filter: [{ field: 'value', op: 'gte', value: 0 }],
  },
]);
const EPOCH_MS = 15 * 60_000;

// 200 runs of up to 60 records over 5 views: every view sees shared, filtered and late records many times.
const runs = { numRuns: 200 };

describe('touched items of a batch', () => {
  it("each item's contributions add up to the core fold of the batch, with the fold's watermark as their highest", () => {
    fc.assert(
      fc.property(streamArbitrary(), ({ records }) => {
        const oneShard = records.filter((record) => record.shardId === records[0]?.shardId);
        const fold = foldRecords(oneShard, views, EPOCH_MS);
        const items = touchedItems(oneShard, views, EPOCH_MS);
        expect(items).toHaveLength(fold.size);
        for (const item of items) {
          const partial = fold.get(aggregateKeyId(item.key));
          expect(partial).toBeDefined();
          expect(mergeAllMeasures(item.contributions.map((contribution) => contribution.measures))).toEqual(
            partial?.measures,
          );
          const highest = item.contributions
            .map((contribution) => contribution.position)
            .sort()
            .at(-1);
          expect(highest).toBe(partial?.watermarks[oneShard[0].shardId]);
          expect(item.undecided).toEqual([]);
        }
      }),
      runs,
    );
  });

  it('a de-duplicating view skips duplicates and holds back undecided records; other views count every record', () => {
    fc.assert(
      fc.property(
        streamArbitrary({ minLength: 1 }),
        fc.array(fc.constantFrom<ClaimStatus>('owner', 'duplicate', 'failed')),
        ({ records }, statuses) => {
          const claimOf = (record: StreamRecord) =>
            statuses[records.indexOf(record) % Math.max(1, statuses.length)] ?? 'owner';
          const items = touchedItems(records, views, EPOCH_MS, claimOf);
          const positions = (status: ClaimStatus) =>
            records
              .filter((record) => claimOf(record) === status)
              .map(positionOf)
              .sort();
          const once = items.filter((item) => item.view.dedupeByEventId);
          expect(once.flatMap((item) => item.contributions.map((c) => c.position)).sort()).toEqual(positions('owner'));
          expect(once.flatMap((item) => item.undecided).sort()).toEqual(positions('failed'));
          const everyRecord = items.filter((item) => item.view.name === 'metric_day');
          expect(everyRecord.flatMap((item) => item.contributions).length).toBe(records.length);
        },
      ),
      runs,
    );
  });

  it("an item's lowest position covers its undecided records as well as its contributions", () => {
    const [first, second] = sampleRecords();
    const items = touchedItems(
      [first, second],
      views.filter((view) => view.name === 'device_once'),
      EPOCH_MS,
      (record) => (recordIdentity(record) === recordIdentity(first) ? 'failed' : 'owner'),
    );
    expect(items).toHaveLength(1);
    expect(lowestPositionOf(items[0])).toBe(positionOf(first));
  });
});

function sampleRecords(): StreamRecord[] {
  const event = { eventId: 'a', deviceId: 'd', site: 's', metric: 'm', value: 1, ts: 1_795_392_000_000 };
  return [1n, 2n].map((n) => ({
    event: { ...event, eventId: `e-${n}` },
    shardId: 'shardId-000000000000',
    sequenceNumber: String(49_680_507_356_827_391_140_529_022_913_163_858_325_634_908_041_368_305_666n + n),
    subSequenceNumber: 0,
    arrivalMs: 1_795_392_001_000,
  }));
}
