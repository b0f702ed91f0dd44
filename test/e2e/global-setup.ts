import { findDeployedStack } from './deployed-stack';

/**
 * Finds the deployed stack once, before Jest names the tests, so that a check with a known gap on this target is
 * named as skipped, with its reason, rather than passing without checking anything.
 */
export default async function globalSetup(): Promise<void> {
  const stack = await findDeployedStack();
  console.log(`\nend-to-end against ${stack.stackName} on ${stack.target} (${stack.apiBase})`);
  process.env.E2E_DEPLOYED_STACK = JSON.stringify(stack);
}
