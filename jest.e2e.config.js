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
