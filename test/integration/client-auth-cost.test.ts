// An unknown client id costs no scrypt: random ids (each with its own per-client limit) cannot spend the server's CPU.
import * as secrets from '../../lib/tokens/secrets';
import { buildApp, post, SVC, seed, TOKEN } from '../helpers/app';
import { makeStore, type TestStore } from '../helpers/stores';

let ts: TestStore;
beforeAll(async () => {
  ts = await makeStore('memory', 'client-auth-cost');
});
afterAll(() => ts.close());
afterEach(() => jest.restoreAllMocks());

it('unknown client ids are refused without a secret check; a known client with a wrong secret gets one', async () => {
  const t = buildApp(ts.store);
  await seed(t.auth);
  const verify = jest.spyOn(secrets, 'verifySecret');
  for (let i = 0; i < 20; i++) {
    const res = await post(
      t.app,
      TOKEN,
      { grant_type: 'client_credentials' },
      { id: `random-${i}`, secret: 'some-secret-0123456789' },
    );
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  }
  expect(verify).not.toHaveBeenCalled();
  const wrong = await post(
    t.app,
    TOKEN,
    { grant_type: 'client_credentials' },
    { id: SVC.id, secret: 'wrong-secret-0123456789' },
  );
  expect(wrong.status).toBe(401);
  expect(wrong.body.error).toBe('invalid_client');
  expect(verify).toHaveBeenCalledTimes(1);
});
