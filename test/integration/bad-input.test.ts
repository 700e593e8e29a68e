// Bad input: hostile requests at the token, revocation and introspection endpoints get an RFC-style 4xx and change nothing stored.
import type { Express } from 'express';
import request, { type Response } from 'supertest';
import {
  ALICE,
  APP,
  BOB,
  buildApp,
  INTROSPECT,
  introspect,
  post,
  REVOKE,
  RS,
  refresh,
  SVC,
  SVC_RT,
  seed,
  signIn,
  type TestApp,
  TOKEN,
  WEB,
} from '../helpers/app';
import { makeStore, type TestStore } from '../helpers/stores';

/** The error codes of RFC 6749 §5.2 that a hostile request may get. */
const RFC_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
];
const FORM = 'application/x-www-form-urlencoded';
const MB = 1024 * 1024;

/** State the cases attack: Alice's tokens from the public `app` client. */
interface Ctx {
  app: Express;
  at: string;
  rt: string;
}

interface Case {
  name: string;
  send: (c: Ctx) => PromiseLike<Response>;
  status: number;
  error: string;
  /** 401 answers to Basic authentication carry a Basic challenge (RFC 6749 §5.2). */
  challenge?: boolean;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const enc = (form: Record<string, string>) => new URLSearchParams(form).toString();

/** POST a raw body with a content type and optional extra headers. */
function raw(
  app: Express,
  path: string,
  body: string,
  headers: Record<string, string> = {},
  type = FORM,
) {
  const req = request(app).post(path).set('Content-Type', type);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req.send(body);
}

const ccBasic = (app: Express, form: Record<string, string> = {}) =>
  post(app, TOKEN, { grant_type: 'client_credentials', ...form }, SVC);
const hundredParams = (base: string) =>
  `${base}&${Array.from({ length: 100 }, (_, i) => `p${i}=${i}`).join('&')}`;
const megabyte = (base: string) => `${base}&pad=${'a'.repeat(MB)}`;

/** Cases every endpoint shares: `base` is a valid form body for it, `basic` the client that may call it. */
function commonCases(
  path: string,
  base: Record<string, string>,
  basic: { id: string; secret: string },
): Case[] {
  const auth = { Authorization: `Basic ${b64(`${basic.id}:${basic.secret}`)}` };
  const body = enc(base);
  return [
    {
      name: 'JSON body instead of a form',
      send: ({ app }) => raw(app, path, JSON.stringify(base), auth, 'application/json'),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'text/plain body',
      send: ({ app }) => raw(app, path, body, auth, 'text/plain'),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'multipart/form-data body',
      send: ({ app }) => {
        const req = request(app).post(path).set(auth);
        for (const [k, v] of Object.entries(base)) req.field(k, v);
        return req;
      },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'form body without a Content-Type',
      send: ({ app }) =>
        request(app).post(path).set(auth).unset('Content-Type').send(Buffer.from(body)),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'form body in an unsupported charset',
      send: ({ app }) => raw(app, path, body, auth, `${FORM}; charset=latin1`),
      status: 415,
      error: 'invalid_request',
    },
    {
      name: 'Content-Encoding gzip with a body that is not gzip',
      send: ({ app }) => raw(app, path, body, { ...auth, 'Content-Encoding': 'gzip' }),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'unknown Content-Encoding',
      send: ({ app }) => raw(app, path, body, { ...auth, 'Content-Encoding': 'x-unknown' }),
      status: 415,
      error: 'invalid_request',
    },
    {
      name: 'form body of 1 MB',
      send: ({ app }) => raw(app, path, megabyte(body), auth),
      status: 413,
      error: 'invalid_request',
    },
    {
      name: '100 parameters',
      send: ({ app }) => raw(app, path, hundredParams(body), auth),
      status: 413,
      error: 'invalid_request',
    },
    {
      name: 'parameters in the query string',
      send: ({ app }) => request(app).post(`${path}?${body}`).set(auth).type('form').send(''),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'parameters in the query string and the body',
      send: ({ app }) => request(app).post(`${path}?${body}`).set(auth).type('form').send(body),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'wrong client secret (Basic)',
      send: ({ app }) => post(app, path, base, { id: basic.id, secret: 'wrong-secret-0123456789' }),
      status: 401,
      error: 'invalid_client',
      challenge: true,
    },
    {
      name: 'wrong client secret (post)',
      send: ({ app }) =>
        post(app, path, { ...base, client_id: basic.id, client_secret: 'wrong-secret-0123456789' }),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'Basic and client_secret in the body',
      send: ({ app }) => post(app, path, { ...base, client_secret: basic.secret }, basic),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'Basic with garbage base64',
      send: ({ app }) => raw(app, path, body, { Authorization: 'Basic !!!not*base64###' }),
      status: 401,
      error: 'invalid_client',
      challenge: true,
    },
    {
      name: 'Basic without a colon',
      send: ({ app }) =>
        raw(app, path, body, { Authorization: `Basic ${b64(`${basic.id}${basic.secret}`)}` }),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'Basic with bad percent-encoding',
      send: ({ app }) =>
        raw(app, path, body, { Authorization: `Basic ${b64(`${basic.id}:%zz%E0%A4%A`)}` }),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'Basic with an empty client id',
      send: ({ app }) =>
        raw(app, path, body, { Authorization: `Basic ${b64(`:${basic.secret}`)}` }),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'Bearer scheme instead of Basic',
      send: ({ app, at }) => raw(app, path, body, { Authorization: `Bearer ${at}` }),
      status: 401,
      error: 'invalid_client',
      challenge: true,
    },
    {
      name: 'Authorization header of 10 KB',
      send: ({ app }) => raw(app, path, body, { Authorization: `Basic ${'QUFB'.repeat(2560)}` }),
      status: 401,
      error: 'invalid_client',
      challenge: true,
    },
    {
      name: 'unknown client (Basic)',
      send: ({ app }) => post(app, path, base, { id: 'nobody', secret: basic.secret }),
      status: 401,
      error: 'invalid_client',
      challenge: true,
    },
    {
      name: 'unknown client (post)',
      send: ({ app }) =>
        post(app, path, { ...base, client_id: 'nobody', client_secret: basic.secret }),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'client_id of 10 KB',
      send: ({ app }) =>
        post(app, path, { ...base, client_id: 'c'.repeat(10 * 1024), client_secret: basic.secret }),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'client_id given twice',
      send: ({ app }) =>
        raw(
          app,
          path,
          `${body}&client_id=${basic.id}&client_id=${basic.id}&client_secret=${basic.secret}`,
        ),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'client_id in the body differs from Basic',
      send: ({ app }) =>
        post(app, path, { ...base, client_id: basic.id === WEB.id ? APP.id : WEB.id }, basic),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'client_id[]=x (array-like name)',
      send: ({ app }) =>
        raw(app, path, `${body}&client_id[]=${basic.id}&client_secret=${basic.secret}`),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'confidential client without a secret',
      send: ({ app }) => post(app, path, { ...base, client_id: basic.id }),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'confidential client with an empty secret',
      send: ({ app }) => raw(app, path, `${body}&client_id=${basic.id}&client_secret=`),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'client secret of 2 KB',
      send: ({ app }) =>
        post(app, path, { ...base, client_id: basic.id, client_secret: 's'.repeat(2048) }),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: '__proto__ as client_id',
      send: ({ app }) =>
        post(app, path, { ...base, client_id: '__proto__', client_secret: basic.secret }),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'constructor as client_id',
      send: ({ app }) =>
        post(app, path, { ...base, client_id: 'constructor', client_secret: basic.secret }),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'toString as client_id (Basic)',
      send: ({ app }) => post(app, path, base, { id: 'toString', secret: basic.secret }),
      status: 401,
      error: 'invalid_client',
      challenge: true,
    },
  ];
}

const tokenCases: Case[] = [
  ...commonCases(TOKEN, { grant_type: 'client_credentials' }, SVC),
  {
    name: 'missing grant_type',
    send: ({ app }) => post(app, TOKEN, {}, SVC),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'empty grant_type',
    send: ({ app }) =>
      raw(app, TOKEN, 'grant_type=', { Authorization: `Basic ${b64(`${SVC.id}:${SVC.secret}`)}` }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'unknown grant_type',
    send: ({ app }) =>
      post(app, TOKEN, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' }, SVC),
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'grant_type=authorization_code',
    send: ({ app }) => post(app, TOKEN, { grant_type: 'authorization_code', code: 'x' }, SVC),
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'grant_type=__proto__',
    send: ({ app }) => ccBasic(app, { grant_type: '__proto__' }),
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'grant_type=constructor',
    send: ({ app }) => ccBasic(app, { grant_type: 'constructor' }),
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'grant_type=toString',
    send: ({ app }) => ccBasic(app, { grant_type: 'toString' }),
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'grant_type=hasOwnProperty',
    send: ({ app }) => ccBasic(app, { grant_type: 'hasOwnProperty' }),
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'grant_type given twice',
    send: ({ app }) =>
      raw(app, TOKEN, 'grant_type=client_credentials&grant_type=client_credentials', {
        Authorization: `Basic ${b64(`${SVC.id}:${SVC.secret}`)}`,
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'grant_type given twice with different values',
    send: ({ app }) =>
      raw(app, TOKEN, 'grant_type=password&grant_type=client_credentials', {
        Authorization: `Basic ${b64(`${SVC.id}:${SVC.secret}`)}`,
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'grant_type[]=x',
    send: ({ app }) =>
      raw(app, TOKEN, 'grant_type[]=client_credentials', {
        Authorization: `Basic ${b64(`${SVC.id}:${SVC.secret}`)}`,
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'grant_type[a]=x',
    send: ({ app }) =>
      raw(app, TOKEN, 'grant_type[a]=client_credentials', {
        Authorization: `Basic ${b64(`${SVC.id}:${SVC.secret}`)}`,
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: '__proto__, constructor and toString parameters without grant_type',
    send: ({ app }) =>
      raw(app, TOKEN, '__proto__=x&constructor=y&toString=z', {
        Authorization: `Basic ${b64(`${SVC.id}:${SVC.secret}`)}`,
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: '__proto__[grant_type]=client_credentials (prototype pollution)',
    send: ({ app }) =>
      raw(
        app,
        TOKEN,
        '__proto__[grant_type]=client_credentials&constructor[prototype][grant_type]=client_credentials',
        { Authorization: `Basic ${b64(`${SVC.id}:${SVC.secret}`)}` },
      ),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'public client attempting client_credentials',
    send: ({ app }) => post(app, TOKEN, { grant_type: 'client_credentials', client_id: APP.id }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'public client sending a client_secret',
    send: ({ app }) =>
      post(app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        client_secret: 'anything-0123456789',
        ...ALICE,
      }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'client not registered for the grant (svc, password)',
    send: ({ app }) => post(app, TOKEN, { grant_type: 'password', ...ALICE }, SVC),
    status: 400,
    error: 'unauthorized_client',
  },
  {
    name: 'client not registered for the grant (web, client_credentials)',
    send: ({ app }) => post(app, TOKEN, { grant_type: 'client_credentials' }, WEB),
    status: 400,
    error: 'unauthorized_client',
  },
  {
    name: 'scope with a double quote',
    send: ({ app }) => ccBasic(app, { scope: 'print"' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'scope with a backslash',
    send: ({ app }) => ccBasic(app, { scope: 'print\\' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'scope with control characters',
    send: ({ app }) => ccBasic(app, { scope: 'print\u0000\r\nscan\u0007' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'scope with a tab',
    send: ({ app }) => ccBasic(app, { scope: 'print\tscan' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'scope with two spaces',
    send: ({ app }) => ccBasic(app, { scope: 'print  scan' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'scope with non-ASCII characters',
    send: ({ app }) => ccBasic(app, { scope: 'prïnt' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'scope of 5 KB',
    send: ({ app }) =>
      ccBasic(app, { scope: Array.from({ length: 1024 }, () => 'prnt').join(' ') }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'scope given twice',
    send: ({ app }) =>
      raw(app, TOKEN, 'grant_type=client_credentials&scope=print&scope=scan', {
        Authorization: `Basic ${b64(`${SVC.id}:${SVC.secret}`)}`,
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'scope not allowed for the client',
    send: ({ app }) => ccBasic(app, { scope: 'admin' }),
    status: 400,
    error: 'invalid_scope',
  },
  {
    name: 'scope=__proto__',
    send: ({ app }) => ccBasic(app, { scope: '__proto__ constructor toString' }),
    status: 400,
    error: 'invalid_scope',
  },
  {
    name: 'local_user of 129 characters',
    send: ({ app }) => ccBasic(app, { local_user: 'u'.repeat(129) }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'local_user with control characters',
    send: ({ app }) => ccBasic(app, { local_user: 'kiosk\u0000\n1' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'local_user of 10 KB',
    send: ({ app }) => ccBasic(app, { local_user: 'u'.repeat(10 * 1024) }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'local_user from a client without localUsers (svc-rt)',
    send: ({ app }) =>
      post(app, TOKEN, { grant_type: 'client_credentials', local_user: 'kiosk-1' }, SVC_RT),
    status: 400,
    error: 'unauthorized_client',
  },
  {
    name: 'password grant without username',
    send: ({ app }) =>
      post(app, TOKEN, { grant_type: 'password', client_id: APP.id, password: ALICE.password }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'password grant without password',
    send: ({ app }) =>
      post(app, TOKEN, { grant_type: 'password', client_id: APP.id, username: ALICE.username }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'password grant with username given twice',
    send: ({ app }) =>
      raw(
        app,
        TOKEN,
        `grant_type=password&client_id=app&username=alice&username=bob&password=${ALICE.password}`,
      ),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'password grant with an empty password',
    send: ({ app }) =>
      raw(app, TOKEN, 'grant_type=password&client_id=app&username=alice&password='),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'password grant, unknown user',
    send: ({ app }) =>
      post(app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        username: 'mallory',
        password: ALICE.password,
      }),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'password grant, wrong password',
    send: ({ app }) =>
      post(app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        username: ALICE.username,
        password: BOB.password,
      }),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'password grant, user of another tenant shape (__proto__)',
    send: ({ app }) =>
      post(app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        username: '__proto__',
        password: 'x'.repeat(8),
      }),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'password grant, username of 10 KB',
    send: ({ app }) =>
      post(app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        username: 'a'.repeat(10 * 1024),
        password: ALICE.password,
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'device_id with bad characters',
    send: ({ app }) =>
      post(app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        ...ALICE,
        device_id: 'printer 1/../<script>',
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'device_id with a newline',
    send: ({ app }) =>
      post(app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        ...ALICE,
        device_id: 'printer-1\n',
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'device_id of 129 characters',
    send: ({ app }) =>
      post(app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        ...ALICE,
        device_id: 'd'.repeat(129),
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'device_id given twice',
    send: ({ app }) =>
      raw(
        app,
        TOKEN,
        `grant_type=password&client_id=app&username=alice&password=${ALICE.password}&device_id=a&device_id=b`,
      ),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'refresh_token missing',
    send: ({ app }) => post(app, TOKEN, { grant_type: 'refresh_token', client_id: APP.id }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'refresh_token garbage',
    send: ({ app }) => refresh(app, 'not-a-refresh-token'),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'refresh_token of the right shape but unknown',
    send: ({ app }) => refresh(app, `${'A'.repeat(22)}.${'B'.repeat(43)}`),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'refresh_token with a known family but a forged secret',
    send: ({ app, rt }) => refresh(app, `${rt.split('.')[0]}.${'B'.repeat(43)}`),
    status: 400,
    error: 'invalid_grant',
  },
  // An oversized parameter is malformed (RFC 6749 §5.2 invalid_request), like any other oversized parameter.
  {
    name: 'refresh_token of 10 KB',
    send: ({ app }) => refresh(app, 'r'.repeat(10 * 1024)),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'refresh_token given twice',
    send: ({ app, rt }) =>
      raw(
        app,
        TOKEN,
        `grant_type=refresh_token&client_id=app&refresh_token=${rt}&refresh_token=${rt}`,
      ),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'refresh_token[]=x',
    send: ({ app, rt }) =>
      raw(app, TOKEN, `grant_type=refresh_token&client_id=app&refresh_token[]=${rt}`),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: "another client's refresh token",
    send: ({ app, rt }) =>
      post(app, TOKEN, { grant_type: 'refresh_token', refresh_token: rt }, WEB),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'an access token as refresh_token',
    send: ({ app, at }) => refresh(app, at),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'refresh with a scope wider than granted',
    send: ({ app, rt }) => refresh(app, rt, { scope: 'print scan admin' }),
    status: 400,
    error: 'invalid_scope',
  },
  {
    name: 'refresh with a malformed scope',
    send: ({ app, rt }) => refresh(app, rt, { scope: 'print"' }),
    status: 400,
    error: 'invalid_request',
  },
];

const revocationCases: Case[] = [
  ...commonCases(REVOKE, { token: 'x'.repeat(40) }, WEB),
  {
    name: 'missing token',
    send: ({ app }) => post(app, REVOKE, { client_id: APP.id }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'empty token',
    send: ({ app }) => raw(app, REVOKE, 'client_id=app&token='),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token given twice',
    send: ({ app, at }) => raw(app, REVOKE, `client_id=app&token=${at}&token=${at}`),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token[]=x',
    send: ({ app, at }) => raw(app, REVOKE, `client_id=app&token[]=${at}`),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token[a]=x',
    send: ({ app, rt }) => raw(app, REVOKE, `client_id=app&token[a]=${rt}`),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token of 10 KB',
    send: ({ app }) => post(app, REVOKE, { client_id: APP.id, token: 't'.repeat(10 * 1024) }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'no client authentication at all',
    send: ({ app, at }) => post(app, REVOKE, { token: at }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'public client sending a client_secret',
    send: ({ app, at }) =>
      post(app, REVOKE, { token: at, client_id: APP.id, client_secret: 'anything-0123456789' }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: "another client's access token",
    send: ({ app, at }) => post(app, REVOKE, { token: at }, WEB),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: "another client's refresh token",
    send: ({ app, rt }) => post(app, REVOKE, { token: rt, token_type_hint: 'refresh_token' }, WEB),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: "another client's refresh token (svc-rt)",
    send: ({ app, rt }) => post(app, REVOKE, { token: rt }, SVC_RT),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: '__proto__, constructor and toString parameters without token',
    send: ({ app }) => raw(app, REVOKE, 'client_id=app&__proto__=x&constructor=y&toString=z'),
    status: 400,
    error: 'invalid_request',
  },
];

const introspectionCases: Case[] = [
  ...commonCases(INTROSPECT, { token: 'x'.repeat(40) }, RS),
  {
    name: 'no client authentication',
    send: ({ app, at }) => post(app, INTROSPECT, { token: at }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'public client (client_id only)',
    send: ({ app, at }) => post(app, INTROSPECT, { token: at, client_id: APP.id }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'client without introspect (svc)',
    send: ({ app, at }) => post(app, INTROSPECT, { token: at }, SVC),
    status: 403,
    error: 'unauthorized_client',
  },
  {
    name: 'client without introspect (web, post)',
    send: ({ app, at }) =>
      post(app, INTROSPECT, { token: at, client_id: WEB.id, client_secret: WEB.secret }),
    status: 403,
    error: 'unauthorized_client',
  },
  {
    name: 'missing token',
    send: ({ app }) => post(app, INTROSPECT, {}, RS),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'empty token',
    send: ({ app }) =>
      raw(app, INTROSPECT, 'token=', { Authorization: `Basic ${b64(`${RS.id}:${RS.secret}`)}` }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token given twice',
    send: ({ app, at }) =>
      raw(app, INTROSPECT, `token=${at}&token=${at}`, {
        Authorization: `Basic ${b64(`${RS.id}:${RS.secret}`)}`,
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token[]=x',
    send: ({ app, at }) =>
      raw(app, INTROSPECT, `token[]=${at}`, {
        Authorization: `Basic ${b64(`${RS.id}:${RS.secret}`)}`,
      }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token of 10 KB',
    send: ({ app }) => post(app, INTROSPECT, { token: 't'.repeat(10 * 1024) }, RS),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: '__proto__, constructor and toString parameters without token',
    send: ({ app }) =>
      raw(app, INTROSPECT, '__proto__=x&constructor=y&toString=z', {
        Authorization: `Basic ${b64(`${RS.id}:${RS.secret}`)}`,
      }),
    status: 400,
    error: 'invalid_request',
  },
];

const ENDPOINTS: [string, string, Case[]][] = [
  ['token', TOKEN, tokenCases],
  ['revocation', REVOKE, revocationCases],
  ['introspection', INTROSPECT, introspectionCases],
];

/** The shape every rejection shares: status, RFC error body, no internals, not cached. */
function expectRejection(res: Response, status: number, error: string): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { error } });
  expect(RFC_ERRORS).toContain(res.body.error);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(typeof res.body.error).toBe('string');
  expect(['string', 'undefined']).toContain(typeof res.body.error_description);
  expect(Object.keys(res.body).every((k) => k === 'error' || k === 'error_description')).toBe(true);
  expect(res.text).not.toMatch(/Error:|\bat .+:\d+:\d+|node_modules|stack/);
  expect(res.headers['cache-control']).toBe('no-store');
}

describe.each(['memory', 'redis'] as const)('bad input on %s', (kind) => {
  let ts: TestStore;
  let t: TestApp;
  let ctx: Ctx;

  beforeAll(async () => {
    ts = await makeStore(kind, `bad-input-${kind}`);
    t = buildApp(ts.store);
    await seed(t.auth);
    const session = await signIn(t.app);
    // One more family (client_credentials with a refresh token) so there is more state to protect.
    expect((await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT)).status).toBe(
      200,
    );
    ctx = { app: t.app, at: session.access_token, rt: session.refresh_token };
  });
  afterAll(() => ts.close());

  describe.each(ENDPOINTS)('%s endpoint', (_name, path, cases) => {
    it.each(cases.map((c) => [c.name, c] as const))(
      '%s → 4xx, RFC error body, store unchanged',
      async (_n, c) => {
        const before = await ts.snapshot();
        const res = await c.send(ctx);
        expectRejection(res, c.status, c.error);
        if (c.challenge) expect(res.headers['www-authenticate']).toMatch(/^Basic /);
        expect(await ts.snapshot()).toBe(before);
      },
    );

    it.each(['GET', 'PUT', 'DELETE', 'PATCH'] as const)(
      '%s → 405 with Allow: POST, store unchanged',
      async (method) => {
        const before = await ts.snapshot();
        const agent = request(t.app);
        const req =
          method === 'GET'
            ? agent.get(path)
            : method === 'PUT'
              ? agent.put(path)
              : method === 'DELETE'
                ? agent.delete(path)
                : agent.patch(path);
        req.set('Authorization', `Basic ${b64(`${RS.id}:${RS.secret}`)}`);
        const res =
          method === 'GET'
            ? await req
            : await req.type('form').send(enc({ token: ctx.at, grant_type: 'client_credentials' }));
        expect(res.headers.allow).toBe('POST');
        expectRejection(res, 405, 'invalid_request');
        expect(await ts.snapshot()).toBe(before);
      },
    );

    it('an Authorization header over 16 KB is refused by node with 431, not 500', async () => {
      const before = await ts.snapshot();
      const res = await request(t.app)
        .post(path)
        .set('Authorization', `Basic ${'QUFB'.repeat(6000)}`)
        .type('form')
        .send('token=x');
      expect(res.status).toBe(431);
      expect(await ts.snapshot()).toBe(before);
    });
  });

  it('password grant: unknown user and wrong password get the same status and body', async () => {
    const before = await ts.snapshot();
    const unknown = await post(t.app, TOKEN, {
      grant_type: 'password',
      client_id: APP.id,
      username: 'mallory',
      password: ALICE.password,
    });
    const wrong = await post(t.app, TOKEN, {
      grant_type: 'password',
      client_id: APP.id,
      username: ALICE.username,
      password: 'not-alice-password',
    });
    expectRejection(unknown, 400, 'invalid_grant');
    expect(wrong.status).toBe(unknown.status);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.headers['www-authenticate']).toBe(unknown.headers['www-authenticate']);
    expect(await ts.snapshot()).toBe(before);
  });

  it("another client's refresh token: invalid_grant, and the token still works for its own client", async () => {
    const session = await signIn(t.app, BOB);
    const stolen = await post(
      t.app,
      TOKEN,
      { grant_type: 'refresh_token', refresh_token: session.refresh_token },
      WEB,
    );
    expectRejection(stolen, 400, 'invalid_grant');
    const own = await refresh(t.app, session.refresh_token);
    expect(own.status).toBe(200);
    expect(own.body.refresh_token).toEqual(expect.any(String));
  });

  it("revoking another client's tokens: invalid_request, and both tokens stay active", async () => {
    const session = await signIn(t.app, BOB);
    expectRejection(
      await post(t.app, REVOKE, { token: session.access_token }, WEB),
      400,
      'invalid_request',
    );
    expectRejection(
      await post(t.app, REVOKE, { token: session.refresh_token }, WEB),
      400,
      'invalid_request',
    );
    expect((await introspect(t.app, session.access_token)).active).toBe(true);
    expect((await introspect(t.app, session.refresh_token)).active).toBe(true);
    expect((await refresh(t.app, session.refresh_token)).status).toBe(200);
  });

  it('hostile token strings at revocation: 200, no effect (RFC 7009 §2.2)', async () => {
    const tokens = [
      '__proto__',
      'constructor',
      'toString',
      'a.b.c',
      '...',
      'e30.e30.',
      `${'A'.repeat(22)}.${'B'.repeat(43)}`,
      '\u0000\u0001',
      '%00',
      "' OR '1'='1",
    ];
    const before = await ts.snapshot();
    for (const token of tokens) {
      const res = await post(t.app, REVOKE, { token, client_id: APP.id });
      expect({ token, status: res.status }).toEqual({ token, status: 200 });
      expect(res.text).toBe('');
    }
    expect(await ts.snapshot()).toBe(before);
    expect((await introspect(t.app, ctx.at)).active).toBe(true);
  });

  it('hostile token strings at introspection: exactly {"active":false}, no effect', async () => {
    const tokens = [
      '__proto__',
      'constructor',
      'toString',
      'a.b.c',
      '...',
      'e30.e30.',
      `${'A'.repeat(22)}.${'B'.repeat(43)}`,
      '\u0000\u0001',
      "' OR '1'='1",
    ];
    const before = await ts.snapshot();
    for (const token of tokens) {
      const res = await post(t.app, INTROSPECT, { token }, RS);
      expect({ token, status: res.status, text: res.text }).toEqual({
        token,
        status: 200,
        text: '{"active":false}',
      });
    }
    expect(await ts.snapshot()).toBe(before);
  });

  it('__proto__, constructor and toString as extra parameter names do not break a valid request', async () => {
    const basic = { Authorization: `Basic ${b64(`${SVC.id}:${SVC.secret}`)}` };
    const res = await raw(
      t.app,
      TOKEN,
      'grant_type=client_credentials&__proto__=x&constructor=y&toString=z&hasOwnProperty=w&scope=print',
      basic,
    );
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('print');
    const rs = { Authorization: `Basic ${b64(`${RS.id}:${RS.secret}`)}` };
    const intro = await raw(
      t.app,
      INTROSPECT,
      `token=${res.body.access_token}&__proto__=x&constructor=y&toString=z`,
      rs,
    );
    expect(intro.status).toBe(200);
    expect(intro.body).toMatchObject({ active: true, client_id: SVC.id });
    // The server is still healthy and Object.prototype was not polluted.
    expect(({} as Record<string, unknown>).grant_type).toBeUndefined();
    expect((await introspect(t.app, ctx.at)).active).toBe(true);
  });
});
