import {
  FIRST_GENERATION,
  flipGenerationRequest,
  generationStateFromItem,
  generationsOf,
  handedOff,
  handoffTime,
  startReplayRequest,
} from '../../functions/core/generation-manifest';

const building = { generation: 3, handoffMs: 1_000_000, startedAt: 990_000, backfilledItems: null };

describe('the generation manifest', () => {
  it('serves the first generation, building none, until a replay writes the item', () => {
    expect(generationStateFromItem('v', undefined)).toEqual({
      view: 'v',
      served: FIRST_GENERATION,
      servedFromMs: null,
      building: null,
      expiring: null,
    });
  });

  it('reads back what a replay started and what its backfill recorded', () => {
    const item = {
      served: { N: '2' },
      building: { N: '3' },
      handoffMs: { N: '1000000' },
      startedAt: { N: '990000' },
      backfilledItems: { N: '42' },
    };
    expect(generationStateFromItem('v', item)).toEqual({
      view: 'v',
      served: 2,
      servedFromMs: null,
      building: { ...building, backfilledItems: 42, backfill: null },
      expiring: null,
    });
  });

  it("reads back how far a replay's backfill got, for the next invocation to go on from", () => {
    const item = {
      served: { N: '2' },
      building: { N: '3' },
      handoffMs: { N: '1000000' },
      startedAt: { N: '990000' },
      backfillPrefix: { S: 'replays/v/3-990000/1/' },
      backfillFiles: { N: '4' },
      backfillFilesDone: { N: '1' },
      backfillLinesDone: { N: '250' },
      backfillWritten: { N: '1250' },
    };
    expect(generationStateFromItem('v', item).building).toEqual({
      ...building,
      backfill: { prefix: 'replays/v/3-990000/1/', files: 4, filesDone: 1, linesDone: 250, items: 1250 },
    });
  });

  it('hands a record to the live consumer exactly when it arrived at or after the hand-off, else to the backfill', () => {
    expect(handedOff(building, 999_999)).toBe(false);
    expect(handedOff(building, 1_000_000)).toBe(true);
  });

  it('writes a record to the served generation and, from the hand-off, to the building one', () => {
    const state = { view: 'v', served: 2, servedFromMs: null, building, expiring: null };
    expect(generationsOf(state, 999_999)).toEqual([2]);
    expect(generationsOf(state, 1_000_000)).toEqual([2, 3]);
  });

  it('after a flip, leaves out of the served generation a late-processed record that its backfill already holds', () => {
    const flipped = { view: 'v', served: 3, servedFromMs: 1_000_000, building: null, expiring: 2 };
    expect(generationsOf(flipped, 999_999)).toEqual([]);
    expect(generationsOf(flipped, 1_000_000)).toEqual([3]);
  });

  it('places the hand-off two cache periods and a skew allowance ahead, so every consumer knows of it in time', () => {
    expect(handoffTime(10_000, 2_000)).toBe(15_000);
    expect(handoffTime(10_000, 0, 0)).toBe(10_000);
  });

  it('starts a replay only when none is in progress and the served generation is the one it read', () => {
    const request = startReplayRequest(
      { view: 'v', served: 2, servedFromMs: null, building: null, expiring: null },
      building,
    );
    expect(request.ConditionExpression).toBe(
      'attribute_not_exists(#building) AND (attribute_not_exists(#served) OR #served = :served)',
    );
    expect(request.ExpressionAttributeValues).toMatchObject({ ':served': { N: '2' }, ':building': { N: '3' } });
  });

  it('flips only from the served generation to the built one, after its backfill', () => {
    const request = flipGenerationRequest('v', 2, 3);
    expect(request.ConditionExpression).toBe(
      '#served = :from AND #building = :to AND attribute_exists(#backfilledItems)',
    );
    // The hand-off stays with the served generation, for consumers still behind it.
    expect(request.UpdateExpression).toContain('SET #served = :to, #servedFromMs = #handoffMs, #expiring = :from');
  });
});
