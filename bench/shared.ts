// Shared by the runner and the server child: scenario config and seeded credentials.
export interface ServerConfig {
  /** `echo`: bare Express urlencoded + JSON; `auth`: tokenward's router. */
  kind: 'echo' | 'auth';
  store?: 'memory' | 'redis';
  redisPort?: number;
  /** Redis key prefix, one per variant so variants never share state. */
  prefix?: string;
  /** true: the default rate limits; false: rateLimit: false. */
  rateLimit?: boolean;
  /** How many client_credentials clients (cc-0 … cc-N-1, same secret) to seed. */
  ccClients?: number;
}

export const ISSUER = 'http://localhost:4000';
export const CC_SECRET = 'bench-cc-secret-0123456789';
export const RS = { id: 'bench-rs', secret: 'bench-rs-secret-0123456789' };
export const APP_ID = 'bench-app';
export const USER = { username: 'alice', password: 'alice-password' };
