// The logger contract shared by the authorization server and guards, its console default and a throttle.

/** pino-compatible: the structured fields first, then the message. Never handed tokens or secrets. */
export interface Logger {
  /** Internal errors (500s) and failures talking to the store or authorization server. */
  error(fields: Record<string, unknown>, message: string): void;
  /** Security-relevant conditions: refresh-token reuse, the store unavailable (at most every 5 s). */
  warn?(fields: Record<string, unknown>, message: string): void;
  /** Detail for the operator while setting up: why each token was refused. */
  debug?(fields: Record<string, unknown>, message: string): void;
}

/** The console logger prints debug lines when `DEBUG` names tokenward (`DEBUG=tokenward`). */
const debugOn = () => /(^|[\s,])(tokenward|\*)([\s,:]|$)/.test(process.env.DEBUG ?? '');

/** The default logger: `console.error` / `console.warn` (and `console.debug` with `DEBUG=tokenward`), prefixed `[tokenward]`. */
export const consoleLogger: Logger = Object.freeze({
  error: (fields: Record<string, unknown>, message: string) =>
    console.error(`[tokenward] ${message}`, fields),
  warn: (fields: Record<string, unknown>, message: string) =>
    console.warn(`[tokenward] ${message}`, fields),
  debug: (fields: Record<string, unknown>, message: string) => {
    if (debugOn()) console.debug(`[tokenward] ${message}`, fields);
  },
});

/** A gate that opens at most once per `intervalMs`: an outage must not flood the log. */
export function throttle(intervalMs = 5000): () => boolean {
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const now = Date.now();
    if (now - last < intervalMs) return false;
    last = now;
    return true;
  };
}
