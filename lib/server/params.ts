// Form parameters of the token, revocation and introspection endpoints (RFC 6749 §3.1, §3.2), and their JSON answers.
import type { Request, Response } from 'express';
import { invalidRequest, OAuthError } from '../errors';

export type Params = Readonly<Record<string, string>>;

/**
 * The request's form parameters. Refused with invalid_request: a body that is not
 * application/x-www-form-urlencoded, any parameter given twice (RFC 6749 §3.1), and
 * parameters in the query string (RFC 6749 §2.3.1 keeps credentials out of URIs).
 * Empty values count as omitted (RFC 6749 §3.1).
 */
export function readParams(req: Request): Params {
  // The raw query string, not req.query, which parses it again at every read.
  if (inQuery(req.url)) throw invalidRequest('parameters must be sent in the request body');
  const hasBody =
    req.headers['content-length'] !== '0' &&
    (req.headers['content-length'] || req.headers['transfer-encoding']);
  if (
    hasBody &&
    req.headers['content-type'] !== FORM &&
    !req.is('application/x-www-form-urlencoded')
  ) {
    throw invalidRequest('request body must be application/x-www-form-urlencoded');
  }
  const body: unknown = req.body ?? {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    // RFC 8707 §2 allows several resources; tokenward issues a token for one audience at a time.
    if (key === 'resource' && Array.isArray(value))
      throw new OAuthError('invalid_target', 'one resource per request');
    if (typeof value !== 'string') {
      // Echo only plain names: error_description allows a narrow character set (RFC 6749 §5.2).
      throw invalidRequest(
        /^[A-Za-z0-9_]{1,64}$/.test(key)
          ? `parameter ${key} is repeated`
          : 'a parameter is repeated',
      );
    }
    if (value !== '') out[key] = value;
  }
  return out;
}

const FORM = 'application/x-www-form-urlencoded';

/** Whether a request URL carries anything in its query string (a bare `?` or `&`s carry nothing). */
function inQuery(url: string): boolean {
  const q = url.indexOf('?');
  if (q < 0) return false;
  for (let i = q + 1; i < url.length; i++) if (url[i] !== '&') return true;
  return false;
}

/**
 * Answer `body` as JSON (200 unless set before). Written directly: Express's `res.json()` also
 * computes an ETag and re-checks the content type, work a token or introspection answer (no-store)
 * does not need.
 */
export function sendJson(res: Response, body: unknown): void {
  const json = JSON.stringify(body);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

/** A required parameter, at most `max` characters. */
export function required(params: Params, name: string, max = 4096): string {
  const value = params[name];
  if (value === undefined) throw invalidRequest(`missing parameter ${name}`);
  if (value.length > max) throw invalidRequest(`parameter ${name} is too long`);
  return value;
}

/** An optional parameter, at most `max` characters. */
export function optional(params: Params, name: string, max = 4096): string | undefined {
  const value = params[name];
  if (value !== undefined && value.length > max)
    throw invalidRequest(`parameter ${name} is too long`);
  return value;
}
