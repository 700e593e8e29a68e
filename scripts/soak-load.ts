// Soak load: a mixed workload of issuance, guarded calls, rotations, introspection, revocations and sign-ins.
import { CLIENT, PUBLIC, RS, USER } from './soak-server';

/** Concurrent loops, and the refresh families they share out (each loop owns its own). */
export const LOOPS = 8;
export const FAMILIES = 40;

const basic = (c: { id: string; secret: string }) =>
  `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`;

/**
 * Mixed load: 30 % client_credentials issuance, 30 % guarded calls, 25 % rotations (a sign-in when
 * the family has ended), 14 % introspection, 1 % revocations. Revocations are few because each
 * costs a password sign-in (scrypt), which would otherwise dominate the CPU.
 */
export class Load {
  requests = 0;
  failed = 0;
  failures = new Map<string, number>();
  private readonly access: string[] = [];
  private readonly families: (string | undefined)[] = new Array(FAMILIES).fill(undefined);
  constructor(private readonly base: string) {}

  private async call(url: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
    this.requests++;
    try {
      const res = await fetch(`${this.base}${url}`, {
        ...init,
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (res.status !== 200) {
        // A family past its maximum age refused with invalid_grant is the expected end of a chain.
        const ended = res.status === 400 && /expired/.test(String(body.error_description));
        if (!ended) this.fail(`${url} ${res.status} ${body.error ?? ''}`);
        return { status: res.status, ...body };
      }
      return { status: 200, ...body };
    } catch (err) {
      this.fail(`${url} ${(err as Error).name}`);
      return { status: 0 };
    }
  }

  private fail(why: string) {
    this.failed++;
    this.failures.set(why, (this.failures.get(why) ?? 0) + 1);
  }

  private form(body: Record<string, string>, auth?: string): RequestInit {
    return {
      method: 'POST',
      headers: auth ? { Authorization: auth } : {},
      body: new URLSearchParams(body),
    };
  }

  private async issue() {
    const r = await this.call(
      '/oauth2/token',
      this.form({ grant_type: 'client_credentials' }, basic(CLIENT)),
    );
    if (typeof r.access_token === 'string') {
      this.access.push(r.access_token);
      if (this.access.length > 200) this.access.shift();
    }
  }

  private async guarded() {
    const token = this.access[Math.floor(Math.random() * this.access.length)];
    if (!token) return this.issue();
    await this.call('/resource', { headers: { Authorization: `Bearer ${token}` } });
  }

  private async introspect() {
    const token = this.access[Math.floor(Math.random() * this.access.length)];
    if (!token) return this.issue();
    await this.call('/oauth2/introspect', this.form({ token }, basic(RS)));
  }

  /** Refresh a family, signing in again when it has none or it ended (max age reached). */
  private async rotate(i: number) {
    const held = this.families[i];
    if (!held) {
      const r = await this.call(
        '/oauth2/token',
        this.form({ grant_type: 'password', client_id: PUBLIC, ...USER }),
      );
      this.families[i] = typeof r.refresh_token === 'string' ? r.refresh_token : undefined;
      return;
    }
    const r = await this.call(
      '/oauth2/token',
      this.form({ grant_type: 'refresh_token', client_id: PUBLIC, refresh_token: held }),
    );
    this.families[i] = typeof r.refresh_token === 'string' ? r.refresh_token : undefined;
  }

  private async revoke(i: number) {
    const held = this.families[i];
    if (!held) return this.rotate(i);
    this.families[i] = undefined;
    await this.call('/oauth2/revoke', this.form({ token: held, client_id: PUBLIC }));
  }

  /** One operation from loop `loop`, which owns families loop, loop + LOOPS, …: never two at once. */
  async step(loop: number) {
    const p = Math.random();
    const f = loop + LOOPS * Math.floor(Math.random() * (FAMILIES / LOOPS));
    if (p < 0.3) await this.issue();
    else if (p < 0.6) await this.guarded();
    else if (p < 0.85) await this.rotate(f);
    else if (p < 0.99) await this.introspect();
    else await this.revoke(f);
  }
}
