// Option helpers shared by the factories: unknown-key rejection with a "did you mean" hint, number checks.
import { epochMilliseconds, type MillisecondClock } from '../core/clock';
import { isLoopbackHost } from '../core/ids';
import { ConfigError } from '../errors';

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0] ?? 0;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j] ?? 0;
      d[j] = Math.min((d[j] ?? 0) + 1, (d[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length] ?? 0;
}

/** Throw a ConfigError naming the first unknown key of `options`, with the closest known key. */
export function rejectUnknownKeys(factory: string, options: object, known: object): void {
  const names = Object.keys(known);
  for (const key of Object.keys(options)) {
    if (names.includes(key)) continue;
    const best = names
      .map((n) => ({ n, d: distance(key.toLowerCase(), n.toLowerCase()) }))
      .sort((x, y) => x.d - y.d)[0];
    const hint = best && best.d <= 3 ? ` (did you mean "${best.n}"?)` : '';
    throw new ConfigError(`${factory}: unknown option "${key}"${hint}`);
  }
}

/** Drop keys whose value is undefined, so spreading over defaults keeps the defaults. */
export function omitUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

/** A whole number of seconds within [min, max], or a ConfigError. */
export function seconds(
  factory: string,
  name: string,
  value: unknown,
  min: number,
  max = 10 * 365 * 86400,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${factory}: "${name}" must be a whole number from ${min} to ${max} (seconds)`,
    );
  }
  return value;
}

/** An issuer identifier (RFC 8414 §2): https (http for localhost), no query or fragment. */
export function parseIssuer(factory: string, issuer: unknown): { issuer: string; path: string } {
  if (typeof issuer !== 'string') throw new ConfigError(`${factory}: "issuer" (a URL) is required`);
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError(`${factory}: "issuer" is not a URL: ${issuer}`);
  }
  const local = isLoopbackHost(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new ConfigError(
      `${factory}: "issuer" must use https (http is allowed only for localhost)`,
    );
  }
  if (url.search || url.hash || issuer.includes('?') || issuer.includes('#')) {
    throw new ConfigError(`${factory}: "issuer" must not have a query or fragment (RFC 8414 §2)`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  return { issuer: `${url.origin}${path}`, path };
}

/**
 * The `clock` option: a function returning epoch milliseconds, or the wall clock when absent. It is
 * read once here: a clock in seconds (before 1973 read as milliseconds) is a mistake caught now.
 */
export function clockOption(factory: string, clock: unknown): MillisecondClock {
  if (clock === undefined) return epochMilliseconds;
  const sample: unknown = typeof clock === 'function' ? clock() : undefined;
  if (typeof sample !== 'number' || !Number.isFinite(sample) || sample < 1e11)
    throw new ConfigError(
      `${factory}: "clock" must be a function returning epoch milliseconds, like Date.now (not seconds)`,
    );
  return clock as MillisecondClock;
}
