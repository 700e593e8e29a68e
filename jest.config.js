// Fast tier (`npm test`): unit, conformance, compliance, integration, cli, client (no browser), interop.
// The slow tier in test/system/ runs with jest.system.config.js (`npm run test:system`).
/** @type {import('jest').Config} */
module.exports = {
  ...require('./jest.base'),
  roots: ['<rootDir>/test'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/system/'],
};
