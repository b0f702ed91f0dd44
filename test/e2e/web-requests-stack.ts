/**
 * The stack the web-requests example (examples/web-requests.json) is deployed as, beside the default one:
 * `npm run deploy:local -- --config examples/web-requests.json --stack-name LambdaArchitecture-web-requests`.
 * A stack of its own, because a stack has one schema, and the default stack's suite needs the IoT one.
 */
export const WEB_REQUESTS_STACK_NAME = process.env.WEB_REQUESTS_STACK_NAME ?? 'LambdaArchitecture-web-requests';

export const WEB_REQUESTS_DEPLOY = `npm run deploy:local -- --config examples/web-requests.json --stack-name ${WEB_REQUESTS_STACK_NAME}`;
