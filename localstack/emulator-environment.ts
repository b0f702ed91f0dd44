/**
 * The environment that points the AWS CLI, the CDK CLI and the SDK at an emulator (LocalStack or MiniStack).
 * `AWS_ENDPOINT_URL_S3` is set too: without it the CDK resolves S3 to `localhost.localstack.cloud`, which needs DNS
 * that an offline machine does not have. Whatever the caller already set wins.
 */
export const DEFAULT_ENDPOINT = 'http://localhost:4566';

/** The account both emulators use when credentials are the test ones. */
export const EMULATOR_ACCOUNT = '000000000000';

export function emulatorEnvironment(environment: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const endpoint = environment.AWS_ENDPOINT_URL ?? DEFAULT_ENDPOINT;
  const region = environment.AWS_REGION ?? environment.AWS_DEFAULT_REGION ?? 'us-east-1';
  return {
    ...environment,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: environment.AWS_ENDPOINT_URL_S3 ?? endpoint,
    AWS_ACCESS_KEY_ID: environment.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: environment.AWS_SECRET_ACCESS_KEY ?? 'test',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    CDK_DEFAULT_ACCOUNT: environment.CDK_DEFAULT_ACCOUNT ?? EMULATOR_ACCOUNT,
    CDK_DEFAULT_REGION: environment.CDK_DEFAULT_REGION ?? region,
  };
}
