// Syntax of the identifiers and names tokenward accepts, declared once for the server, guards, CLI and client.

/** Tenant ids: 1–64 of `[A-Za-z0-9._-]` (they appear inside Redis hash tags). */
export const TENANT_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Client ids and device ids: 1–128 of `[A-Za-z0-9._:-]`. */
export const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Device ids sent at sign-in: the same syntax as client ids. */
export const DEVICE_ID = CLIENT_ID;

/** Role names: 1–64 of `[A-Za-z0-9._:-]`. */
export const ROLE = /^[A-Za-z0-9._:-]{1,64}$/;

/** One scope token (RFC 6749 §3.3: `%x21 / %x23-5B / %x5D-7E`), at most 128 characters. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

/** Characters a quoted-string may carry in a header (RFC 6750 §3, RFC 6749 §5.2 error_description). */
export const NOT_QUOTED_STRING_SAFE = /[^\x20\x21\x23-\x5B\x5D-\x7E]/g;

/** Hosts where plain http is allowed for an issuer or endpoint URL (RFC 8252 §8.3 loopback). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

/** Split a space-delimited scope string into its distinct tokens. */
export function splitScope(scope: string | undefined): string[] {
  return scope ? [...new Set(scope.split(' ').filter(Boolean))] : [];
}
