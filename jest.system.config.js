// System tier (`npm run test:system`): failover (outage under load, Sentinel, cluster failover,
// replica durability), several processes, Chromium, the packed tarball, the README and the demo.
/** @type {import('jest').Config} */
module.exports = {
  ...require('./jest.base'),
  roots: ['<rootDir>/test/system'],
};
