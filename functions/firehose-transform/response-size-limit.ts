/**
 * Lambda caps a synchronous invocation's response at 6 MB (6,291,556 bytes), and Firehose invokes the transform
 * synchronously. A response over the cap fails the whole invocation: Firehose retries it, fails the same way, and
 * then sends every record of the batch to the error prefix. The archived line is larger than the record Firehose
 * sent (the envelope adds about 200 bytes before base64, and partition keys are added), so a batch of many small
 * events near Firehose's request limit can come out over it.
 */
export const LAMBDA_RESPONSE_LIMIT_BYTES = 6_291_556;

/** What the transform allows itself: the cap less room for Lambda's own framing. */
export const DEFAULT_RESPONSE_BUDGET_BYTES = 6_000_000;

/** One answer's serialized size, and for an `Ok` answer the size it would have as `ProcessingFailed`. */
export interface SizedAnswer {
  readonly bytes: number;
  readonly failedBytes?: number;
}

/** `{"records":[` … `]}` around the answers. */
const ENVELOPE_BYTES = '{"records":[]}'.length;

/**
 * The `Ok` answers to turn into `ProcessingFailed`, last first, so that the response fits the budget. Turning
 * the last ones keeps the archive a prefix of the batch, and a failed answer carries only the original data,
 * which is never larger than what Firehose sent, so a batch that arrived within Lambda's request cap always fits.
 * Throws when even that does not fit the budget: failing the invocation is then the only honest answer.
 */
export function answersOverBudget(answers: readonly SizedAnswer[], budgetBytes: number): number[] {
  const separators = Math.max(0, answers.length - 1);
  let total = ENVELOPE_BYTES + separators + answers.reduce((sum, answer) => sum + answer.bytes, 0);
  const over: number[] = [];
  for (let index = answers.length - 1; index >= 0 && total > budgetBytes; index -= 1) {
    const { bytes, failedBytes } = answers[index];
    if (failedBytes === undefined || failedBytes >= bytes) continue;
    total -= bytes - failedBytes;
    over.push(index);
  }
  if (total > budgetBytes) {
    throw new Error(
      `the transform's response would be ${total} bytes even with every record failed, over the budget of ` +
        `${budgetBytes} bytes: lower the delivery stream's processor BufferSizeInMBs`,
    );
  }
  return over;
}
