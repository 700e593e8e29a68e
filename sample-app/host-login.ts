// The sample host application's own login: a form at /login checking the demo users' passwords, a session cookie, and sign-out — what `authorize.authenticate` reads.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Router } from 'express';

/** A user of the host application, with the password its login form checks. */
export interface HostUser {
  tenantId: string;
  username: string;
  password: string;
}

/** Who the host says is signed in: what `authorize.authenticate` returns. */
export interface SignedIn {
  tenantId: string;
  username: string;
}

export interface HostLogin {
  /** The user signed in for this request, or null: `authorize.authenticate`. */
  authenticate(req: Request): SignedIn | null;
  /**
   * GET/POST /login and POST /logout. After signing in the browser goes back to
   * `safeReturnTo(return_to)` (the authorization request that sent it here) or `/login`; after signing
   * out to `return_to` when its origin is one of `origins.pages` (the demo page), else `/login`.
   * Forms posted from other origins than these and the login's own are refused (403).
   */
  router(safeReturnTo: (value: unknown) => string | undefined): Router;
}

/** The session cookie; only this host app reads it. */
const COOKIE = 'sample_login';
/** A login lasts 8 hours, then the next sign-in goes through the form again. */
const SESSION_MS = 8 * 3600_000;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const digest = (s: string) => createHash('sha256').update(s).digest();

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function loginPage(returnTo: string, error?: string, user?: SignedIn | null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in — tokenward sample</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.4 system-ui,sans-serif;margin:2rem;max-width:28rem}label{display:block;margin:.5rem 0}input{width:100%}.error{color:#b00}</style>
</head><body>
<h1>Sign in to the sample</h1>
<p>This is the host application's own login page: the authorization server never sees the password.
Demo users: <code>alice</code> / <code>alice-password</code>, <code>bob</code> / <code>bob-password</code> (tenant acme).</p>
${user ? `<p data-signed-in>Signed in as <strong>${escapeHtml(user.username)}</strong> (tenant ${escapeHtml(user.tenantId)}); sign in again to switch.</p>` : ''}
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/login">
  <input type="hidden" name="return_to" value="${escapeHtml(returnTo)}">
  <label>username <input name="username" autocomplete="username" value="alice" required></label>
  <label>password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">sign in</button>
</form>
</body></html>\n`;
}

/** An in-memory session map behind an HttpOnly cookie: enough for a sample (one process). */
export function createHostLogin(
  users: readonly HostUser[],
  origins: { own: string; pages: ReadonlySet<string> },
): HostLogin {
  const sessions = new Map<string, { user: SignedIn; until: number }>();
  /**
   * Forms are accepted only from pages of these origins (the browser's Origin header): another
   * site must not sign the browser in to an account of its choosing (login CSRF), nor out.
   */
  const fromOrigin = (req: Request, allowed: (origin: string) => boolean) => {
    const origin = req.headers.origin;
    return typeof origin === 'string' && allowed(origin);
  };
  const current = (req: Request) => {
    const sid = cookie(req, COOKIE);
    const s = sid === undefined ? undefined : sessions.get(sid);
    if (sid !== undefined && s !== undefined && s.until <= Date.now()) sessions.delete(sid);
    return s !== undefined && s.until > Date.now() ? s.user : null;
  };
  /** The user whose password matches; every user is compared, so timing tells nothing. */
  const check = (username: unknown, password: unknown): HostUser | undefined => {
    if (typeof username !== 'string' || typeof password !== 'string') return undefined;
    let found: HostUser | undefined;
    for (const u of users) {
      const name = timingSafeEqual(digest(u.username), digest(username));
      const pass = timingSafeEqual(digest(u.password), digest(password));
      if (name && pass) found = u;
    }
    return found;
  };
  return {
    authenticate: current,
    router(safeReturnTo) {
      const router = express.Router();
      const form = express.urlencoded({ extended: false, limit: '4kb' });
      router.get('/login', (req, res) => {
        const returnTo = safeReturnTo(req.query.return_to) ?? '';
        res
          .set('Cache-Control', 'no-store')
          .type('html')
          .send(loginPage(returnTo, undefined, current(req)));
      });
      router.post('/login', form, (req, res) => {
        if (!fromOrigin(req, (o) => o === origins.own)) {
          res.status(403).type('text/plain').send('sign-in form from another site refused\n');
          return;
        }
        const returnTo = safeReturnTo(req.body?.return_to);
        const user = check(req.body?.username, req.body?.password);
        if (!user) {
          res
            .status(401)
            .set('Cache-Control', 'no-store')
            .type('html')
            .send(loginPage(returnTo ?? '', 'Wrong username or password.'));
          return;
        }
        const old = cookie(req, COOKIE);
        if (old !== undefined) sessions.delete(old);
        // A new session id at every sign-in (no session fixation).
        const sid = randomBytes(24).toString('base64url');
        sessions.set(sid, {
          user: { tenantId: user.tenantId, username: user.username },
          until: Date.now() + SESSION_MS,
        });
        res.cookie(COOKIE, sid, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: SESSION_MS });
        // Only ever back to this server's own authorization endpoint: never an open redirect.
        res.redirect(303, returnTo ?? '/login');
      });
      router.post('/logout', form, (req, res) => {
        if (!fromOrigin(req, (o) => o === origins.own || origins.pages.has(o))) {
          res.status(403).type('text/plain').send('sign-out form from another site refused\n');
          return;
        }
        const sid = cookie(req, COOKIE);
        if (sid !== undefined) sessions.delete(sid);
        res.clearCookie(COOKIE, { path: '/' });
        const back = typeof req.body?.return_to === 'string' ? req.body.return_to : '';
        const origin = URL.canParse(back) ? new URL(back).origin : '';
        res.redirect(303, origins.pages.has(origin) ? back : '/login');
      });
      return router;
    },
  };
}
