import { emulatorEnvironment } from '../../localstack/emulator-environment';

describe('the environment that points the CLIs and the SDK at an emulator', () => {
  it('defaults to localhost:4566 with test credentials, and points S3 at the same endpoint', () => {
    expect(emulatorEnvironment({})).toMatchObject({
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_ENDPOINT_URL_S3: 'http://localhost:4566',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
      CDK_DEFAULT_ACCOUNT: '000000000000',
      CDK_DEFAULT_REGION: 'us-east-1',
    });
  });

  it('keeps whatever the caller set, so the same command deploys to an emulator on another port', () => {
    const environment = emulatorEnvironment({
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4599',
      AWS_DEFAULT_REGION: 'eu-west-1',
    });
    expect(environment).toMatchObject({
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4599',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4599',
      AWS_REGION: 'eu-west-1',
      CDK_DEFAULT_REGION: 'eu-west-1',
    });
  });
});
