// The `cors` option of createAuthServer: which browser origins may call the token, revocation and
// introspection endpoints (preflight included). Default off.
import type { KeysEnum } from '../core/known-keys';
import { ConfigError } from '../errors';
import { rejectUnknownKeys } from './parse';

export interface CorsOptions {
  /**
   * Origins allowed to call the endpoints from a browser, exactly as the browser sends them in
   * `Origin`: scheme, host and port only, e.g. `https://app.example.com` or `http://localhost:5173`.
   */
  origins: string[];
  /** Seconds a browser may cache a preflight answer (default 600). */
  maxAge?: number;
}

const KNOWN: KeysEnum<CorsOptions> = { origins: true, maxAge: true };

/** Validate the `cors` option; undefined when it is off. */
export function parseCorsOptions(
  f: string,
  cors: CorsOptions | false | undefined,
): Required<CorsOptions> | undefined {
  if (cors === undefined || cors === false) return undefined;
  if (typeof cors !== 'object' || cors === null)
    throw new ConfigError(`${f}: "cors" must be { origins: [...] } or false`);
  rejectUnknownKeys(`${f} cors`, cors, KNOWN);
  if (!Array.isArray(cors.origins) || cors.origins.length === 0)
    throw new ConfigError(
      `${f}: "cors.origins" must be a non-empty array of origins, e.g. ['https://app.example.com']`,
    );
  for (const origin of cors.origins) {
    if (origin === '*')
      throw new ConfigError(
        `${f}: "cors.origins" lists each origin allowed; "*" is refused (name the browser apps' origins)`,
      );
    let parsed: URL | undefined;
    try {
      parsed = typeof origin === 'string' ? new URL(origin) : undefined;
    } catch {}
    if (!parsed || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol))
      throw new ConfigError(
        `${f}: "cors.origins" entry ${JSON.stringify(origin)} is not an origin: give scheme, host and port only, no path or trailing slash${parsed && parsed.origin !== 'null' ? ` (did you mean "${parsed.origin}"?)` : ''}`,
      );
  }
  const maxAge = cors.maxAge ?? 600;
  if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > 86400)
    throw new ConfigError(`${f}: "cors.maxAge" must be whole seconds between 0 and 86400`);
  return { origins: [...new Set(cors.origins)], maxAge };
}
