// /metrics exports the event loop's delay since the previous scrape (the gauges prom-client sets
// from the per-scrape probe the server removes, which left them at 0).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createMetrics } from '../../api/server/metrics';
import { openSqliteStore } from '../../api/store/sqlite';

test('a stall of the event loop shows in the next scrape as the loop delay max', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-metrics-'));
  const store = await openSqliteStore(path.join(dir, 'j.db'), { checkpoint: false });
  try {
    const { registry } = createMetrics(store);
    const gauge = (text: string, stat: string) => Number(new RegExp(`^joinery_process_nodejs_eventloop_lag_${stat}_seconds (\\S+)$`, 'm').exec(text)?.[1]);
    await registry.metrics();
    await new Promise((r) => setTimeout(r, 50));
    // Hold the event loop for 150 ms, then let the histogram's timer see it.
    const until = performance.now() + 150;
    while (performance.now() < until);
    await new Promise((r) => setTimeout(r, 50));
    const text = await registry.metrics();
    expect(gauge(text, 'max')).toBeGreaterThanOrEqual(0.14);
    for (const stat of ['min', 'mean', 'stddev', 'p50', 'p90', 'p99']) expect(gauge(text, stat)).toBeGreaterThanOrEqual(0);
    expect(gauge(text, 'p99')).toBeLessThanOrEqual(gauge(text, 'max'));
    expect(text).not.toMatch(/^joinery_process_nodejs_eventloop_lag_seconds /m);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
