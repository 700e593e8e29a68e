// readBearerToken (lib/guard/bearer.ts): every branch, on minimal fake requests.
import type { Request } from 'express';
import { OAuthError } from '../../lib';
import { AuthenticationRequiredError, readBearerToken } from '../../lib/guard/bearer';

interface FakeRequest {
  url?: string;
  /** Authorization header lines, as they arrived (rawHeaders keeps each one). */
  authorization?: string | string[];
  /** Header name spelling used in rawHeaders. */
  rawName?: string;
  body?: unknown;
}

function fake({ url = '/me', authorization, rawName = 'Authorization', body }: FakeRequest) {
  const lines = authorization === undefined ? [] : [authorization].flat();
  const rawHeaders = ['Host', 'rs.example', ...lines.flatMap((v) => [rawName, v])];
  return {
    url,
    // Node keeps only the first Authorization header in req.headers.
    headers: lines.length > 0 ? { host: 'rs.example', authorization: lines[0] } : {},
    rawHeaders,
    body,
  } as unknown as Request;
}

/** The error readBearerToken throws for `req` (fails the test when it returns). */
function errorOf(req: Request): OAuthError {
  try {
    readBearerToken(req);
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
  throw new Error('readBearerToken returned instead of throwing');
}

function expectMalformed(req: Request, description?: RegExp): void {
  const err = errorOf(req);
  expect(err).not.toBeInstanceOf(AuthenticationRequiredError);
  expect(err.error).toBe('invalid_request');
  expect(err.status).toBe(400);
  if (description) expect(err.message).toMatch(description);
}

function expectNoCredentials(req: Request): void {
  const err = errorOf(req);
  expect(err).toBeInstanceOf(AuthenticationRequiredError);
  expect(err.status).toBe(401);
}

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';

describe('readBearerToken', () => {
  describe('the token (RFC 6750 §2.1 b64token)', () => {
    it('returns the token after "Bearer "', () => {
      expect(readBearerToken(fake({ authorization: `Bearer ${JWT}` }))).toBe(JWT);
    });

    it('matches the scheme case-insensitively', () => {
      for (const scheme of ['bearer', 'BEARER', 'bEaReR'])
        expect(readBearerToken(fake({ authorization: `${scheme} ${JWT}` }))).toBe(JWT);
    });

    it('accepts several spaces between scheme and token and strips them all', () => {
      expect(readBearerToken(fake({ authorization: `Bearer    ${JWT}` }))).toBe(JWT);
    });

    it('accepts every b64token character and trailing "=" padding', () => {
      const token = 'AZaz09-._~+/abc==';
      expect(readBearerToken(fake({ authorization: `Bearer ${token}` }))).toBe(token);
      expect(readBearerToken(fake({ authorization: 'Bearer x=' }))).toBe('x=');
    });

    it.each([
      ['nothing after the scheme', 'Bearer'],
      ['only padding', 'Bearer =='],
      ['"=" before other characters', 'Bearer abc=def'],
      ['a space inside the token', 'Bearer abc def'],
      ['a trailing space', `Bearer ${JWT} `],
      ['a comma', 'Bearer abc,def'],
      ['a double quote', 'Bearer abc"def'],
      ['a percent escape', 'Bearer abc%00'],
      ['a tab inside the token', 'Bearer abc\tdef'],
      ['a non-ASCII character', 'Bearer abcé'],
      ['an auth-param list instead of a token', 'Bearer token="abc"'],
    ])('400 invalid_request for %s', (_name, authorization) => {
      expectMalformed(fake({ authorization }), /malformed/);
    });
  });

  describe('no bearer credentials (RFC 6750 §3.1: 401 without an error code)', () => {
    it('no Authorization header', () => {
      expectNoCredentials(fake({}));
    });

    it.each([
      ['Basic', 'Basic YWxpY2U6c2VjcmV0'],
      ['Digest', 'Digest username="alice"'],
      ['"Bearer" glued to the token', `Bearer${JWT}`],
      ['a longer scheme name', `Bearerx ${JWT}`],
      ['a tab instead of a space', `Bearer\t${JWT}`],
      ['an empty header', ''],
    ])('another scheme: %s', (_name, authorization) => {
      expectNoCredentials(fake({ authorization }));
    });
  });

  describe('more than one Authorization header', () => {
    it('two Bearer headers → 400 invalid_request', () => {
      expectMalformed(fake({ authorization: [`Bearer ${JWT}`, `Bearer ${JWT}`] }), /more than one/);
    });

    it('Bearer and Basic → 400 invalid_request, whichever comes first', () => {
      expectMalformed(fake({ authorization: [`Bearer ${JWT}`, 'Basic YTpi'] }), /more than one/);
      expectMalformed(fake({ authorization: ['Basic YTpi', `Bearer ${JWT}`] }), /more than one/);
    });

    it('counts header names case-insensitively', () => {
      expectMalformed(
        fake({ authorization: [`Bearer ${JWT}`, `Bearer ${JWT}`], rawName: 'AUTHORIZATION' }),
        /more than one/,
      );
    });

    it('a single header spelled in any case is one header', () => {
      const req = fake({ authorization: `Bearer ${JWT}`, rawName: 'authorization' });
      expect(readBearerToken(req)).toBe(JWT);
    });
  });

  describe('tokens offered outside the Authorization header (RFC 6750 §2.2, §2.3)', () => {
    it('access_token in the query → 400, even beside a valid header', () => {
      expectMalformed(
        fake({ url: `/me?access_token=${JWT}`, authorization: `Bearer ${JWT}` }),
        /Authorization header only/,
      );
    });

    it('access_token in the query → 400 (not 401) without a header', () => {
      expectMalformed(fake({ url: `/me?access_token=${JWT}` }), /Authorization header only/);
    });

    it('access_token among other query parameters, empty, or percent-encoded → 400', () => {
      for (const url of [
        '/me?a=1&access_token=x&b=2',
        '/me?access_token=',
        '/me?access_token',
        '/me?acc%65ss_token=x',
      ])
        expectMalformed(fake({ url, authorization: `Bearer ${JWT}` }));
    });

    it('other query parameters are fine', () => {
      const req = fake({
        url: '/me?token=x&access_tokens=y&q=access_token',
        authorization: `Bearer ${JWT}`,
      });
      expect(readBearerToken(req)).toBe(JWT);
    });

    it('a "?" with nothing after it is fine', () => {
      expect(readBearerToken(fake({ url: '/me?', authorization: `Bearer ${JWT}` }))).toBe(JWT);
    });

    it('access_token in a parsed body → 400, even beside a valid header', () => {
      expectMalformed(
        fake({ body: { access_token: JWT }, authorization: `Bearer ${JWT}` }),
        /Authorization header only/,
      );
      expectMalformed(fake({ body: { access_token: JWT } }));
    });

    it('a body member access_token with an empty or undefined value → 400', () => {
      expectMalformed(fake({ body: { access_token: '' }, authorization: `Bearer ${JWT}` }));
      expectMalformed(fake({ body: { access_token: undefined }, authorization: `Bearer ${JWT}` }));
    });

    it.each([
      ['undefined', undefined],
      ['null', null],
      ['a string mentioning access_token', 'access_token=abc'],
      ['an object without access_token', { token: 'x' }],
      ['an array', ['access_token']],
    ])('a body that is %s does not count', (_name, body) => {
      expect(readBearerToken(fake({ body, authorization: `Bearer ${JWT}` }))).toBe(JWT);
    });
  });
});
