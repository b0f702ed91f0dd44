import { findDeployedStack } from './deployed-stack';
import { WEB_REQUESTS_STACK_NAME } from './web-requests-stack';

/**
 * Finds the deployed stack once, before Jest names the tests, so that a check with a known gap on this target is
 * named as skipped, with its reason, rather than passing without checking anything. The web-requests example's
 * stack is optional: its checks are skipped, saying how to deploy it, when it is not there.
 */
export default async function globalSetup(): Promise<void> {
  const stack = await findDeployedStack();
  console.log(`\nend-to-end against ${stack.stackName} on ${stack.target} (${stack.apiBase})`);
  process.env.E2E_DEPLOYED_STACK = JSON.stringify(stack);
  const webRequests = await findDeployedStack({ ...process.env, STACK_NAME: WEB_REQUESTS_STACK_NAME }).catch(
    (error: unknown) => {
      console.log(`no web-requests stack: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    },
  );
  if (webRequests !== undefined) {
    console.log(`and the web-requests example against ${webRequests.stackName} (${webRequests.apiBase})`);
    process.env.E2E_WEB_REQUESTS_STACK = JSON.stringify(webRequests);
  }
}
