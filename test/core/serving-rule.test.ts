import fc from 'fast-check';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { foldRecords } from '../../functions/core/fold';
import { GRANULARITIES, canRollUp, type Granularity } from '../../functions/core/granularity';
import { applyServingRule, type BatchAggregate, type RealtimeAggregate } from '../../functions/core/serving-rule';
import { distinctRecords } from '../../functions/core/distinct-records';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';
import { measuresWith, mergeMeasures } from '../../functions/core/measures';
import type { StreamRecord } from '../../functions/core/stream-record';
import { asExpected, bruteForce } from '../support/brute-force';
import { cutoffArbitrary, streamArbitrary } from '../support/stream-arbitraries';

const EPOCH_MS = 15 * 60_000;
const views = defineViews([
  ...DEFAULT_VIEW_DECLARATIONS,
  { name: 'device_once_per_event', dimensions: ['deviceId'], granularity: 'minute', dedupeByEventId: true },
]);

/** What the batch layer holds: the distinct records that arrived before the cutoff, at the view's granularity. */
function batchView(view: ViewDefinition, records: readonly StreamRecord[], cutoff: number): BatchAggregate[] {
  const covered = distinctRecords(records, view.dedupeByEventId).filter((record) => record.arrivalMs < cutoff);
  const byBucket = new Map<string, BatchAggregate>();
  for (const partial of foldRecords(covered, [view], EPOCH_MS).values()) {
    const id = `${partial.key.dimensionKey}@${partial.key.bucket}`;
    const existing = byBucket.get(id);
    byBucket.set(id, {
      dimensionKey: partial.key.dimensionKey,
      bucket: partial.key.bucket,
      measures: existing ? mergeMeasures(existing.measures, partial.measures) : partial.measures,
    });
  }
  return [...byBucket.values()];
}

/** What the speed layer holds once it has processed everything: every distinct record, per arrival epoch. */
function realtimeView(view: ViewDefinition, records: readonly StreamRecord[]): RealtimeAggregate[] {
  return [...foldRecords(distinctRecords(records, view.dedupeByEventId), [view], EPOCH_MS).values()].map((partial) => ({
    ...partial.key,
    measures: partial.measures,
  }));
}

// 300 runs, each checking 4 views at every granularity they roll up to (9 answers per run): cutoffs land before,
// inside and after the data, and late events straddle the cutoff in most runs.
describe('serving rule', () => {
  it('batch ⊕ realtime above the cutoff equals brute force over the distinct records, at every granularity', () => {
    fc.assert(
      fc.property(streamArbitrary(), cutoffArbitrary(EPOCH_MS), ({ deliveries }, cutoff) => {
        for (const view of views) {
          const batch = batchView(view, deliveries, cutoff);
          const realtime = realtimeView(view, deliveries);
          for (const granularity of GRANULARITIES.filter((g) => canRollUp(view.granularity, g))) {
            const served = applyServingRule({ batch, realtime, cutoff, granularity });
            expect(asExpected(served)).toEqual(bruteForce(view, deliveries, granularity));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('without a batch version every realtime epoch counts', () => {
    fc.assert(
      fc.property(streamArbitrary(), ({ deliveries }) => {
        const [view] = views;
        const served = applyServingRule({
          batch: [],
          realtime: realtimeView(view, deliveries),
          cutoff: null,
          granularity: 'hour',
        });
        expect(asExpected(served)).toEqual(bruteForce(view, deliveries, 'hour'));
      }),
      { numRuns: 100 },
    );
  });

  it('says which part of each bucket came from the batch view and which from the speed layer', () => {
    const cutoff = Date.UTC(2026, 10, 23, 12);
    const bucket = Date.UTC(2026, 10, 23, 11, 59);
    const one = (value: number) =>
      measuresWith({ count: 1, sum: { sum: value }, min: { min: value }, max: { max: value } });
    const served = applyServingRule({
      batch: [{ dimensionKey: 'd|t', bucket, measures: one(1) }],
      realtime: [
        { dimensionKey: 'd|t', bucket, epoch: cutoff - EPOCH_MS, measures: one(100) }, // covered by the batch: ignored
        { dimensionKey: 'd|t', bucket, epoch: cutoff, measures: one(2) }, // a late event, after the cutoff
      ],
      cutoff,
      granularity: 'minute' as Granularity,
    });
    expect(served).toEqual([
      {
        dimensionKey: 'd|t',
        bucket,
        batch: one(1),
        realtime: one(2),
        measures: measuresWith({ count: 2, sum: { sum: 3 }, min: { min: 1 }, max: { max: 2 } }),
      },
    ]);
  });
});
