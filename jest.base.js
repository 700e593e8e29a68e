// Settings shared by both test tiers: jest.config.js (`npm test`) and jest.system.config.js
// (`npm run test:system`). Each tier starts its own Redis (standalone + 3-master cluster).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],
  // Relative `.js` specifiers (which node16 resolution requires in dynamic import()) load the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // ts-jest compiles test files to CommonJS (import() becomes require) and type-checks them itself
  // (isolatedModules stays off); TS151002 only says that it does so with node10 resolution instead
  // of tsconfig's node16. `npm run typecheck` (tsc, node16) is the gate for resolution.
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }],
  },
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
