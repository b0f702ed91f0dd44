/** `npm run test:browser`: the dashboard in headless Chromium (Debian's package, driven by playwright-core). */
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = { ...base, testMatch: ['**/test/browser/**/*.test.ts'], testPathIgnorePatterns: ['/node_modules/'] };
