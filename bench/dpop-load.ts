// DPoP load (RFC 9449): tokens bound to client keys, a fresh proof per request signed before a run.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type autocannon from 'autocannon';
import { type Load, limited } from './load';

/** A client's proof key: the private half signs, the public JWK travels in every proof's header. */
export interface ProofKey {
  privateKey: KeyObject;
  /** The protected header (typ, alg, jwk), base64url: the same in every proof of the key. */
  header: string;
}

/** An access token bound to `key` (`cnf.jkt`), and `ath`, the hash every proof for it carries. */
export interface BoundToken {
  token: string;
  key: ProofKey;
  ath: string;
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** A fresh ES256 key (P-256). */
export function proofKey(): ProofKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  return {
    privateKey,
    header: b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })),
  };
}

/**
 * A DPoP proof (RFC 9449 §4.2) for `htm` `htu`, issued now, with a random `jti` and, at a resource
 * server, `ath`. Signed with node:crypto, synchronously (an autocannon `setupRequest` cannot wait);
 * ES256 signatures in JWS are r‖s (IEEE P1363), not DER.
 */
export function signProof(key: ProofKey, htm: string, htu: string, ath?: string): string {
  const claims = {
    jti: randomBytes(16).toString('base64url'),
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    ...(ath === undefined ? {} : { ath }),
  };
  const input = `${key.header}.${b64(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: key.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

/**
 * Issue `count` DPoP-bound access tokens (set-up, not measured): client_credentials round-robin
 * over `auths`, each request with a proof of a key of its own (each token a client instance of its
 * own). Throws unless every answer is a DPoP token.
 */
export async function issueBoundTokens(
  port: number,
  issuer: string,
  path: string,
  form: Record<string, string>,
  auths: string[],
  count: number,
): Promise<BoundToken[]> {
  const tokens: BoundToken[] = [];
  const body = new URLSearchParams(form).toString();
  await limited(count, 8, async (i) => {
    const key = proofKey();
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: auths[i % auths.length] ?? '',
        dpop: signProof(key, 'POST', `${issuer}${path}`),
      },
      body,
    });
    const answer = (await res.json()) as Record<string, string>;
    if (!res.ok || answer.token_type !== 'DPoP' || !answer.access_token)
      throw new Error(`set-up: a DPoP token request answered ${res.status} ${answer.error ?? ''}`);
    const token = answer.access_token;
    tokens.push({ token, key, ath: createHash('sha256').update(token).digest('base64url') });
  });
  return tokens;
}

/** What a variant's proof pools learn from run to run (kept on its handle). */
export interface ProofPlan {
  /** Index of the token the next run starts with: each run resumes where the last stopped. */
  next: number;
  /** Most requests a second seen so far (a pool's requests over its run's length); 0: none yet. */
  rate: number;
  /** The current run's pool: proofs signed before the run. */
  signed: number;
  /** Milliseconds signing them took (set-up, not measured). */
  signMs: number;
  /** Requests built so far in the current run. */
  used: number;
  /** Proofs signed during the current run (the pool ran out). */
  inline: number;
  /** The current run's length. */
  seconds: number;
}

/**
 * Requests a second a pool is sized for at least: about the bare route's rate on 2 cores. A short
 * warm-up of a fresh server runs slower than the measured run after it, so a rate learnt from it
 * alone would leave the measured run short of proofs.
 */
const FLOOR_RATE = 6000;
/** Margin over the rate a pool is sized for. */
const MARGIN = 1.5;

export const proofPlan = (): ProofPlan => ({
  next: 0,
  rate: 0,
  signed: 0,
  signMs: 0,
  used: 0,
  inline: 0,
  seconds: 0,
});

/**
 * `GET url` with `Authorization: DPoP <token>` and a `DPoP` proof made for that request: tokens in
 * turn (round-robin over the list, whichever connection asks next), each request with a proof
 * nobody sent before. The proofs are signed before the run, as many as `seconds` need at 1.5× the
 * variant's best rate so far or at 1.5× 6,000 req/s, whichever is more: signing one costs the
 * load generator about as much CPU as sending a request (see bench/README.md), so signing during
 * the run would take CPU from the server under test. Should the pool run out, a proof is signed
 * on the spot and counted (`plan.inline`). `inline: true` signs every proof on the spot (to
 * measure what that costs).
 */
export function dpopCycle(
  url: URL,
  tokens: BoundToken[],
  plan: ProofPlan,
  seconds: number,
  verify: (body: string) => boolean,
  inline = false,
): Load {
  // What the last run consumed tells how fast this variant goes.
  if (plan.seconds > 0) {
    plan.rate = Math.max(plan.rate, plan.used / plan.seconds);
    plan.next = (plan.next + plan.used) % tokens.length;
  }
  const start = plan.next;
  const htu = `${url.origin}${url.pathname}`;
  const headersFor = (i: number) => {
    const t = tokens[(start + i) % tokens.length] as BoundToken;
    return { authorization: `DPoP ${t.token}`, dpop: signProof(t.key, 'GET', htu, t.ath) };
  };
  const t0 = performance.now();
  const size = inline ? 0 : Math.ceil(Math.max(plan.rate, FLOOR_RATE) * seconds * MARGIN);
  const pool: (ReturnType<typeof headersFor> | undefined)[] = Array.from({ length: size }, (_, i) =>
    headersFor(i),
  );
  const signMs = Math.round(performance.now() - t0);
  Object.assign(plan, { signed: size, signMs, used: 0, inline: 0, seconds });
  const request: autocannon.Request = {
    method: 'GET',
    path: url.pathname,
    setupRequest: (req) => {
      const i = plan.used++;
      let headers = pool[i];
      if (headers)
        pool[i] = undefined; // spent: let it be collected
      else {
        plan.inline++;
        headers = headersFor(i);
      }
      return { ...req, headers };
    },
  };
  return {
    requests: [{ method: 'GET', path: url.pathname }],
    verify,
    setupClient: (client) => client.setRequests([{ ...request }]),
  };
}
