// The page an authorization request's error is shown on while its client or redirect URI is not
// known good (RFC 6749 §4.1.2.1): never a redirect, so the endpoint cannot be an open redirector.
import type { Request, Response } from 'express';

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

/** A 400 with the error as HTML for browsers (JSON for callers asking for it); nothing runs on it. */
export function sendErrorPage(
  req: Request,
  res: Response,
  error: string,
  description: string,
): void {
  res.status(400);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  if (req.accepts(['html', 'json']) === 'json') {
    res.json({ error, error_description: description });
    return;
  }
  res
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head>` +
        `<body><h1>This sign-in request cannot be completed</h1>` +
        `<p>${escapeHtml(description)} (<code>${escapeHtml(error)}</code>).</p>` +
        '<p>Go back to the application and try again; if it keeps happening, tell its developers.</p>' +
        '</body></html>',
    );
}
