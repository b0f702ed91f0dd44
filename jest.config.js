// Under Node 20 the AWS SDK prints a 9-line notice in every process that makes a client: its releases after January
// 2027 need Node 22. README.md (Development) says which Node versions are supported and why. Set before the workers
// start, so that neither the tests nor the commands they spawn print it, as with the npm scripts.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // test/e2e needs a deployed stack (`npm run test:e2e`); test/browser needs Chromium (`npm run test:browser`).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/', '<rootDir>/test/browser/'],
  transform: {
    // Type checking is `npm run build`; the test transform only strips types, which keeps the suite fast on 2 cores.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  // A bound on hangs, not a speed requirement: conditions are awaited with eventually(), up to 90 s each.
  testTimeout: 240000,
  maxWorkers: 2,
};
