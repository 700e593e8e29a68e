// Password and client-secret hashing behind a concurrency cap and a bounded queue: a flood of wrong
// secrets waits its turn or is refused at once (503), it never piles up scrypt work without bound.
import { OAuthError } from '../errors';
import { hashSecret, needsRehash, verifySecret } from '../tokens/secrets';

/** The parsed `passwordHashing` option. */
export interface HashingConfig {
  /** log2 of scrypt's N for new hashes (17: N=2^17, r=8, p=1). */
  scryptCost: number;
  /** scrypt computations running at once (each takes a libuv thread and 128·N·8 bytes). */
  maxConcurrent: number;
  /** Requests waiting for a turn; past this a request is answered 503 at once. */
  maxQueued: number;
}

/** Counters a test or a metrics scrape can read. */
export interface HashingStats {
  /** Computations running now. */
  active: number;
  /** The most that ever ran at once. */
  peak: number;
  /** Waiting now. */
  queued: number;
  /** Refused because the queue was full. */
  refused: number;
}

/** Refusal when the queue is full: the client retries shortly (RFC 6749 §5.2 temporarily_unavailable). */
function busy(): OAuthError {
  return new OAuthError(
    'temporarily_unavailable',
    'too many credential checks in progress; retry later',
    503,
    { 'Retry-After': '1' },
  );
}

/**
 * scrypt for one authorization server: `verify` and `hash` run at most `maxConcurrent` at once and
 * queue at most `maxQueued` more; beyond that they throw a 503 OAuthError without computing.
 *
 * @example
 * const hashing = new Hashing({ scryptCost: 17, maxConcurrent: 2, maxQueued: 16 });
 * if (await hashing.verify(password, user.passwordHash)) …
 */
export class Hashing {
  private active = 0;
  private peak = 0;
  private refused = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly config: Readonly<HashingConfig>) {}

  /** A snapshot of the counters. */
  stats(): HashingStats {
    return {
      active: this.active,
      peak: this.peak,
      queued: this.waiting.length,
      refused: this.refused,
    };
  }

  /** Run `task` when a slot is free; throws the 503 when the queue is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.config.maxConcurrent) {
      if (this.waiting.length >= this.config.maxQueued) {
        this.refused++;
        throw busy();
      }
      // The slot is handed over by release(): `active` already counts this task when it resumes.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    this.peak = Math.max(this.peak, this.active);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Compare `secret` with a stored hash (constant time), in turn. */
  verify(secret: string, stored: string): Promise<boolean> {
    return this.run(() => verifySecret(secret, stored));
  }

  /** Hash `secret` at the configured cost, in turn. */
  hash(secret: string): Promise<string> {
    return this.run(() => hashSecret(secret, this.config.scryptCost));
  }

  /** True when `stored` was made at a lower cost than the configured one. */
  needsRehash(stored: string): boolean {
    return needsRehash(stored, this.config.scryptCost);
  }
}
