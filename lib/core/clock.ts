// The clock every token rule reads: epoch seconds, injectable so tests move time instead of sleeping.

/** Returns the current time in whole epoch seconds. */
export type Clock = () => number;

/** The wall clock, in whole epoch seconds. */
export const epochSeconds: Clock = () => Math.floor(Date.now() / 1000);
