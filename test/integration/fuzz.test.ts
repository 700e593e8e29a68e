// Bad input is answered, never crashed on: property-based hostile input (fast-check) at the token, revocation and introspection endpoints and a local-mode guard, plus the JWT attack set the other guard suites do not cover.
import { createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { type AuthServer, createGuard } from '../../lib';
import {
  ALICE,
  APP,
  BOB,
  buildApp,
  INTROSPECT,
  ISSUER,
  REVOKE,
  RS,
  SVC,
  SVC_RT,
  seed,
  signIn,
  TOKEN,
  WEB,
} from '../helpers/app';
import { seedScopes } from '../helpers/guard';
import { storedSigningKey } from '../helpers/key-secret';
import { makeStore, type TestStore } from '../helpers/stores';

/** Fixed seed: a failure names its counterexample and replays exactly. */
const SEED = 20_260_006;
/** Generated requests per endpoint and per store kind (they appear in the test names). */
const RUNS = { token: 300, revocation: 200, introspection: 200, guard: 300 } as const;

const TOKEN_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
];
const REVOKE_ERRORS = ['invalid_request', 'invalid_client', 'unauthorized_client'];
const INTROSPECT_ERRORS = ['invalid_request', 'invalid_client', 'unauthorized_client'];
const GUARD_ERRORS = ['invalid_request', 'invalid_token', 'insufficient_scope'];

/** Texts that would mean a library error or a stack trace reached the client. */
const LEAKS = [
  /\n\s+at /,
  /node_modules/,
  /\.[jt]s:\d+/,
  /Error:/,
  /\bstack\b/,
  /jwt (malformed|expired|must be|signature|audience|issuer|not active)/i,
  /invalid (signature|algorithm|token specified)/i,
  /Unexpected token|in JSON at position/,
];

const b64 = (v: unknown) =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

// ---------------------------------------------------------------------------------------------
// Raw HTTP: exact bytes and headers, no client library deciding content types for us.

interface RawRequest {
  method: 'GET' | 'POST';
  path: string;
  /** Header name → value(s); an array sends the header once per value. */
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** Send Content-Length (else chunked). */
  length: boolean;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(port: number, r: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: r.method,
      path: r.path,
      agent: false,
    });
    for (const [name, value] of Object.entries(r.headers)) req.setHeader(name, value);
    if (r.length) req.setHeader('Content-Length', r.body.length);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    // An error after the answer arrived (a 413 closing early) is moot: the promise is settled.
    req.on('error', reject);
    req.end(r.body);
  });
}

function listen(app: Express): Promise<{ server: Server; port: number }> {
  const server = createServer(app);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port }),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Generators.

/** Percent-encode the UTF-8 bytes of `s` (lone surrogates become U+FFFD, never a URIError). */
const pct = (s: string) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');

/** A header value Node's client accepts (tab, 0x20-0x7E, 0x80-0xFF) carrying arbitrary bytes. */
const asHeader = (s: string) =>
  Buffer.from(s, 'utf8')
    .toString('latin1')
    .replace(/[^\t\x20-\x7e\x80-\xff]/g, '');

const headerText = (maxLength = 64) =>
  fc.string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((c) => c !== 0x7f)
      .map((c) => String.fromCharCode(c)),
    maxLength,
  });

const controlChars = fc.string({
  unit: fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 16,
});

const huge = fc
  .tuple(
    fc.constantFrom('a', '%', 'é', '\u0000', 'A.', '🔑', '+'),
    fc.integer({ min: 1000, max: 20_000 }),
  )
  .map(([c, n]) => c.repeat(Math.ceil(n / c.length)).slice(0, n));

const percentGarbage = fc.constantFrom(
  '%',
  '%%',
  '%zz',
  '%0',
  '%E0%A4%A',
  '%C0%AE',
  '%00',
  '%FF%FE',
  '%u0041',
  '+',
  '%2B%2',
  '&&==&',
  '%25%32%35',
);

const KNOWN_NAMES = [
  'grant_type',
  'client_id',
  'client_secret',
  'username',
  'password',
  'scope',
  'refresh_token',
  'device_id',
  'local_user',
  'token',
  'token_type_hint',
  'access_token',
  'code',
  'redirect_uri',
];
const PROTO_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'a[b]',
  'a[]',
];
const KNOWN_VALUES = [
  'password',
  'client_credentials',
  'refresh_token',
  'authorization_code',
  'access_token',
  APP.id,
  SVC.id,
  SVC_RT.id,
  RS.id,
  WEB.id,
  ALICE.username,
  BOB.username,
  'print',
  'scan',
  'print scan',
  'printer-7',
];
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64urlChars = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: min, maxLength: max });

/** What the generators may borrow from the live state without ever producing a valid credential. */
interface Known {
  /** The seeded session's grant id (refresh tokens are `<grant id>.<secret>`). */
  gid: string;
  /** The signing key's kid. */
  kid: string;
}

/** A token-shaped string: refresh-token shaped (often with a real grant id), JWT-shaped, or junk. */
const tokenish = (k: Known) =>
  fc.oneof(
    b64urlChars(43, 43).map((s) => `${k.gid}.${s}`),
    fc.tuple(b64urlChars(22, 22), b64urlChars(43, 43)).map(([g, s]) => `${g}.${s}`),
    fc
      .tuple(
        fc.record({
          alg: fc.constantFrom('ES256', 'none', 'HS256', 'RS256', 'ES384'),
          typ: fc.constantFrom('at+jwt', 'JWT', 'application/at+jwt'),
          kid: fc.oneof(fc.constant(k.kid), fc.string({ maxLength: 20 })),
        }),
        fc.jsonValue({ maxDepth: 3 }),
        b64urlChars(0, 90),
      )
      .map(([h, p, s]) => `${b64(h)}.${b64(p ?? null)}.${s}`),
    b64urlChars(1, 200),
  );

const value = (k: Known) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...KNOWN_VALUES) },
    { weight: 3, arbitrary: fc.string({ maxLength: 64 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 32 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 32 }) },
    { weight: 1, arbitrary: controlChars },
    { weight: 1, arbitrary: huge },
    { weight: 2, arbitrary: percentGarbage },
    { weight: 3, arbitrary: tokenish(k) },
    { weight: 1, arbitrary: fc.constant('') },
  );

/** A value short enough for a header or a URL (Node answers 431 itself past 16 KB of headers). */
const small = (k: Known) => value(k).map((v) => v.slice(0, 600));

const name = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN_NAMES) },
  { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTO_NAMES) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  { weight: 1, arbitrary: percentGarbage },
);

type Pair = [name: string, value: string, mode: 'encoded' | 'raw' | 'bare'];
const pair = (k: Known): fc.Arbitrary<Pair> =>
  fc.tuple(name, value(k), fc.constantFrom<Pair[2]>('encoded', 'encoded', 'raw', 'bare'));

/** Parameter lists: a few known names first (so the endpoint logic is reached), then anything. */
/** Extra parameters of names the endpoints do not know (ignored by them, RFC 6749 §3.1). */
const unknownPair = (k: Known): fc.Arbitrary<Pair> =>
  fc.tuple(
    fc.string({ minLength: 1, maxLength: 24 }).filter((n) => !KNOWN_NAMES.includes(n)),
    value(k),
    fc.constantFrom<Pair[2]>('encoded', 'raw'),
  );

/**
 * Parameter lists: a lead of known names (so the endpoint logic is reached), then mostly a few
 * unknown names, sometimes up to 40 of anything, sometimes the first one again (duplicated).
 */
const params = (k: Known, lead: fc.Arbitrary<Pair[]>) =>
  fc
    .tuple(
      lead,
      fc.oneof(
        { weight: 3, arbitrary: fc.array(unknownPair(k), { maxLength: 3 }) },
        { weight: 1, arbitrary: fc.array(pair(k), { maxLength: 40 }) },
      ),
      fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)),
    )
    .map(([first, rest, duplicate]) => {
      const all = [...first, ...rest];
      // Duplicated names, with the same value (RFC 6749 §3.1: refused all the same).
      if (duplicate && all[0]) all.push(all[0]);
      return all;
    });

const formEncode = (ps: Pair[]) =>
  ps
    .map(([n, v, mode]) =>
      mode === 'encoded' ? `${pct(n)}=${pct(v)}` : mode === 'raw' ? `${n}=${v}` : n,
    )
    .join('&');

const FORM = 'application/x-www-form-urlencoded';
const contentType = fc.oneof(
  fc.constantFrom(
    FORM,
    `${FORM}; charset=utf-8`,
    `${FORM}; charset=latin1`,
    `${FORM}; charset=utf-16`,
    `${FORM.toUpperCase()}`,
    `${FORM};;;`,
    'application/json',
    'text/plain',
    'multipart/form-data; boundary=zz',
    'application/octet-stream',
    'application/xml',
    '*/*',
    '',
  ),
  headerText(48),
);

interface Body {
  kind: string;
  type?: string;
  bytes: Buffer;
  encoding?: string;
}

const body = (ps: fc.Arbitrary<Pair[]>): fc.Arbitrary<Body> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(ps, fc.oneof({ weight: 4, arbitrary: fc.constant(FORM) }, contentType))
        .map(([p, type]) => ({ kind: 'form', type, bytes: Buffer.from(formEncode(p), 'utf8') })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(ps, fc.constantFrom('application/json', 'text/json', FORM), fc.boolean())
        .map(([p, type, asArray]) => ({
          kind: 'json',
          type,
          bytes: Buffer.from(
            JSON.stringify(asArray ? p : Object.fromEntries(p.map(([n, v]) => [n, v]))),
          ),
        })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(ps, fc.constantFrom('zz', '', '--', 'a b')).map(([p, boundary]) => ({
        kind: 'multipart',
        type: `multipart/form-data; boundary=${boundary}`,
        bytes: Buffer.from(
          `${p
            .map(
              ([n, v]) =>
                `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`,
            )
            .join('')}--${boundary}--\r\n`,
        ),
      })),
    },
    {
      weight: 1,
      arbitrary: fc.option(contentType, { nil: undefined }).map((type) => ({
        kind: 'empty',
        ...(type !== undefined ? { type } : {}),
        bytes: Buffer.alloc(0),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.uint8Array({ maxLength: 4096 }), fc.option(contentType, { nil: undefined }))
        .map(([bytes, type]) => ({
          kind: 'binary',
          ...(type !== undefined ? { type } : {}),
          bytes: Buffer.from(bytes),
        })),
    },
  );

/** Authorization headers: none, Basic garbage, Basic of made-up credentials, Bearer garbage, other schemes, two of them. */
const authorization = (k: Known, extra: fc.Arbitrary<string>[] = []) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.base64String({ maxLength: 200 }).map((s) => `Basic ${s}`) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.oneof(fc.constantFrom(...KNOWN_VALUES), small(k)), small(k))
        .map(([id, secret]) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`),
    },
    { weight: 2, arbitrary: tokenish(k).map((t) => `Bearer ${t}`) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'Basic',
            'basic',
            'BASIC',
            'Bearer',
            'Digest',
            'Negotiate',
            'Token',
            '',
            ' ',
          ),
          fc.constantFrom(' ', '  ', '\t', ''),
          fc.oneof(headerText(80), small(k).map(asHeader)),
        )
        .map(([scheme, sep, rest]) => `${scheme}${sep}${rest}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(headerText(40), headerText(40))
        .map(([a, b]) => [`Basic ${a}`, `Bearer ${b}`]),
    },
    ...extra.map((arbitrary) => ({ weight: 2, arbitrary })),
  );

/** `arb` in about one run of `oneIn`, else undefined. */
const sometimes = <T>(arb: fc.Arbitrary<T>, oneIn: number) =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

// Short: a URL past Node's 16 KB header limit is Node's own 431, covered by bad-input.test.ts.
const query = sometimes(
  fc.oneof(
    fc
      .tuple(fc.constantFrom(...KNOWN_NAMES), small({ gid: 'x', kid: 'x' }))
      .map(([n, v]) => `${n}=${pct(v)}`),
    percentGarbage.map((g) => pct(g)),
  ),
  8,
);

const contentEncoding = sometimes(
  fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-garbage'),
  10,
);

/** A full request to an endpoint: body, Authorization, query string, Content-Encoding, framing. */
const endpointRequest = (
  path: string,
  k: Known,
  lead: fc.Arbitrary<Pair[]>,
  auth: fc.Arbitrary<string | string[] | undefined>,
) =>
  fc
    .record({
      body: body(params(k, lead)),
      auth,
      query,
      encoding: contentEncoding,
      length: fc.oneof(
        { weight: 4, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    })
    .map(({ body: b, auth: a, query: q, encoding, length }) => ({
      kind: b.kind,
      request: {
        method: 'POST' as const,
        path: q === undefined ? path : `${path}?${q}`,
        headers: {
          ...(b.type !== undefined ? { 'Content-Type': b.type } : {}),
          ...(a !== undefined ? { Authorization: a } : {}),
          ...(encoding !== undefined ? { 'Content-Encoding': encoding } : {}),
        },
        body: b.bytes,
        length,
      } satisfies RawRequest,
    }));

/** Counterexamples printed with long strings cut, so a failure stays readable. */
function readable<T extends { request: RawRequest }>(c: T): T {
  const cut = (s: string) => (s.length > 160 ? `${s.slice(0, 160)}…(${s.length} chars)` : s);
  return Object.assign(c, {
    [fc.toStringMethod]: () =>
      JSON.stringify(
        {
          ...c,
          request: { ...c.request, body: cut(c.request.body.toString('latin1')) },
        },
        (_k, v: unknown) => (typeof v === 'string' ? cut(v) : v),
      ),
  });
}

// ---------------------------------------------------------------------------------------------
// Checks every answer must pass.

function noLeak(res: RawResponse): void {
  const all = `${JSON.stringify(res.headers)}\n${res.text}`;
  for (const leak of LEAKS) expect(all).not.toMatch(leak);
}

function jsonBody(res: RawResponse): Record<string, unknown> {
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  const parsed = JSON.parse(res.text) as unknown;
  expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
  return parsed as Record<string, unknown>;
}

/** 4xx with `{ error, error_description? }`, error from `codes`. */
function expectOAuthError(res: RawResponse, codes: string[]): void {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  const b = jsonBody(res);
  expect(codes).toContain(b.error);
  expect(Object.keys(b).every((k) => k === 'error' || k === 'error_description')).toBe(true);
  expect(['string', 'undefined']).toContain(typeof b.error_description);
  expect(res.headers['cache-control']).toBe('no-store');
}

// ---------------------------------------------------------------------------------------------
// JWT helpers for the attack set.

/** An ES256 JWS over exactly `payloadSegment` with `header`, signed with `key`. */
function es256(key: KeyObject, header: Record<string, unknown>, payloadSegment: string): string {
  const input = `${b64({ alg: 'ES256', ...header })}.${payloadSegment}`;
  const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/** `depth` levels of `[` … `]` around 0: a nesting bomb of about 2 × depth bytes. */
const nesting = (depth: number) => `${'['.repeat(depth)}0${']'.repeat(depth)}`;

/** The claims JSON text with `extra` members appended raw (duplicates allowed). */
const rawClaims = (claims: Record<string, unknown>, extra: string, before = '') => {
  const inner = JSON.stringify(claims).slice(1, -1);
  return `{${before}${before ? ',' : ''}${inner}${extra ? `,${extra}` : ''}}`;
};

// ---------------------------------------------------------------------------------------------

describe.each(['memory', 'redis'] as const)('hostile input, property-based, on %s', (kind) => {
  let ts: TestStore;
  let as: { server: Server; port: number };
  let rs: { server: Server; port: number };
  let known: Known;
  let session: { access_token: string; refresh_token: string };
  let secrets: string[];
  let serverKey: KeyObject;
  let admin: AuthServer['admin'];
  let claims: Record<string, unknown>;
  const logged: unknown[] = [];

  beforeAll(async () => {
    ts = await makeStore(kind, `fuzz-${kind}`);
    const logger = { error: (...args: unknown[]) => void logged.push(args) };
    const t = buildApp(ts.store, { logger });
    await seed(t.auth);
    await seedScopes(t.auth);
    admin = t.auth.admin;
    session = await signIn(t.app);
    const guard = createGuard({ issuer: ISSUER, store: ts.store, logger });
    const resource = express();
    const me: express.RequestHandler = (req, res) => void res.json(req.auth);
    resource.get('/me', guard.authenticate(), guard.resolveIdentity(), me);
    resource.post('/me', express.urlencoded({ extended: false }), guard.authenticate(), me);
    resource.get('/print', guard.authenticate(), guard.requireService('print'), me);
    resource.get('/scope', guard.authenticate(), guard.requireScope('print', 'scan'), me);
    as = await listen(t.app);
    rs = await listen(resource);
    const header = JSON.parse(
      Buffer.from(session.access_token.split('.')[0] as string, 'base64url').toString(),
    );
    claims = JSON.parse(
      Buffer.from(session.access_token.split('.')[1] as string, 'base64url').toString(),
    );
    known = { gid: String(claims.gid), kid: String(header.kid) };
    serverKey = await storedSigningKey(ts.store, known.kid);
    // Nothing generated may ever be one of these: every input is unable to authenticate or issue.
    secrets = [
      SVC.secret,
      SVC_RT.secret,
      WEB.secret,
      ALICE.password,
      BOB.password,
      session.access_token,
      session.refresh_token,
      session.refresh_token.split('.')[1] as string,
    ];
  });

  afterAll(async () => {
    for (const s of [as?.server, rs?.server]) {
      s?.closeAllConnections();
      await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
    }
    await ts.close();
  });

  const carriesSecret = (r: RawRequest) => {
    const all = `${JSON.stringify(r.headers)} ${r.path} ${r.body.toString('latin1')} ${r.body.toString('utf8')}`;
    const basic = Object.values(r.headers)
      .flat()
      .map((h) => Buffer.from(h.replace(/^\s*basic\s+/i, ''), 'base64').toString('utf8'))
      .join(' ');
    return secrets.some((s) => all.includes(s) || basic.includes(s) || all.includes(pct(s)));
  };

  /**
   * Run `numRuns` generated requests: each answer passes `check` and the store is unchanged.
   * Returns how many runs each body kind and each outcome (`<status> <error>`) had.
   */
  async function fuzz(
    port: number,
    arb: fc.Arbitrary<{ kind: string; request: RawRequest }>,
    numRuns: number,
    check: (res: RawResponse, req: RawRequest) => void,
  ): Promise<{ kinds: Record<string, number>; outcomes: Record<string, number> }> {
    const kinds: Record<string, number> = {};
    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        arb.filter((c) => !carriesSecret(c.request)).map(readable),
        async ({ kind: k, request: r }) => {
          const before = await ts.snapshot();
          const res = await send(port, r);
          expect(res.status).toBeLessThan(500);
          noLeak(res);
          check(res, r);
          expect(await ts.snapshot()).toBe(before);
          kinds[k] = (kinds[k] ?? 0) + 1;
          const error = res.text ? (JSON.parse(res.text) as { error?: string }).error : undefined;
          const outcome = `${res.status} ${error ?? (res.status === 401 ? 'bare' : '')}`.trim();
          outcomes[`d ${res.text.slice(0, 90)}`] =
            (outcomes[`d ${res.text.slice(0, 90)}`] ?? 0) + 1;
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        },
      ),
      { seed: SEED, numRuns, endOnFailure: true },
    );
    // Every generated run was executed (none skipped): the count in the test name is the real one.
    expect(Object.values(kinds).reduce((a, b) => a + b, 0)).toBe(numRuns);
    return { kinds, outcomes };
  }

  /** Client lead-ins that reach the endpoint logic: a public client id, or nothing. */
  const publicClient = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Pair[]>([['client_id', APP.id, 'encoded']]) },
    { weight: 1, arbitrary: fc.constant<Pair[]>([]) },
  );

  it(`token endpoint: ${RUNS.token} generated requests → 4xx with an RFC 6749 §5.2 error, never 5xx, nothing stored changes`, async () => {
    const e = (n: string, v: string): Pair => [n, v, 'encoded'];
    // Weighted so that a fair share of runs reaches each grant's own checks.
    const grant = fc.oneof(
      {
        weight: 3,
        arbitrary: fc
          .tuple(value(known), value(known))
          .map(([u, p]) => [e('grant_type', 'password'), e('username', u), e('password', p)]),
      },
      {
        weight: 2,
        arbitrary: tokenish(known).map((rt) => [
          e('grant_type', 'refresh_token'),
          e('refresh_token', rt),
        ]),
      },
      { weight: 1, arbitrary: fc.constant([e('grant_type', 'client_credentials')]) },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom('implicit', '', 'PASSWORD', 'urn:ietf:params:oauth:grant-type:jwt-bearer')
          .map((g) => [e('grant_type', g)]),
      },
    );
    const lead = fc.tuple(grant, publicClient).map(([g, c]) => [...g, ...c]);
    const { kinds, outcomes } = await fuzz(
      as.port,
      endpointRequest(
        TOKEN,
        known,
        lead,
        // Public-client requests (no Authorization) reach the password and refresh grants.
        fc.oneof(
          { weight: 2, arbitrary: fc.constant(undefined) },
          { weight: 3, arbitrary: authorization(known) },
        ),
      ),
      RUNS.token,
      (res) => expectOAuthError(res, TOKEN_ERRORS),
    );
    // Not vacuous: every body kind was sent, and runs got past parsing into client auth and grants.
    expect(Object.keys(kinds).sort()).toEqual(['binary', 'empty', 'form', 'json', 'multipart']);
    expect(Object.keys(outcomes)).toEqual(
      expect.arrayContaining([
        '400 invalid_request',
        '401 invalid_client',
        '400 invalid_grant',
        '400 unsupported_grant_type',
      ]),
    );
  }, 120_000);

  it(`revocation endpoint: ${RUNS.revocation} generated requests → 200 with no body (RFC 7009 §2.2) or a 4xx error, nothing stored changes`, async () => {
    const lead = fc
      .tuple(publicClient, tokenish(known))
      .map(([c, t]): Pair[] => [...c, ['token', t, 'encoded']]);
    const rsBasic = `Basic ${Buffer.from(`${RS.id}:${RS.secret}`).toString('base64')}`;
    const { outcomes } = await fuzz(
      as.port,
      endpointRequest(REVOKE, known, lead, authorization(known, [fc.constant(rsBasic)])),
      RUNS.revocation,
      (res) => {
        if (res.status === 200) expect(res.text).toBe('');
        else expectOAuthError(res, REVOKE_ERRORS);
      },
    );
    // Not vacuous: runs got through client authentication to the token itself, others did not.
    expect(Object.keys(outcomes)).toEqual(
      expect.arrayContaining(['200', '400 invalid_request', '401 invalid_client']),
    );
  }, 120_000);

  it(`introspection endpoint: ${RUNS.introspection} generated requests → exactly {"active":false} for the authenticated caller, else a 4xx error; nothing stored changes`, async () => {
    const lead = tokenish(known).map((t): Pair[] => [['token', t, 'encoded']]);
    const rsBasic = `Basic ${Buffer.from(`${RS.id}:${RS.secret}`).toString('base64')}`;
    // The resource server's real secret is allowed here: introspection never issues anything.
    expect(secrets).not.toContain(RS.secret);
    const { outcomes } = await fuzz(
      as.port,
      endpointRequest(
        INTROSPECT,
        known,
        lead,
        fc.oneof(
          { weight: 3, arbitrary: fc.constant(rsBasic) },
          { weight: 2, arbitrary: authorization(known) },
        ),
      ),
      RUNS.introspection,
      (res) => {
        if (res.status === 200) expect(res.text).toBe('{"active":false}');
        else expectOAuthError(res, INTROSPECT_ERRORS);
      },
    );
    expect(Object.keys(outcomes)).toEqual(
      expect.arrayContaining(['200', '400 invalid_request', '401 invalid_client']),
    );
  }, 120_000);

  it(`guarded routes (local mode): ${RUNS.guard} generated requests → 4xx with an RFC 6750 body or the bare 401, never admitted; nothing stored changes`, async () => {
    const arb = fc
      .record({
        method: fc.constantFrom<'GET' | 'POST'>('GET', 'POST'),
        path: fc.constantFrom('/me', '/print', '/scope'),
        auth: authorization(known, [
          tokenish(known).map((t) => `Bearer ${t}`),
          tokenish(known).map((t) => `bearer  ${t}`),
        ]),
        query,
        // Small values: the route's own body parser (100 KB default) is not what is under test.
        form: fc
          .array(pair(known), { maxLength: 6 })
          .map((ps) => ps.map(([n, v, m]): Pair => [n, v.slice(0, 2000), m])),
      })
      .map(({ method, path, auth, query: q, form }) => {
        const post = method === 'POST';
        return {
          kind: method,
          request: {
            method,
            path: `${post ? '/me' : path}${q === undefined ? '' : `?${q}`}`,
            headers: {
              ...(auth !== undefined ? { Authorization: auth } : {}),
              ...(post ? { 'Content-Type': FORM } : {}),
            },
            body: Buffer.from(post ? formEncode(form) : ''),
            length: true,
          } satisfies RawRequest,
        };
      });
    const { outcomes } = await fuzz(rs.port, arb, RUNS.guard, (res) => {
      expect(res.status).toBeGreaterThanOrEqual(400);
      const b = jsonBody(res);
      expect(res.headers['cache-control']).toBe('no-store');
      if (b.error === undefined) {
        // RFC 6750 §3.1: no credentials (or another scheme) → a bare challenge, no error code.
        expect(res.status).toBe(401);
        expect(Object.keys(b)).toEqual(['error_description']);
        expect(res.headers['www-authenticate']).toBe(
          'Bearer realm="tokenward", DPoP realm="tokenward", algs="ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512"',
        );
      } else {
        expect(GUARD_ERRORS).toContain(b.error);
        expect(Object.keys(b).sort()).toEqual(['error', 'error_description']);
        expect(String(res.headers['www-authenticate'])).toMatch(
          new RegExp(`^Bearer realm="tokenward", error="${String(b.error)}"`),
        );
      }
    });
    expect(Object.keys(outcomes)).toEqual(
      expect.arrayContaining(['401 invalid_token', '400 invalid_request', '401 bare']),
    );
  }, 120_000);

  it('after every run: the seeded session still works and nothing reached the error log', async () => {
    const res = await send(rs.port, {
      method: 'GET',
      path: '/me',
      headers: { Authorization: `Bearer ${session.access_token}` },
      body: Buffer.alloc(0),
      length: false,
    });
    expect(res.status).toBe(200);
    const state = await send(as.port, {
      method: 'POST',
      path: INTROSPECT,
      headers: {
        Authorization: `Basic ${Buffer.from(`${RS.id}:${RS.secret}`).toString('base64')}`,
        'Content-Type': FORM,
      },
      body: Buffer.from(`token=${session.access_token}`),
      length: true,
    });
    expect(JSON.parse(state.text).active).toBe(true);
    // Its refresh token is the public app's: only the admin API may introspect it.
    expect((await admin.introspectToken(session.refresh_token)).active).toBe(true);
    expect(logged).toEqual([]);
  });

  // -------------------------------------------------------------------------------------------
  // The JWT attack set, beyond guard-bad-input.test.ts and guard-rules.test.ts.

  describe('JWT attack set (local-mode guard)', () => {
    const guardGet = (token: string, path = '/me') =>
      send(rs.port, {
        method: 'GET',
        path,
        headers: { Authorization: `Bearer ${token}` },
        body: Buffer.alloc(0),
        length: false,
      });
    const introspectRaw = (token: string) =>
      send(as.port, {
        method: 'POST',
        path: INTROSPECT,
        headers: {
          Authorization: `Basic ${Buffer.from(`${RS.id}:${RS.secret}`).toString('base64')}`,
          'Content-Type': FORM,
        },
        body: Buffer.from(`token=${encodeURIComponent(token)}`),
        length: true,
      });

    /** Refused by the guard (401 invalid_token) and inactive at introspection; nothing stored changes. */
    async function expectRefusedEverywhere(token: string): Promise<void> {
      const before = await ts.snapshot();
      for (const path of ['/me', '/print']) {
        const res = await guardGet(token, path);
        expect({ path, status: res.status, error: JSON.parse(res.text).error }).toEqual({
          path,
          status: 401,
          error: 'invalid_token',
        });
        noLeak(res);
      }
      const intro = await introspectRaw(token);
      // Past 8 KB the token parameter itself is refused (400 invalid_request, "too long").
      if (token.length > 8192) expect(JSON.parse(intro.text).error).toBe('invalid_request');
      else expect(intro.text).toBe('{"active":false}');
      expect(await ts.snapshot()).toBe(before);
    }

    const ours = () => ({ typ: 'at+jwt', kid: known.kid });

    it('control: the genuine claims signed here with the server key are admitted (the cases below are not vacuous)', async () => {
      const token = es256(serverKey, ours(), b64(claims));
      expect((await guardGet(token)).status).toBe(200);
    });

    it('crit naming an unknown extension, signed with the server key: refused (RFC 7515 §4.1.11)', async () => {
      await expectRefusedEverywhere(
        es256(serverKey, { ...ours(), crit: ['x-unknown'], 'x-unknown': true }, b64(claims)),
      );
    });

    it('crit as an empty list, and crit naming a registered header ("alg"): refused (RFC 7515 §4.1.11)', async () => {
      await expectRefusedEverywhere(es256(serverKey, { ...ours(), crit: [] }, b64(claims)));
      await expectRefusedEverywhere(es256(serverKey, { ...ours(), crit: ['alg'] }, b64(claims)));
    });

    it('b64: false (RFC 7797 unencoded payload) signed with the server key: refused', async () => {
      // Under RFC 7797 the payload is the literal text "eyJ…", not a claims set; a verifier that
      // ignores b64 would read the claims instead. Either way it is not an RFC 9068 access token.
      await expectRefusedEverywhere(
        es256(serverKey, { ...ours(), b64: false, crit: ['b64'] }, b64(claims)),
      );
      await expectRefusedEverywhere(es256(serverKey, { ...ours(), b64: false }, b64(claims)));
    });

    it('embedded jwk (the attacker key) with the attacker signing: refused, whatever the kid', async () => {
      const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = createPublicKey(attacker.privateKey).export({ format: 'jwk' });
      for (const kid of [known.kid, 'attacker-kid', undefined]) {
        await expectRefusedEverywhere(
          es256(attacker.privateKey, { typ: 'at+jwt', kid, jwk: { ...jwk, kid } }, b64(claims)),
        );
      }
    });

    it('jku and x5u pointing at an attacker server, attacker signing: refused, and nothing fetches them', async () => {
      const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = {
        ...createPublicKey(attacker.privateKey).export({ format: 'jwk' }),
        kid: 'evil',
      };
      let hits = 0;
      const evil = createServer((_req, res) => {
        hits++;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/jwks`;
      try {
        // The evil server works: a naive verifier would get the key from it.
        expect((await (await fetch(url)).json()).keys[0].kid).toBe('evil');
        hits = 0;
        for (const header of [
          { kid: 'evil', jku: url },
          { kid: known.kid, jku: url },
          { kid: 'evil', x5u: url },
          { kid: 'evil', jku: url, x5u: url, jwk },
        ]) {
          await expectRefusedEverywhere(
            es256(attacker.privateKey, { typ: 'at+jwt', ...header }, b64(claims)),
          );
        }
        expect(hits).toBe(0);
      } finally {
        await new Promise<void>((resolve) => evil.close(() => resolve()));
      }
    });

    it('nested JSON bombs: attacker-signed ones refused fast; one signed with the server key within 8 KB parses (admitted, 200), over 8 KB refused unparsed', async () => {
      const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      // Deep nesting in the payload and in the header, as large as fits in the 8 KB token limit.
      const deepPayload = b64(rawClaims(claims, `"x":${nesting(2500)}`));
      const deepHeader = { ...ours(), x: JSON.parse(nesting(2000)) };
      const started = Date.now();
      const payloadBomb = es256(attacker, ours(), deepPayload);
      expect(payloadBomb.length).toBeLessThanOrEqual(8192);
      expect(payloadBomb.length).toBeGreaterThan(6000);
      await expectRefusedEverywhere(payloadBomb);
      await expectRefusedEverywhere(es256(attacker, deepHeader, b64(claims)));
      // Garbage signature over a bomb: never admitted, never a 500.
      await expectRefusedEverywhere(`${b64(ours())}.${deepPayload}.${'A'.repeat(86)}`);
      // Our own key over a bomb with valid claims: a valid token; the parser copes with the depth.
      const signed = es256(serverKey, ours(), deepPayload);
      const ok = await guardGet(signed);
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.text).subject).toBe(ALICE.username);
      // Past the 8 KB limit the token is refused before any JSON is parsed.
      const tooBig = es256(serverKey, ours(), b64(rawClaims(claims, `"x":${nesting(4000)}`)));
      expect(tooBig.length).toBeGreaterThan(8192);
      await expectRefusedEverywhere(tooBig);
      // Loose bound (2-core machine, other suites running): no bomb costs seconds.
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('duplicated claim names in the signed JSON: read as the last value, identically by jsonwebtoken and the guard; the live-state check refuses a flipped identity', async () => {
      // Decision: JSON.parse keeps the last duplicate, and both jsonwebtoken and the guard read the
      // claims through it, so there is one reading. A token we issue never has duplicates; one
      // built by hand with our key (read from the store) shows the parser's behaviour.
      const publicKey = createPublicKey(serverKey);
      const read = (token: string) =>
        jwt.verify(token, publicKey, { algorithms: ['ES256'] }) as jwt.JwtPayload;

      // sub: alice first, bob last → both read bob; bob is not the grant's subject → 401.
      const flipped = es256(serverKey, ours(), b64(rawClaims(claims, '"sub":"bob"')));
      expect(read(flipped).sub).toBe('bob');
      await expectRefusedEverywhere(flipped);

      // sub: bob first, alice last → both read alice: admitted as alice, never as bob.
      const restored = es256(serverKey, ours(), b64(rawClaims(claims, '', '"sub":"bob"')));
      expect(read(restored).sub).toBe(ALICE.username);
      const res = await guardGet(restored);
      expect(res.status).toBe(200);
      const auth = JSON.parse(res.text);
      expect(auth.subject).toBe(read(restored).sub);
      expect(auth.claims.sub).toBe(ALICE.username);

      // scope duplicated with a wider last value: read as the wider one, but only scopes the grant
      // holds count (service scopes), so nothing is gained.
      const wider = es256(serverKey, ours(), b64(rawClaims(claims, '"scope":"print scan admin"')));
      expect(read(wider).scope).toBe('print scan admin');
      const w = await guardGet(wider);
      expect(w.status).toBe(200);
      const wAuth = JSON.parse(w.text);
      expect(wAuth.claims.scope).toBe('print scan admin');
      expect(wAuth.scopes.sort()).toEqual(['print', 'scan']);
    });
  });
});
