// The scenarios: each a set of variants (one server child each) run side by side, and its load.
import { type Child, startServer, stopChild } from './children';
import { dpopCycle, issueBoundTokens, type ProofPlan, proofPlan, signProof } from './dpop-load';
import { revocationLags } from './feed-lag';
import {
  basic,
  bearerCycle,
  CONNECTIONS,
  formRequest,
  issueTokens,
  type Load,
  limited,
  postForm,
  refreshChains,
} from './load';
import type { RunSample } from './report';
import {
  APP_ID,
  CC_SECRET,
  FEED_STATUS,
  INTROSPECT_PATH,
  INTROSPECTIONS,
  OPAQUE_RESOURCE,
  PEER_REFRESH_TOKENS,
  REVOKE_PATH as REVOKE,
  ROUTE,
  type RouteGuard,
  RS,
  type ServerConfig,
  TOKEN_PATH as TOKEN,
  USER,
} from './shared';

export interface Variant {
  id: string;
  label: string;
  server: ServerConfig;
  /** The variant of the same scenario this one's ratio is taken against. */
  vs?: string;
  /** The least ratio (vs `vs`) the performance target sets; the table marks it met or missed. */
  target?: number;
  /** Further comparisons (against peers), each a row of its own, with its own target. */
  also?: { vs: string; target?: number }[];
  /** revocation-lag: the most its p99 lag may be, in ms. */
  lagTarget?: number;
}
export interface Handle extends Child {
  variant: Variant;
  accessToken?: string;
  /** Per-connection positions in a token list, kept across this variant's runs (bearerCycle). */
  cursors?: number[];
  /** guard-dpop: where the next run resumes and how many proofs it needs (dpopCycle). */
  proofs?: ProofPlan;
  /** revocation-lag: how many of the revocable tokens were revoked so far. */
  revoked?: number;
}
export interface Scenario {
  id: string;
  title: string;
  loadMethod: string;
  variants: Variant[];
  /** Before any server starts: scenario-wide set-up; what it returns is added to every variant's config. */
  setup?: () => Promise<Partial<ServerConfig>>;
  /** After the scenario's servers stopped. */
  teardown?: () => Promise<void>;
  /** Once per server, after start: unmeasured set-up. */
  prepare?: (h: Handle) => Promise<void>;
  /** Counted around each measured run (not the warm-up), reported with it. */
  counters?: {
    reset: (h: Handle) => Promise<void>;
    /** `requests`: how many the measured run sent. */
    read: (h: Handle, requests: number) => Promise<Record<string, number> | undefined>;
  };
  /**
   * Requests a warm-up must see answered before its throughput may count as settled: enough for
   * every cache the variant keeps to be full (e.g. every token seen twice).
   */
  warmRequests?: number;
  /**
   * false: a quick run cannot reach this scenario's steady state cheaply, so its quick ratios are
   * labelled not comparable to a full run and get no verdict.
   */
  quickComparable?: boolean;
  /**
   * Runs beside each measured run (not the warm-up), `seconds` long, and may take longer to
   * finish; what it returns is kept with the run (revocation-lag: the lags it timed).
   */
  during?: (h: Handle, seconds: number) => Promise<Pick<RunSample, 'lags' | 'lagFailures'>>;
  /** Before each autocannon run (warm-up and measurement, `seconds` long): the load to send. */
  load: (h: Handle, seconds: number) => Promise<Load>;
}

export interface ScenarioContext {
  redisPort: number;
  /** How many client_credentials clients to spread load over (see run.ts). */
  ccClients: number;
  /** Delete a variant's rate-limit counters (keys `<prefix>rl:*`). */
  clearRateLimits: (prefix: string) => Promise<void>;
  /** Live tokens sent round-robin in the guard `reuse` scenario. */
  reuseTokens: number;
  /** Tokens cycled in the guard `cold` scenario (more than the guard's verified-token cache). */
  coldTokens: number;
  /** revocation-lag: revocations a second during each measured run. */
  revokeRate: number;
  /** revocation-lag: tokens to issue for revoking, enough for every measured run. */
  revokeTokens: number;
}

/** The guard's default tokenCacheSize: cold tokens must outnumber it so that none is found in it. */
const GUARD_TOKEN_CACHE = 10_000;
/** client_credentials clients the guard scenarios' tokens are issued to, round-robin. */
const GUARD_CLIENTS = 16;
/**
 * revocation-lag: the client its revoked tokens are issued to (RFC 7009: only it may revoke them),
 * one the load set's tokens are not issued to.
 */
const REVOKER = `cc-${GUARD_CLIENTS}`;
/** revocation-lag: the most the p99 lag from a revoke's response to the guard's first 401 may be. */
const LAG_TARGET_MS = 250;
/**
 * `BENCH_DPOP_SIGN=inline`: guard-dpop signs every proof during the run instead of before it, to
 * measure what signing in the load generator costs the measurement.
 */
const SIGN_INLINE = process.env.BENCH_DPOP_SIGN === 'inline';

/**
 * The authorization server the guard scenarios verify against (a child of its own, RedisStore,
 * issuer http://127.0.0.1:<port>, scope print registered with service print and no role check),
 * and the tokens it issued: started on first use and shared by the guard scenarios; each set of
 * tokens is issued when a scenario first asks for it.
 */
function guardIssuer(ctx: ScenarioContext) {
  let started: Promise<{ proc: Child['proc']; port: number; issuer: string }> | undefined;
  const auths = Array.from({ length: GUARD_CLIENTS }, (_, i) => basic(`cc-${i}`, CC_SECRET));
  const revoker = basic(REVOKER, CC_SECRET);
  const form = { grant_type: 'client_credentials', scope: 'print' };
  const start = async () => {
    const cfg: ServerConfig = {
      kind: 'auth',
      store: 'redis',
      redisPort: ctx.redisPort,
      prefix: 'bench:guard:',
      rateLimit: false,
      selfIssuer: true,
      printScope: true,
      ccClients: GUARD_CLIENTS + 1,
      // Outlives a full run: every token stays live from issuance to the last guard run.
      accessTokenTtl: 3600,
    };
    const { proc, port } = await startServer('guard-issuer', cfg, 'peer');
    // Each client's first authentication costs one scrypt: pay it one client at a time.
    await limited(GUARD_CLIENTS + 1, 4, (i) => postForm(port, TOKEN, form, auths[i] ?? revoker));
    return { proc, port, issuer: `http://127.0.0.1:${port}` };
  };
  const server = () => {
    started ??= start();
    return started;
  };
  const sets = new Map<string, Promise<unknown>>();
  /** The token set `name`, issued (set-up, not measured) on first use. */
  const tokens = <T>(name: string, issue: (port: number, issuer: string) => Promise<T[]>) => {
    let set = sets.get(name) as Promise<T[]> | undefined;
    if (!set) {
      set = server().then(async ({ port, issuer }) => {
        const t0 = Date.now();
        const all = await issue(port, issuer);
        const secs = ((Date.now() - t0) / 1000).toFixed(1);
        console.log(`  set-up: issued ${all.length} ${name} tokens in ${secs} s (not measured)`);
        return all;
      });
      sets.set(name, set);
    }
    return set;
  };
  return {
    server,
    /** Live tokens sent round-robin (`guard`). */
    reuse: () => tokens('reuse', (port) => issueTokens(port, TOKEN, form, auths, ctx.reuseTokens)),
    /** More tokens than the guard's verified-token cache holds (`guard-cold`). */
    cold: () => {
      if (ctx.coldTokens <= GUARD_TOKEN_CACHE)
        throw new Error(`coldTokens must exceed the guard's cache of ${GUARD_TOKEN_CACHE}`);
      return tokens('cold', (port) => issueTokens(port, TOKEN, form, auths, ctx.coldTokens));
    },
    /** Tokens of REVOKER, outside the load set, to be revoked one by one (`revocation-lag`). */
    revocable: () =>
      tokens('revocable', (port) => issueTokens(port, TOKEN, form, [revoker], ctx.revokeTokens)),
    revoker,
    /** Live DPoP-bound tokens, each bound to a key of its own (`guard-dpop`). */
    dpop: () =>
      tokens('DPoP-bound', (port, issuer) =>
        issueBoundTokens(port, issuer, TOKEN, form, auths, ctx.reuseTokens),
      ),
    stop: async () => {
      if (started) await stopChild((await started).proc);
    },
    /** Introspection requests the issuer answered since the last call (its bench counter). */
    introspections: async () => {
      const { port } = await server();
      const res = await fetch(`http://127.0.0.1:${port}${INTROSPECTIONS}`, { method: 'POST' });
      return ((await res.json()) as { count: number }).count;
    },
  };
}

export function scenarios(ctx: ScenarioContext): Scenario[] {
  const memory = (extra: Partial<ServerConfig> = {}): Variant => ({
    id: 'memory',
    label: 'MemoryStore',
    server: { kind: 'auth', store: 'memory', ...extra },
  });
  const redis = (id: string, label: string, extra: Partial<ServerConfig> = {}): Variant => ({
    id,
    label,
    vs: 'memory',
    server: {
      kind: 'auth',
      store: 'redis',
      redisPort: ctx.redisPort,
      prefix: `bench:${id}:`,
      ...extra,
    },
  });
  /** A peer authorization server (bench/peers/), in memory, no rate limiting. */
  const peer = (kind: 'oidc-provider' | 'oauth2-server', extra: Partial<ServerConfig> = {}) => ({
    id: kind,
    label: kind === 'oidc-provider' ? 'oidc-provider' : 'node-oauth2-server',
    server: { kind, ...extra },
  });
  /** Ratios of a tokenward variant against the peers, with the least ratio each target sets. */
  const vsPeers = (oidc?: number, oauth2?: number, both = true) => [
    { vs: 'oidc-provider', ...(oidc ? { target: oidc } : {}) },
    ...(both ? [{ vs: 'oauth2-server', ...(oauth2 ? { target: oauth2 } : {}) }] : []),
  ];
  const n = ctx.ccClients;
  const ccAuth = Array.from({ length: n }, (_, i) => basic(`cc-${i}`, CC_SECRET));
  const ccForm = { grant_type: 'client_credentials', scope: 'print' };
  const ccLoad: Load = {
    requests: ccAuth.map((a) => formRequest(TOKEN, ccForm, a)),
    verify: (b) => b.includes('"access_token"'),
  };
  const off = { rateLimit: false };
  const issuer = guardIssuer(ctx);
  const routeVariant = (guard: RouteGuard, label: string, target?: number): Variant => ({
    id: guard === 'none' ? 'bare' : guard,
    label,
    ...(guard === 'none' ? {} : { vs: 'bare' }),
    ...(target ? { target } : {}),
    server: {
      kind: 'route',
      guard,
      // A guard in local mode shares its authorization server's store.
      redisPort: ctx.redisPort,
      prefix: 'bench:guard:',
    },
  });
  const okBody = (b: string) => b.includes('"ok":true');
  const guardLoad = (pick: 'reuse' | 'cold') => async (h: Handle) => {
    h.cursors ??= [];
    return bearerCycle(ROUTE, await issuer[pick](), h.cursors, okBody);
  };
  const guardSetup = async () => ({ issuer: (await issuer.server()).issuer });
  /** A guard subscribed to the revocation feed: wait (set-up) until its subscription is live. */
  const subscribed = async (h: Handle) => {
    if (h.variant.server.guard !== 'remote-feed') return;
    const t0 = Date.now();
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${h.port}${FEED_STATUS}`);
      const { status } = (await res.json()) as { status: string };
      if (status === 'subscribed') return;
      if (Date.now() - t0 > 15_000)
        throw new Error(`${h.variant.id}: the guard's feed is still '${status}' after 15 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const remote = (h: Handle) => h.variant.server.guard?.startsWith('remote') ?? false;
  return [
    {
      id: 'baseline',
      title: 'bare Express 5 POST /echo: urlencoded body parsed, JSON answer (the ceiling)',
      loadMethod: 'autocannon, static request',
      variants: [{ id: 'echo', label: 'express echo', server: { kind: 'echo' } }],
      load: async () => ({
        requests: [formRequest('/echo', ccForm)],
        verify: (b) => b.includes('"ok":true'),
      }),
    },
    {
      id: 'client_credentials',
      title: `client_credentials issuance, Basic auth, round-robin over ${n} clients; tokenward vs oidc-provider and node-oauth2-server (in memory, no rate limits), all ES256 JWTs`,
      loadMethod: 'autocannon, static requests',
      variants: [
        { ...memory({ ...off, ccClients: n }), also: vsPeers() },
        { ...redis('redis', 'RedisStore', { ...off, ccClients: n }), also: vsPeers() },
        {
          ...redis('redis-rl', 'RedisStore+limits', { rateLimit: true, ccClients: n }),
          vs: 'redis',
          also: vsPeers(1.5, 1.3),
        },
        peer('oidc-provider', { ccClients: n }),
        peer('oauth2-server', { ccClients: n }),
      ],
      // Each client's first authentication costs one scrypt: pay it before measuring.
      prepare: (h) => limited(n, 4, (i) => postForm(h.port, TOKEN, ccForm, ccAuth[i])),
      warmRequests: 2 * n,
      load: async (h) => {
        if (h.variant.server.rateLimit) await ctx.clearRateLimits(h.variant.server.prefix ?? '');
        return ccLoad;
      },
    },
    {
      id: 'refresh',
      title: `refresh rotation, public client, one family per connection (${CONNECTIONS}); tokenward vs oidc-provider and node-oauth2-server (in memory)`,
      loadMethod:
        'autocannon setupClient + onResponse: each connection sends the refresh_token of its last response',
      variants: [
        { ...memory(off), also: vsPeers() },
        { ...redis('redis', 'RedisStore', off), also: vsPeers(1.5, 1.5) },
        {
          ...redis('redis-rl', 'RedisStore+limits', { rateLimit: { refreshesPerFamily: 1e9 } }),
          vs: 'redis',
        },
        peer('oidc-provider'),
        peer('oauth2-server'),
      ],
      // Fresh families for every run (warm-up and measurement).
      load: async (h) => {
        if (h.variant.server.kind === 'oidc-provider') {
          // It issues refresh tokens only from authorization_code: its child seeds them directly.
          const res = await fetch(
            `http://127.0.0.1:${h.port}${PEER_REFRESH_TOKENS}?n=${CONNECTIONS}`,
            { method: 'POST' },
          );
          if (!res.ok) throw new Error(`${PEER_REFRESH_TOKENS} answered ${res.status}`);
          return refreshChains(TOKEN, APP_ID, ((await res.json()) as { tokens: string[] }).tokens);
        }
        const tokens: string[] = [];
        const signIn = { grant_type: 'password', client_id: APP_ID, ...USER };
        await limited(CONNECTIONS, 4, async () => {
          tokens.push((await postForm(h.port, TOKEN, signIn)).refresh_token as string);
        });
        return refreshChains(TOKEN, APP_ID, tokens);
      },
    },
    {
      id: 'introspection',
      title:
        'introspection of one valid access token, Basic auth (resource server); tokenward (ES256 JWT) vs oidc-provider (opaque token, in memory)',
      loadMethod: 'autocannon, static request',
      variants: [
        { ...memory(off), also: vsPeers(undefined, undefined, false) },
        { ...redis('redis', 'RedisStore', off), also: vsPeers(1.5, undefined, false) },
        peer('oidc-provider'),
      ],
      prepare: async (h) => {
        // oidc-provider introspects opaque access tokens only.
        const form =
          h.variant.server.kind === 'oidc-provider'
            ? { ...ccForm, resource: OPAQUE_RESOURCE }
            : ccForm;
        h.accessToken = (await postForm(h.port, TOKEN, form, ccAuth[0])).access_token;
      },
      load: async (h) => ({
        requests: [
          formRequest(INTROSPECT_PATH, { token: h.accessToken ?? '' }, basic(RS.id, RS.secret)),
        ],
        verify: (b) => b.includes('"active":true'),
      }),
    },
    {
      id: 'guard',
      title: `GET ${ROUTE} (small JSON) bare vs guarded, ES256, ${ctx.reuseTokens} live client_credentials tokens sent round-robin`,
      loadMethod: `autocannon setupClient: connection c cycles tokens c, c+${CONNECTIONS}, …; guard RedisStore with ioredis enableAutoPipelining`,
      variants: [
        routeVariant('none', 'bare route'),
        routeVariant('local', 'authenticate (local)', 0.8),
        routeVariant('service', 'authenticate+requireService'),
        routeVariant('remote', 'authenticate (remote, cacheTtl 1, no feed)', 0.7),
        routeVariant('remote-feed', 'authenticate (remote + feed)', 0.85),
        routeVariant('jwt-bearer', 'express-oauth2-jwt-bearer'),
      ],
      setup: guardSetup,
      prepare: subscribed,
      // Every token seen twice: the verified-token and introspection caches hold all of them.
      warmRequests: 2 * ctx.reuseTokens,
      load: guardLoad('reuse'),
      // Remote mode: how often the introspection cache missed (the issuer counts its calls).
      counters: {
        reset: async (h) => {
          if (remote(h)) await issuer.introspections();
        },
        read: async (h, requests) => {
          if (!remote(h)) return undefined;
          const n = await issuer.introspections();
          return { introspections: n, 'per 1000 requests': Math.round((1000 * n) / requests) };
        },
      },
    },
    {
      id: 'revocation-lag',
      title: `a remote guard subscribed to the revocation feed, loaded as guard (${ctx.reuseTokens} live tokens round-robin, ${CONNECTIONS} connections), while other tokens are revoked one at a time (${ctx.revokeRate} a second): time from each revoke's response to the guard's first 401`,
      loadMethod: `autocannon as guard; beside it each token is sent once (200, now cached), revoked at the authorization server (RFC 7009, Basic auth as the client it was issued to), then sent every 3 ms until 401 (still 200 after 5 s: the run fails)`,
      variants: [
        {
          id: 'remote-feed',
          label: 'authenticate (remote + feed)',
          lagTarget: LAG_TARGET_MS,
          server: routeVariant('remote-feed', '').server,
        },
      ],
      setup: guardSetup,
      prepare: subscribed,
      warmRequests: 2 * ctx.reuseTokens,
      load: guardLoad('reuse'),
      during: async (h, seconds) => {
        const [tokens, { port }] = await Promise.all([issuer.revocable(), issuer.server()]);
        // Each token is revoked once, across all of this variant's runs.
        const nextToken = () => {
          const t = tokens[h.revoked ?? 0];
          if (!t) throw new Error('revocation-lag: out of tokens to revoke');
          h.revoked = (h.revoked ?? 0) + 1;
          return t;
        };
        const count = Math.round(ctx.revokeRate * seconds);
        const plan = {
          guardPort: h.port,
          issuerPort: port,
          revokePath: REVOKE,
          auth: issuer.revoker,
        };
        const { lags, failures } = await revocationLags({ ...plan, nextToken, count, seconds });
        return { lags, lagFailures: failures };
      },
    },
    {
      id: 'guard-cold',
      title: `as guard, but ${ctx.coldTokens} tokens cycled: more than the guard's ${GUARD_TOKEN_CACHE}-entry verified-token cache (LRU), so no request finds its token in it`,
      loadMethod: `autocannon setupClient: connection c cycles tokens c, c+${CONNECTIONS}, …, resuming across runs`,
      variants: [
        routeVariant('none', 'bare route'),
        routeVariant('local', 'authenticate (local)', 0.45),
        routeVariant('jwt-bearer', 'express-oauth2-jwt-bearer'),
      ],
      setup: guardSetup,
      // By design no request finds its token cached, and a quick run cycles fewer tokens than a
      // full one (12,000, not 20,000): its ratios are not those of a full run.
      quickComparable: false,
      load: guardLoad('cold'),
    },
    {
      id: 'guard-dpop',
      title: `GET ${ROUTE} (small JSON) bare vs guarded, ${ctx.reuseTokens} live DPoP-bound ES256 tokens (each bound to a key of its own) sent round-robin, a fresh ES256 proof with every request`,
      loadMethod: `autocannon setupRequest: the next token and a proof for it, from proofs signed before each run (for 1.5× the variant's best rate so far, at least 9,000 req/s); guard RedisStore with ioredis enableAutoPipelining`,
      variants: [
        routeVariant('none', 'bare route'),
        routeVariant('local-dpop', 'authenticate (local, DPoP)', 0.55),
        routeVariant('jwt-bearer-dpop', 'express-oauth2-jwt-bearer (DPoP)'),
      ],
      setup: guardSetup,
      // Every proof key seen once: the guard's parsed proof headers are cached.
      warmRequests: ctx.reuseTokens,
      // The issuer is shared by the guard scenarios: stopped after the last (or with the runner).
      teardown: issuer.stop,
      // The correctness check works: a fresh proof is accepted, the same proof again is not
      // (local-dpop; express-oauth2-jwt-bearer keeps no replay cache and accepts it again).
      prepare: async (h) => {
        const t = (await issuer.dpop())[0];
        if (!t) throw new Error('no DPoP-bound token issued');
        const url = `http://127.0.0.1:${h.port}${ROUTE}`;
        const headers = {
          authorization: `DPoP ${t.token}`,
          dpop: signProof(t.key, 'GET', url, t.ath),
        };
        const [first, again] = [
          (await fetch(url, { headers })).status,
          (await fetch(url, { headers })).status,
        ];
        console.log(
          `  guard-dpop/${h.variant.id}: a fresh proof answers ${first}, the same proof again ${again}`,
        );
        if (first !== 200 || (h.variant.server.guard === 'local-dpop' && again !== 401))
          throw new Error(
            `guard-dpop/${h.variant.id}: expected 200, then 401 for the replayed proof`,
          );
      },
      counters: {
        reset: async () => {},
        // Proofs the pool lacked, signed by the load generator during the measured run: 0 expected.
        read: async (h) => ({
          'proofs signed before': h.proofs?.signed ?? 0,
          'in ms': h.proofs?.signMs ?? 0,
          'proofs signed in the run': h.proofs?.inline ?? 0,
        }),
      },
      load: async (h, seconds) => {
        h.proofs ??= proofPlan();
        const url = new URL(ROUTE, `http://127.0.0.1:${h.port}`);
        return dpopCycle(url, await issuer.dpop(), h.proofs, seconds, okBody, SIGN_INLINE);
      },
    },
  ];
}
