// PKCE for the code flow (RFC 7636): the S256 challenge against the RFC's own example, verifier length and alphabet, fresh values each time.
import { createPkce, randomToken, s256 } from '../../lib/client/pkce';

describe('PKCE (RFC 7636)', () => {
  it('computes the S256 challenge of Appendix B', async () => {
    // RFC 7636 Appendix B: "code_verifier = dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" gives
    // "code_challenge = E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".
    expect(await s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('draws a 43-character unreserved verifier (§4.1) and a new one each time', async () => {
    const a = await createPkce();
    const b = await createPkce();
    expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.method).toBe('S256');
    expect(a.challenge).toBe(await s256(a.verifier));
    expect(b.verifier).not.toBe(a.verifier);
    expect(randomToken(24)).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});
