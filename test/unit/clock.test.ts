// The clock option (epoch milliseconds, Date.now-compatible) and the epoch-seconds Clock derived from it.
import { decodeJwt } from 'jose';
import { ConfigError, createAuthServer, createGuard, MemoryStore, TokenManager } from '../../lib';
import { epochMilliseconds, epochSeconds, secondsOf } from '../../lib/core/clock';
import { buildApp, post, SVC, seed, TOKEN } from '../helpers/app';

describe('clock', () => {
  it('secondsOf: whole seconds rounded down; the wall clock gives epochSeconds itself', () => {
    expect(secondsOf(() => 1_700_000_000_999)()).toBe(1_700_000_000);
    expect(secondsOf(() => 1_700_000_001_000)()).toBe(1_700_000_001);
    expect(secondsOf(epochMilliseconds)).toBe(epochSeconds);
  });

  it.each([
    ['not a function', 1_700_000_000_000],
    ['a clock in seconds', () => 1_700_000_000],
    ['a clock returning NaN', () => Number.NaN],
  ])('createAuthServer and createGuard reject %s at start-up', (_name, clock) => {
    const issuer = 'http://localhost:4000';
    const store = new MemoryStore();
    try {
      expect(() => createAuthServer({ issuer, store, clock: clock as never })).toThrow(
        /"clock" must be a function returning epoch milliseconds/,
      );
      expect(() => createGuard({ issuer, store, clock: clock as never })).toThrow(ConfigError);
    } finally {
      void store.close();
    }
  });

  it('TokenManager rejects a clock that is not a function', () => {
    expect(
      () =>
        new TokenManager({ issuer: 'http://localhost:4000', clientId: 'app', clock: 1 as never }),
    ).toThrow(ConfigError);
  });

  it('an injected clock stamps the tokens the server issues', async () => {
    const at = Date.UTC(2030, 0, 1, 0, 0, 0, 999);
    const store = new MemoryStore({ now: () => Math.floor(at / 1000) });
    const t = buildApp(store, { clock: () => at });
    try {
      await seed(t.auth);
      const res = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
      expect(res.status).toBe(200);
      const claims = decodeJwt(res.body.access_token);
      expect(claims.iat).toBe(Math.floor(at / 1000));
      expect(claims.exp).toBe(Math.floor(at / 1000) + 600);
    } finally {
      await store.close();
    }
  });
});
