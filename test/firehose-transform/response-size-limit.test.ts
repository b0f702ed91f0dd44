import { answersOverBudget } from '../../functions/firehose-transform/response-size-limit';

// `{"records":[]}` is 14 bytes, and each answer after the first adds a comma.
const total = (sizes: readonly number[]) => 14 + Math.max(0, sizes.length - 1) + sizes.reduce((a, b) => a + b, 0);

describe('fitting the transform response within the Lambda limit', () => {
  it('changes nothing when the response fits', () => {
    expect(answersOverBudget([{ bytes: 100, failedBytes: 40 }], total([100]))).toEqual([]);
  });

  it('fails the last Ok answers first, only as many as needed, skipping answers that are already failed', () => {
    const answers = [
      { bytes: 100, failedBytes: 40 },
      { bytes: 100, failedBytes: 40 },
      { bytes: 40 },
      { bytes: 100, failedBytes: 40 },
    ];
    // Over by 61: failing the last Ok answer saves 60, the one before it another 60.
    expect(answersOverBudget(answers, total([100, 100, 40, 100]) - 61)).toEqual([3, 1]);
    expect(answersOverBudget(answers, total([100, 100, 40, 100]) - 60)).toEqual([3]);
  });

  it('throws, naming the processor buffer setting, when even failing every answer does not fit', () => {
    expect(() => answersOverBudget([{ bytes: 100, failedBytes: 90 }, { bytes: 50 }], 100)).toThrow(
      /even with every record failed, over the budget of 100 bytes: lower the delivery stream's processor BufferSizeInMBs/,
    );
  });
});
