// The `revocationFeed` option of createAuthServer: Server-Sent Events of what ended, for remote guards.
import type { KeysEnum } from '../core/known-keys';
import { ConfigError } from '../errors';
import { omitUndefined, rejectUnknownKeys, seconds } from './parse';

export interface RevocationFeedOptions {
  /**
   * Seconds between heartbeats on a quiet stream (default 10, 1-60). A guard that hears nothing for
   * three of them takes the stream for dead, falls back to its short `cacheTtl` and reconnects.
   */
  heartbeat?: number;
  /**
   * Bytes a subscriber may leave unread before its stream is closed (default 256 KiB): it then
   * reconnects with Last-Event-ID and catches up from the store, or is told to drop its cache.
   */
  maxBuffer?: number;
  /** Streams one client may hold open on this instance (default 16); more are answered 429. */
  maxStreamsPerClient?: number;
}

export interface RevocationFeedConfig {
  heartbeat: number;
  maxBuffer: number;
  maxStreamsPerClient: number;
}

const KNOWN: KeysEnum<RevocationFeedOptions> = {
  heartbeat: true,
  maxBuffer: true,
  maxStreamsPerClient: true,
};

const whole = (f: string, name: string, v: unknown, min: number, max: number): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ConfigError(`${f}: "${name}" must be a whole number from ${min} to ${max}`);
  return v;
};

/** Validate `revocationFeed`: on by default; `false` turns the endpoint and its writes off. */
export function parseRevocationFeedOptions(
  f: string,
  option: boolean | RevocationFeedOptions | undefined,
): RevocationFeedConfig | false {
  if (option === false) return false;
  if (option !== undefined && option !== true && (typeof option !== 'object' || option === null))
    throw new ConfigError(
      `${f}: "revocationFeed" must be true, false or { heartbeat?, maxBuffer?, maxStreamsPerClient? }`,
    );
  const o = typeof option === 'object' ? option : {};
  rejectUnknownKeys(`${f} revocationFeed`, o, KNOWN);
  const d = omitUndefined(o);
  return {
    heartbeat: seconds(f, 'revocationFeed.heartbeat', d.heartbeat ?? 10, 1, 60),
    maxBuffer: whole(f, 'revocationFeed.maxBuffer', d.maxBuffer ?? 256 * 1024, 1024, 64 << 20),
    maxStreamsPerClient: whole(
      f,
      'revocationFeed.maxStreamsPerClient',
      d.maxStreamsPerClient ?? 16,
      1,
      10_000,
    ),
  };
}
