// Optional Prometheus metrics (prom-client, an optional peer dependency): event counters, latency histograms, store gauge.
import type { RequestHandler } from 'express';
import { ConfigError } from './errors';
import type { Events } from './events';

/** A prom-client `Registry` (typed structurally so tokenward's types never need prom-client). */
export interface PromRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** `metrics` option of createAuthServer and createGuard. */
export type MetricsOption = boolean | { registry?: PromRegistry };

// The part of prom-client used here.
interface MetricConfig {
  name: string;
  help: string;
  labelNames?: string[];
  buckets?: number[];
  registers: PromRegistry[];
}
interface Prom {
  Registry: new () => PromRegistry;
  Counter: new (c: MetricConfig) => { inc(labels: Record<string, string>): void };
  Histogram: new (
    c: MetricConfig,
  ) => {
    observe(labels: Record<string, string>, value: number): void;
  };
  Gauge: new (c: MetricConfig) => { set(value: number): void };
}

/** What each event counts under, besides its name: a bounded detail label. */
const DETAIL: Record<string, string> = {
  'token.issued': 'grantType',
  'family.revoked': 'by',
  'access_token.revoked': 'by',
  'client_auth.failed': 'endpoint',
  rate_limited: 'limiter',
  'store.unavailable': 'endpoint',
  'token.rejected': 'reason',
  'feed.published': 'type',
  'feed.closed': 'reason',
  'feed.change': 'type',
  'feed.disconnected': 'reason',
};

export interface Metrics {
  registry: PromRegistry;
  /** Observe the duration of a request, from `start` (process.hrtime.bigint()). */
  observe(labels: Record<string, string>, start: bigint): void;
  handler(): RequestHandler;
}

function loadPromClient(factory: string): Prom {
  try {
    // An optional peer dependency: loaded only when metrics are asked for.
    return require('prom-client') as Prom;
  } catch {
    throw new ConfigError(
      `${factory}: "metrics" needs the prom-client package (npm install prom-client)`,
    );
  }
}

/**
 * Counters for every event of `events`, a latency histogram and (auth server) a store gauge, in
 * `registry` (default: a registry of its own), named `tokenward_<kind>_…`.
 */
export function createMetrics<M>(
  factory: string,
  option: MetricsOption | undefined,
  kind: 'auth' | 'guard',
  events: Events<M>,
): Metrics | undefined {
  if (!option) return undefined;
  const prom = loadPromClient(factory);
  const registry = (option === true ? undefined : option.registry) ?? new prom.Registry();
  let counter: InstanceType<Prom['Counter']>;
  let histogram: InstanceType<Prom['Histogram']>;
  let storeUp: InstanceType<Prom['Gauge']> | undefined;
  try {
    counter = new prom.Counter({
      name: `tokenward_${kind}_events_total`,
      help: `tokenward ${kind === 'auth' ? 'authorization server' : 'guard'} events`,
      labelNames: ['event', 'detail'],
      registers: [registry],
    });
    histogram = new prom.Histogram({
      name: `tokenward_${kind}_request_duration_seconds`,
      help:
        kind === 'auth'
          ? 'token, revocation and introspection request durations'
          : 'guard authentication durations',
      labelNames: kind === 'auth' ? ['endpoint', 'status'] : ['outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    storeUp =
      kind === 'auth'
        ? new prom.Gauge({
            name: 'tokenward_auth_store_up',
            help: '1 while the store answers, 0 after it failed a request',
            registers: [registry],
          })
        : undefined;
  } catch (err) {
    // Another server or guard already registered these names in the given registry, or it is not one.
    throw new ConfigError(
      `${factory}: "metrics.registry" cannot take tokenward's metrics: ${(err as Error).message}`,
    );
  }
  storeUp?.set(1);
  events.tap = (name, payload) => {
    const key = DETAIL[String(name)];
    const detail = key ? String((payload as Record<string, unknown>)[key] ?? '') : '';
    counter.inc({ event: String(name), detail });
    if (name === 'store.unavailable') storeUp?.set(0);
  };
  return {
    registry,
    observe(labels, start) {
      histogram.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
      // Only answers that needed the store say it is back (a 400 or 429 may never reach it).
      if (storeUp && (labels.status === '200' || labels.status === '201')) storeUp.set(1);
    },
    handler() {
      return async function metricsHandler(_req, res) {
        res.setHeader('Content-Type', registry.contentType);
        res.send(await registry.metrics());
      };
    },
  };
}
