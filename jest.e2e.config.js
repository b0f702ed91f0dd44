// Under Node 20 the AWS SDK prints a 9-line notice in every process that makes a client: its releases after January
// 2027 need Node 22. README.md (Development) says which Node versions are supported and why. Set before the workers
// start, so that neither the tests nor the commands they spawn print it, as with the npm scripts.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** @type {import('jest').Config} `npm run test:e2e`: the deployed stack, end to end (see localstack/README.md). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/e2e'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  globalSetup: '<rootDir>/test/e2e/global-setup.ts',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  verbose: true,
  // One stack, one run at a time: the checks build on each other's events.
  maxWorkers: 1,
  testTimeout: 120000,
};
