// The demo page's script: two apps (browser TokenManagers with DPoP) on one device, signing in through the sample's login page with a redirect and calling the print API.
import { LocalStorage, TokenManager } from '/demo/tokenward-client.mjs';

const HINT = 'Token-Expires-In';
const api = globalThis.location.origin;
/** Each app's sign-in comes back to its own callback path: the page knows which app it is for. */
const CALLBACK = '/demo/callback/';
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute('content');
const issuer = meta('tokenward-issuer') ?? '';

// One LocalStorage for both apps: each app's session lives under its own key, the device id
// under one key per issuer, so both TokenManagers present the same device id (one device session).
const storage = new LocalStorage();

const APPS = [
  { label: 'A', clientId: 'mobile-app' },
  { label: 'B', clientId: 'print-app' },
].map((a) => ({
  ...a,
  tm: undefined,
  panel: undefined,
  /** `tenant/username` signed in, or undefined (kept in sessionStorage: the page reloads at each sign-in). */
  user: undefined,
  /** Last known seconds left: `{ seconds, at, source }`. */
  hint: undefined,
  /** Set by "renew": the next API answer is reported to the TokenManager as due. */
  forceDue: false,
  /** Signed in as last seen (undefined until the first render: every button stays off). */
  signedIn: undefined,
  /** What the app is doing now ("signing in…"), or undefined: its buttons are off meanwhile. */
  busy: undefined,
}));

const time = () => new Date().toLocaleTimeString(undefined, { hour12: false });
const field = (app, name) => app.panel.querySelector(`[data-field="${name}"]`);
const setText = (app, name, text) => {
  field(app, name).textContent = text;
};

const button = (app, action) => app.panel.querySelector(`[data-action="${action}"]`);

/**
 * Turn each button on only when pressing it can work: nothing before the page is ready or while
 * the app's own request runs, only "sign in" while signed out.
 */
function updateControls(app) {
  const known = app.signedIn !== undefined;
  const why = !known ? 'the page is starting' : app.busy ? `wait: ${app.busy}` : undefined;
  const signIn = button(app, 'sign-in');
  signIn.disabled = why !== undefined;
  signIn.title = why ?? '';
  for (const action of ['call', 'renew', 'sign-out', 'copied-token']) {
    const b = button(app, action);
    b.disabled = why !== undefined || !app.signedIn;
    b.title = why ?? (app.signedIn ? '' : 'sign this app in first');
  }
  app.panel.setAttribute('aria-busy', String(app.busy !== undefined));
  setText(app, 'activity', app.busy ?? '');
}

/** Who the app is signed in as, remembered for this tab across the page loads sign-ins make. */
function setUser(app, user) {
  app.user = user;
  const key = `demo:user:${app.clientId}`;
  if (user === undefined) sessionStorage.removeItem(key);
  else sessionStorage.setItem(key, user);
}

function log(app, text) {
  const li = document.createElement('li');
  li.textContent = `${time()}  ${text}`;
  const list = field(app, 'log');
  list.prepend(li);
  while (list.children.length > 40) list.lastElementChild.remove();
}

/**
 * Seconds left on the device session, seen by `from`: both apps' tokens expire at the session's
 * idle deadline (in the sample their JWT `exp` is later), which every call, renewal or sign-in of either app
 * postpones — so the news goes to every app signed in as the same user on this device.
 */
function sawExpiry(from, seconds, source) {
  const at = Date.now();
  for (const app of APPS) {
    const same = app === from || (from.user !== undefined && app.user === from.user);
    if (!same) continue;
    const via = app === from ? source : `${from.clientId}: ${source} (same device session)`;
    app.hint = { seconds, at, source: `${via} at ${time()}` };
  }
}

/** The TokenManager's fetch: sees every answer of the API (retries included) to read the hint. */
function fetchFor(app) {
  return async (input, init) => {
    const res = await globalThis.fetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input), api);
    if (url.origin !== api) return res;
    const header = res.headers.get(HINT);
    if (header !== null && /^\d+$/.test(header))
      sawExpiry(app, Number(header), `${init?.method ?? 'GET'} ${url.pathname} → ${res.status}`);
    if (!app.forceDue) return res;
    // The TokenManager has no renew() of its own: a hint of 0 is how a resource server tells it
    // its token is due, so "renew" reports this one answer as 0 and the TokenManager renews.
    app.forceDue = false;
    const headers = new Headers(res.headers);
    headers.set(HINT, '0');
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };
}

function describeError(err) {
  return err?.code ? `${err.code}${err.message ? `: ${err.message}` : ''}` : String(err);
}

async function readJson(res) {
  try {
    return await res.json();
  } catch {
    return {};
  }
}

async function callApi(app) {
  try {
    const me = await app.tm.fetch(`${api}/me`);
    const body = await readJson(me);
    setText(app, 'me-status', String(me.status));
    if (me.ok && body.identity) {
      const { kind, id, tenantId } = body.identity;
      if (kind === 'user') setUser(app, `${tenantId}/${id}`);
      setText(
        app,
        'identity',
        `${kind} ${id} (tenant ${tenantId}), client ${body.clientId}, device ${body.deviceId ?? '—'}`,
      );
    } else setText(app, 'identity', `— (${body.error ?? me.status})`);
    log(app, `GET /me → ${me.status}, ${HINT}: ${me.headers.get(HINT) ?? '—'}`);
    const jobs = await app.tm.fetch(`${api}/print/jobs`);
    const list = await readJson(jobs);
    setText(
      app,
      'jobs-status',
      jobs.ok
        ? `${jobs.status} (${list.jobs?.length ?? 0} jobs)`
        : `${jobs.status} ${list.error ?? ''}`,
    );
    log(app, `GET /print/jobs → ${jobs.status}, ${HINT}: ${jobs.headers.get(HINT) ?? '—'}`);
  } catch (err) {
    setText(app, 'me-status', `call failed: ${describeError(err)}`);
    log(app, `call failed: ${describeError(err)}`);
  }
}

/** The type of the token the app sends now: `DPoP` (bound to the device key) or `Bearer`. */
const tokenType = (app) => app.tm.tokens()[0]?.tokenType ?? '—';

/** The status, and for a refusal the error code of the guard's challenge (or its body). */
async function outcome(res) {
  const body = await readJson(res);
  if (res.ok) return String(res.status);
  const challenge = res.headers.get('WWW-Authenticate') ?? '';
  const error = /error="([^"]+)"/.exec(challenge)?.[1] ?? body.error;
  return `${res.status}${error ? ` ${error}` : ''}`;
}

/**
 * Someone who copied the app's access token (from a log, a proxy, a memory dump) sends it with
 * plain fetch: as Bearer, and as DPoP without a proof, which they cannot sign without the key.
 * The app's own tm.fetch, with a proof of the device key, goes beside them.
 */
async function tryCopiedToken(app) {
  const url = `${api}/print/jobs`;
  try {
    const token = await app.tm.getAccessToken();
    const results = [];
    for (const [how, scheme] of [
      ['as Bearer', 'Bearer'],
      ['as DPoP without a proof', 'DPoP'],
    ]) {
      const res = await globalThis.fetch(url, { headers: { Authorization: `${scheme} ${token}` } });
      const said = await outcome(res);
      log(app, `copied token ${how}: GET /print/jobs → ${said}`);
      results.push(`${scheme} → ${said}`);
    }
    const own = await app.tm.fetch(url);
    await own.body?.cancel();
    log(
      app,
      `the app's own tm.fetch (token type ${tokenType(app)}, with a proof): GET /print/jobs → ${own.status}`,
    );
    setText(app, 'copied-status', `${results.join(', ')}; tm.fetch → ${own.status}`);
  } catch (err) {
    setText(app, 'copied-status', `failed: ${describeError(err)}`);
    log(app, `copied token: ${describeError(err)}`);
  }
}

async function renew(app) {
  const before = app.tm.tokens()[0]?.priority;
  try {
    app.forceDue = true;
    const res = await app.tm.fetch(`${api}/me`);
    await res.body?.cancel();
    await app.tm.getAccessToken(); // waits for the renewal the answer started
    log(app, `renew: priority ${before ?? '—'} → ${app.tm.tokens()[0]?.priority ?? '—'}`);
  } catch (err) {
    log(app, `renew failed: ${describeError(err)}`);
  } finally {
    app.forceDue = false;
  }
}

/** Off to the sample's login page (the authorization server's authorize endpoint sends the tab there). */
async function signIn(app) {
  try {
    await app.tm.signInWithRedirect();
  } catch (err) {
    log(app, `sign-in failed: ${describeError(err)}`);
  }
}

/**
 * Back from the login page at /demo/callback/<client>: the TokenManager checks the state and the
 * issuer and redeems the code; GET /me then says who signed in. The URL loses the code either way.
 */
async function finishSignIn() {
  const { pathname } = globalThis.location;
  if (!pathname.startsWith(CALLBACK)) return;
  const app = APPS.find((a) => a.clientId === pathname.slice(CALLBACK.length));
  try {
    if (!app) return;
    await app.tm.handleRedirectCallback();
    const me = await app.tm.fetch(`${api}/me`);
    const { identity } = await readJson(me);
    if (identity?.kind === 'user') setUser(app, `${identity.tenantId}/${identity.id}`);
    log(app, `signed in as ${identity?.id ?? '?'}: priority ${app.tm.tokens()[0]?.priority}`);
  } catch (err) {
    log(app, `sign-in failed: ${describeError(err)}`);
  } finally {
    globalThis.history.replaceState(null, '', '/demo');
  }
}

async function signOut(app) {
  const { revoked } = await app.tm.signOut();
  log(app, `sign out: ${revoked ? 'family revoked at the authorization server' : 'nothing held'}`);
}

function watch(app) {
  const { tm } = app;
  const seconds = (expiresAt) => Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
  tm.on('signed-in', ({ expiresAt }) => {
    setUser(app, undefined); // until GET /me says who
    sawSignIn(app, true);
    sawExpiry(app, seconds(expiresAt), 'sign-in (expires_in)');
  });
  tm.on('renewed', ({ expiresAt, adopted }) => {
    sawExpiry(app, seconds(expiresAt), 'renewal (expires_in)');
    log(app, `renewed${adopted ? ' (by another tab)' : ''}: priority ${tm.tokens()[0]?.priority}`);
  });
  tm.on('renewal-failed', ({ error, signedOut }) => {
    log(app, `renewal failed: ${describeError(error)}${signedOut ? ' — signed out' : ''}`);
  });
  tm.on('signed-out', ({ reason }) => {
    setUser(app, undefined);
    app.hint = undefined;
    sawSignIn(app, false);
    log(app, `signed out (${reason})`);
  });
}

function render(app, signedIn) {
  app.signedIn = signedIn;
  updateControls(app);
  const state = field(app, 'state');
  state.textContent = signedIn
    ? `signed in${app.user ? ` as ${app.user.split('/')[1]}` : ''}`
    : 'signed out';
  state.classList.toggle('signed-out', !signedIn);
  const countdown = field(app, 'countdown');
  if (app.hint && signedIn) {
    const elapsed = Math.floor((Date.now() - app.hint.at) / 1000);
    const left = Math.max(0, app.hint.seconds - elapsed);
    countdown.textContent = String(left);
    countdown.classList.toggle('low', left <= 1);
    setText(app, 'countdown-source', `from ${app.hint.source}`);
  } else {
    countdown.textContent = '—';
    countdown.classList.remove('low');
    setText(app, 'countdown-source', '');
  }
  const rows = app.tm.tokens().map((t, i) => {
    const tr = document.createElement('tr');
    const left = Math.max(0, Math.ceil((t.expiresAt - Date.now()) / 1000));
    for (const text of [
      `${t.priority}${i === 0 ? ' (sent)' : ''}`,
      t.fingerprint,
      t.scope ?? '—',
      `${left} s`,
    ]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  field(app, 'tokens').replaceChildren(...rows);
  setText(app, 'token-type', tokenType(app));
}

/**
 * Every renderAll and every sign-in or sign-out event takes the next number: a renderAll whose
 * reads started before a later one was drawn, or before such an event, would draw stale state.
 */
let generation = 0;
let drawn = 0;
let lastEvent = 0;

/** A TokenManager said it signed in or out: draw that at once, so no button waits for a redraw. */
function sawSignIn(app, signedIn) {
  lastEvent = ++generation;
  render(app, signedIn);
}

async function renderAll() {
  const mine = ++generation;
  const signedIn = await Promise.all(APPS.map((app) => app.tm.isSignedIn()));
  if (mine < drawn || mine < lastEvent) return;
  drawn = mine;
  APPS.forEach((app, i) => {
    render(app, signedIn[i]);
  });
}

async function main() {
  for (const el of document.querySelectorAll('[data-field="issuer"]')) el.textContent = issuer;
  for (const el of document.querySelectorAll('[data-field="idle-ttl"]'))
    el.textContent = meta('tokenward-device-idle-ttl') || '?';
  const template = document.getElementById('app-panel');
  const container = document.getElementById('apps');
  for (const app of APPS) {
    app.panel = template.content.firstElementChild.cloneNode(true);
    app.panel.dataset.app = app.clientId;
    for (const el of app.panel.querySelectorAll('[data-field="label"]')) el.textContent = app.label;
    for (const el of app.panel.querySelectorAll('[data-field="client-id"]'))
      el.textContent = app.clientId;
    container.append(app.panel);
    app.user = sessionStorage.getItem(`demo:user:${app.clientId}`) ?? undefined;
    app.tm = new TokenManager({
      issuer,
      clientId: app.clientId,
      storage,
      fetch: fetchFor(app),
      // Registered for this client by the sample (seed.ts), for this page's origin.
      redirectUri: `${api}${CALLBACK}${app.clientId}`,
      // Tokens bound to the device key in IndexedDB, one per issuer for both apps (RFC 9449).
      dpop: true,
    });
    watch(app);
    // One action at a time per app, its buttons off meanwhile; `data-actions` counts finished
    // ones (the test waits on it), counted once the buttons show the state the action left.
    const action = (fn, doing) => async (event) => {
      event.preventDefault();
      if (app.busy !== undefined) return;
      app.busy = doing;
      app.panel.dataset.busy = 'true';
      updateControls(app);
      try {
        await fn(app);
      } finally {
        // Every panel: an app's activity moves the other app's countdown too.
        await renderAll().catch(() => undefined);
        app.busy = undefined;
        app.panel.dataset.busy = 'false';
        updateControls(app);
        app.panel.dataset.actions = String(Number(app.panel.dataset.actions ?? 0) + 1);
      }
    };
    button(app, 'sign-in').addEventListener('click', action(signIn, 'signing in…'));
    button(app, 'call').addEventListener('click', action(callApi, 'calling the API…'));
    button(app, 'renew').addEventListener('click', action(renew, 'renewing…'));
    button(app, 'sign-out').addEventListener('click', action(signOut, 'signing out…'));
    button(app, 'copied-token').addEventListener(
      'click',
      action(tryCopiedToken, 'trying a copied token…'),
    );
  }
  // Signing in as someone else: end the session of the sample's login page, then come back here.
  const hostLogout = document.querySelector('[data-field="host-logout"]');
  hostLogout.action = `${issuer}/logout`;
  hostLogout.elements.return_to.value = `${api}/demo`;
  await finishSignIn();
  const ids = await Promise.all(APPS.map((a) => a.tm.deviceId()));
  document.querySelector('[data-field="device-id"]').textContent = [...new Set(ids)].join(' / ');
  const thumbprints = await Promise.all(APPS.map((a) => a.tm.dpopThumbprint()));
  APPS.forEach((app, i) => {
    setText(app, 'thumbprint', thumbprints[i] ?? '—');
  });
  await renderAll();
  hostLogout.querySelector('button').disabled = false;
  setInterval(() => {
    renderAll().catch(() => undefined);
  }, 250);
  document.body.dataset.ready = 'true';
}

main().catch((err) => {
  document.body.prepend(`The demo page failed to start: ${describeError(err)}`);
});
