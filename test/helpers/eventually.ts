// Waiting for something real (a request reaching a server, Redis running queued commands) without a fixed sleep.

/**
 * Resolves as soon as `check()` is true, polling on every turn of the event loop; rejects after
 * `timeoutMs` of real time (only a broken feature waits that long).
 *
 * @example
 * await eventually(() => live.counts.introspect === 2);
 */
export async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`eventually: still false after ${timeoutMs} ms`);
    await new Promise((r) => setImmediate(r));
  }
}
