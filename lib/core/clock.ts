// The clock every token rule reads: epoch seconds, injectable so tests move time instead of sleeping.

/** Returns the current time in whole epoch seconds. */
export type Clock = () => number;

/**
 * Returns the current time in epoch milliseconds, like `Date.now` — the shape of the `clock`
 * option of createAuthServer, createGuard and TokenManager.
 */
export type MillisecondClock = () => number;

/** The wall clock, in epoch milliseconds: the default `clock` option. */
export const epochMilliseconds: MillisecondClock = () => Date.now();

/** The wall clock, in whole epoch seconds. */
export const epochSeconds: Clock = () => Math.floor(Date.now() / 1000);

/**
 * The epoch-seconds Clock of a millisecond clock (whole seconds, rounded down); the wall clock
 * gives `epochSeconds` itself, so the default costs nothing more per call.
 *
 * @example
 * const now = secondsOf(options.clock ?? epochMilliseconds); // now() === Math.floor(clock() / 1000)
 */
export function secondsOf(clock: MillisecondClock): Clock {
  return clock === epochMilliseconds ? epochSeconds : () => Math.floor(clock() / 1000);
}
