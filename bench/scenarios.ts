// The scenarios: each a set of variants (one server child each) run side by side, and its load.
import type { Child } from './children';
import {
  basic,
  CONNECTIONS,
  formRequest,
  type Load,
  limited,
  postForm,
  refreshChains,
} from './load';
import { APP_ID, CC_SECRET, RS, type ServerConfig, USER } from './shared';

const TOKEN = '/oauth2/token';

export interface Variant {
  id: string;
  label: string;
  server: ServerConfig;
  /** The variant of the same scenario this one's ratio is taken against. */
  vs?: string;
}
export interface Handle extends Child {
  variant: Variant;
  accessToken?: string;
}
export interface Scenario {
  id: string;
  title: string;
  loadMethod: string;
  variants: Variant[];
  /** Once per server, after start: unmeasured set-up. */
  prepare?: (h: Handle) => Promise<void>;
  /** Before each autocannon run (warm-up and measurement): the load to send. */
  load: (h: Handle) => Promise<Load>;
}

export interface ScenarioContext {
  redisPort: number;
  /** How many client_credentials clients to spread load over (see run.ts). */
  ccClients: number;
  /** Delete a variant's rate-limit counters (keys `<prefix>rl:*`). */
  clearRateLimits: (prefix: string) => Promise<void>;
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
  const n = ctx.ccClients;
  const ccAuth = Array.from({ length: n }, (_, i) => basic(`cc-${i}`, CC_SECRET));
  const ccForm = { grant_type: 'client_credentials', scope: 'print' };
  const ccLoad: Load = {
    requests: ccAuth.map((a) => formRequest(TOKEN, ccForm, a)),
    verify: (b) => b.includes('"access_token"'),
  };
  const off = { rateLimit: false };
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
      title: `client_credentials issuance, Basic auth, round-robin over ${n} clients`,
      loadMethod: 'autocannon, static requests',
      variants: [
        memory({ ...off, ccClients: n }),
        redis('redis', 'RedisStore', { ...off, ccClients: n }),
        {
          ...redis('redis-rl', 'RedisStore+limits', { rateLimit: true, ccClients: n }),
          vs: 'redis',
        },
      ],
      // Each client's first authentication costs one scrypt: pay it before measuring.
      prepare: (h) => limited(n, 4, (i) => postForm(h.port, TOKEN, ccForm, ccAuth[i])),
      load: async (h) => {
        if (h.variant.server.rateLimit) await ctx.clearRateLimits(h.variant.server.prefix ?? '');
        return ccLoad;
      },
    },
    {
      id: 'refresh',
      title: `refresh rotation, public client, one family per connection (${CONNECTIONS})`,
      loadMethod:
        'autocannon setupClient + onResponse: each connection sends the refresh_token of its last response',
      variants: [memory(off), redis('redis', 'RedisStore', off)],
      load: async (h) => {
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
      title: 'introspection of one valid access token, Basic auth (resource server)',
      loadMethod: 'autocannon, static request',
      variants: [memory(off), redis('redis', 'RedisStore', off)],
      prepare: async (h) => {
        h.accessToken = (await postForm(h.port, TOKEN, ccForm, ccAuth[0])).access_token;
      },
      load: async (h) => ({
        requests: [
          formRequest(
            '/oauth2/introspect',
            { token: h.accessToken ?? '' },
            basic(RS.id, RS.secret),
          ),
        ],
        verify: (b) => b.includes('"active":true'),
      }),
    },
  ];
}
