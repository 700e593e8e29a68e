// Scrubs token-shaped strings from text bound for logs: error messages may echo what a store or driver was given.
const JWT = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
// `<grant id>.<gen>~<65>` (refresh-token.ts), or `<grant id>.<43>` from before generations.
const REFRESH =
  /[A-Za-z0-9_-]{22}(?:[~.][A-Za-z0-9_-]{22})?\.(?:[0-9]{1,9}~[A-Za-z0-9_-]{65}|[A-Za-z0-9_-]{43})/g;

/** `text` with anything shaped like an access or refresh token replaced by `[redacted]`. */
export function redactTokens(text: string | undefined): string | undefined {
  return text?.replace(REFRESH, '[redacted]').replace(JWT, '[redacted]');
}
