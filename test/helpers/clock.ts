// A clock the test moves instead of sleeping: the `clock` option (ms) of createAuthServer,
// createGuard and TokenManager, and MemoryStore's `now` (s), all read the same time.

export interface TestClock {
  /** Epoch milliseconds, like Date.now: pass as the `clock` option. */
  (): number;
  /** Epoch seconds: pass as MemoryStore's `now` option. */
  seconds(): number;
  /** Move time forward by `ms` milliseconds. */
  advance(ms: number): void;
}

/**
 * A clock standing still at `start` (default: now) until the test advances it.
 *
 * @example
 * const clock = testClock();
 * const auth = createAuthServer({ issuer, store: new MemoryStore({ now: clock.seconds }), clock });
 * clock.advance(61_000); // a minute later, at once
 */
export function testClock(start = Date.now()): TestClock {
  let t = start;
  const clock = (() => t) as TestClock;
  clock.seconds = () => Math.floor(t / 1000);
  clock.advance = (ms: number) => {
    if (!(ms >= 0)) throw new Error(`testClock: cannot move time back (${ms} ms)`);
    t += ms;
  };
  return clock;
}
