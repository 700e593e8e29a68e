// Redirect URIs (RFC 6749 §3.1.2, RFC 8252, RFC 9700 §2.1): which may be registered, and the exact
// match an authorization request's redirect_uri must make with one of them.

const LOOPBACK_IP = new Set(['127.0.0.1', '[::1]']);
const LOCAL_HOSTS = new Set(['localhost', ...LOOPBACK_IP]);
/** Schemes a browser runs or reads locally: never a place to send a code. */
const FORBIDDEN_SCHEMES = /^(javascript|data|vbscript|file|blob|about|filesystem|ws|wss|ftp):$/i;

/**
 * Why `uri` cannot be registered as a redirect URI, or undefined when it can: an https URL, http
 * only for this machine (RFC 8252 §7.3 loopback), or a native app's private-use scheme in
 * reverse-domain form (`com.example.app:/callback`, RFC 8252 §7.1); absolute, canonical, without a
 * fragment (RFC 6749 §3.1.2), credentials or whitespace.
 */
export function redirectUriProblem(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || uri.length === 0 || uri.length > 2048)
    return 'must be a URL of at most 2048 characters';
  if (/[\s\p{Cc}\p{Cf}#\\]/u.test(uri)) return 'must have no fragment, whitespace or backslash';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not carry credentials';
  if (FORBIDDEN_SCHEMES.test(url.protocol)) return `must not use the ${url.protocol} scheme`;
  if (url.protocol === 'https:' || url.protocol === 'http:') {
    if (url.href !== uri) return `must be written canonically (${url.href})`;
    if (url.protocol === 'http:' && !LOCAL_HOSTS.has(url.hostname))
      return 'http is only for this machine (localhost, 127.0.0.1, [::1]); use https';
    return undefined;
  }
  // RFC 8252 §7.1: a private-use scheme is a reverse domain name the app controls.
  if (!/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/i.test(url.protocol))
    return 'a private-use scheme must be a reverse domain name, e.g. com.example.app:/callback';
  return undefined;
}

/**
 * Whether `given` matches a registered URI: exactly, character for character (RFC 9700 §2.1), except
 * that a loopback IP literal's port may differ (RFC 8252 §7.3: native apps take any free port).
 */
export function matchesRedirectUri(registered: readonly string[], given: string): boolean {
  if (registered.includes(given)) return true;
  if (!given.startsWith('http://')) return false;
  let g: URL;
  try {
    g = new URL(given);
  } catch {
    return false;
  }
  if (!LOOPBACK_IP.has(g.hostname) || g.href !== given) return false;
  return registered.some((r) => {
    const u = new URL(r);
    return (
      u.protocol === 'http:' &&
      u.hostname === g.hostname &&
      u.pathname === g.pathname &&
      u.search === g.search
    );
  });
}
