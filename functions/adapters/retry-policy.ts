import { setTimeout as sleepFor } from 'node:timers/promises';

/**
 * Retries of throttled and transient DynamoDB requests, with exponential backoff and full jitter.
 *
 * The speed layer's clients are built with the SDK's own retries off (maxAttempts 1): this policy is then the only
 * one, so a request is sent at most `maxAttempts` times. With both on, the attempts would multiply.
 */
export interface RetryPolicy {
  /** Attempts per request, the first included. @default 6 */
  readonly maxAttempts: number;
  /** Upper bound of the first backoff; it doubles per attempt. @default 50 */
  readonly baseDelayMs: number;
  /** No single backoff exceeds this. @default 2000 */
  readonly maxDelayMs: number;
  /** How long one attempt may take before it is abandoned as a transient failure. @default 5000 */
  readonly attemptTimeoutMs: number;
  /** Injected so that tests do not wait. @default a timer */
  readonly sleep: (ms: number) => Promise<void>;
  /** @default Math.random */
  readonly random: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 50,
  maxDelayMs: 2_000,
  attemptTimeoutMs: 5_000,
  sleep: (ms) => sleepFor(ms),
  random: Math.random,
};

export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...overrides };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new Error('retry policy: maxAttempts must be a positive integer');
  }
  return policy;
}

const THROTTLING_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'Throttling',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'LimitExceededException',
]);

const TRANSIENT_ERRORS = new Set([
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'AbortError',
]);

const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

interface ErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/**
 * Throttling, server-side (5xx) and network errors are worth retrying; anything else (a failed condition, a
 * validation or permission error) would fail the same way again.
 */
export function isRetryableError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, code, $metadata } = error as ErrorShape;
  if (typeof name === 'string' && (THROTTLING_ERRORS.has(name) || TRANSIENT_ERRORS.has(name))) return true;
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
  return ($metadata?.httpStatusCode ?? 0) >= 500;
}

/** Full jitter: a uniform delay up to the capped exponential bound, which spreads retrying writers apart. */
export function backoffDelayMs(policy: RetryPolicy, failedAttempt: number): number {
  const bound = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failedAttempt - 1));
  return Math.floor(policy.random() * bound);
}

/**
 * The store refused the request for what it holds (DynamoDB's ValidationException: a key over its size limit, a
 * number out of range): the same content would be refused forever, so it is set aside rather than retried.
 */
export function isRejectedContentError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as ErrorShape).name === 'ValidationException';
}

/**
 * Errors after which the request was certainly not applied: the service refused it whole (throttling), or the
 * connection was never made. Only these may be retried for a request that is not idempotent; after a timeout, a
 * reset or a 5xx, the request may have been applied.
 */
export function isUnappliedError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, code } = error as ErrorShape;
  return (typeof name === 'string' && THROTTLING_ERRORS.has(name)) || code === 'ECONNREFUSED';
}

/**
 * Runs `attempt` until it succeeds, fails with an error that is not retryable, or has failed `maxAttempts` times;
 * the last error is thrown. Each attempt gets an abort signal that fires after `attemptTimeoutMs`, so a hung
 * connection becomes a retryable timeout rather than a Lambda timeout. Every request this wraps must be
 * idempotent (a timed-out or reset request may still have been applied), unless `retryable` is narrowed to
 * isUnappliedError.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  attempt: (abortSignal: AbortSignal) => Promise<T>,
  onRetry?: (error: unknown, failedAttempt: number) => void,
  retryable: (error: unknown) => boolean = isRetryableError,
): Promise<T> {
  for (let attemptNumber = 1; ; attemptNumber += 1) {
    try {
      return await attempt(AbortSignal.timeout(policy.attemptTimeoutMs));
    } catch (error) {
      if (attemptNumber >= policy.maxAttempts || !retryable(error)) throw error;
      onRetry?.(error, attemptNumber);
      await policy.sleep(backoffDelayMs(policy, attemptNumber));
    }
  }
}
