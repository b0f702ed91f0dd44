import type { RetryPolicy } from '../../functions/adapters/retry-policy';

/**
 * The stores' retry policy for tests that run the emulators in the test's own process: an attempt is abandoned only
 * after minutes, not the 5 s a deployed store allows, so a starved event loop on a loaded machine (the emulator
 * cannot answer while DuckDB or the test computes) slows the test down instead of failing it. No backoff sleeps.
 */
export const UNHURRIED_RETRIES: Partial<RetryPolicy> = {
  attemptTimeoutMs: 300_000,
  sleep: async () => undefined,
};
