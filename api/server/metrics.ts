// Prometheus metrics, one registry per server so tests can run several servers in one process.

import { Counter, Histogram, Registry, Gauge, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../store/types';

export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  joins: Counter<'method' | 'result' | 'code'>;
}

export function createMetrics(store: Store): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'joinery_process_' });
  const requests = new Counter({ name: 'joinery_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] });
  const duration = new Histogram({ name: 'joinery_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route'] as const, registers: [registry] });
  const joins = new Counter({ name: 'joinery_join_attempts_total', help: 'Join attempts by method, result and refusal code', labelNames: ['method', 'result', 'code'] as const, registers: [registry] });
  new Gauge({
    name: 'joinery_tokens',
    help: 'Stored tokens',
    registers: [registry],
    async collect() {
      this.set((await store.tokens.list()).length);
    },
  });
  new Gauge({
    name: 'joinery_nodes',
    help: 'Joined hosts in the registry',
    registers: [registry],
    async collect() {
      this.set((await store.nodes.list()).length);
    },
  });
  return { registry, requests, duration, joins };
}
