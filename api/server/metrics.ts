// Prometheus metrics, one registry per server so tests can run several servers in one process.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Histogram, Registry, Gauge, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../store/types';

/** The event-loop delay statistics exported, as prom-client names them. */
const LOOP_DELAY_STATS = [
  ['min', (h: ReturnType<typeof monitorEventLoopDelay>) => h.min],
  ['max', (h: ReturnType<typeof monitorEventLoopDelay>) => h.max],
  ['mean', (h: ReturnType<typeof monitorEventLoopDelay>) => h.mean],
  ['stddev', (h: ReturnType<typeof monitorEventLoopDelay>) => h.stddev],
  ['p50', (h: ReturnType<typeof monitorEventLoopDelay>) => h.percentile(50)],
  ['p90', (h: ReturnType<typeof monitorEventLoopDelay>) => h.percentile(90)],
  ['p99', (h: ReturnType<typeof monitorEventLoopDelay>) => h.percentile(99)],
] as const;

export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  joins: Counter<'method' | 'result' | 'code'>;
  renewals: Counter<'result' | 'code' | 'ca'>;
}

export function createMetrics(store: Store, now: () => Date = () => new Date()): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'joinery_process_' });
  // This gauge waits for a turn of the event loop (setImmediate) at every scrape: 3 ms of a 3.5 ms
  // scrape on an idle server, more on a busy one. The loop delay stays exported as the
  // *_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds gauges, which read a histogram
  // (perf_hooks.monitorEventLoopDelay) and cost nothing at scrape time.
  registry.removeSingleMetric('joinery_process_nodejs_eventloop_lag_seconds');
  // prom-client sets the *_lag_{min,...}_seconds gauges from that gauge's collect, so without it
  // they stayed 0. The same figures here, from our own histogram: each scrape reports the delays
  // since the one before (the histogram is reset after the last statistic is read, as prom-client did).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  for (const [i, [stat, read]] of LOOP_DELAY_STATS.entries()) {
    const name = `joinery_process_nodejs_eventloop_lag_${stat}_seconds`;
    registry.removeSingleMetric(name);
    new Gauge({
      name,
      help: `The ${stat} of the event loop delay since the previous scrape, in seconds`,
      registers: [registry],
      collect() {
        this.set(loopDelay.count ? read(loopDelay) / 1e9 : 0);
        if (i === LOOP_DELAY_STATS.length - 1) loopDelay.reset();
      },
    });
  }
  const requests = new Counter({ name: 'joinery_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] });
  const duration = new Histogram({ name: 'joinery_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route'] as const, registers: [registry] });
  const joins = new Counter({ name: 'joinery_join_attempts_total', help: 'Join attempts by method, result and refusal code', labelNames: ['method', 'result', 'code'] as const, registers: [registry] });
  // `ca`: the pin of the CA that issued the new certificate (none when refused); during a CA
  // rotation the renewals move from the old CA's pin to the new one's.
  const renewals = new Counter({ name: 'joinery_renewals_total', help: 'Certificate renewals by result, refusal code and issuing CA (pin)', labelNames: ['result', 'code', 'ca'] as const, registers: [registry] });
  // Counted by the database: a scrape must not read every token and node.
  new Gauge({
    name: 'joinery_tokens',
    help: 'Stored tokens',
    registers: [registry],
    async collect() {
      this.set(await store.tokens.count());
    },
  });
  new Gauge({
    name: 'joinery_nodes',
    help: 'Hosts in the registry by status: active (certificate valid), expired (lapsed without renewal), removed',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      for (const [status, n] of Object.entries(await store.nodes.countByStatus(now()))) this.set({ status }, n);
    },
  });
  return { registry, requests, duration, joins, renewals };
}
