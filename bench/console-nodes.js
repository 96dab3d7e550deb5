// The web console's Nodes page over 10,000 hosts: from navigation to the first page's 50 rows in
// Debian's Chromium (playwright-core), against a server whose registry holds that many hosts. The
// page is paged on the server, so the time should not grow with the registry.
const path = require('node:path');
const { openSqliteStore } = require('../dist/api/store/sqlite');
const { startJoinery } = require('./processes');

const HOSTS = 10_000;
const CHROMIUM = process.env.JOINERY_CHROMIUM ?? '/usr/bin/chromium';

/** Registers `count` hosts through the store (the server's own SQLite file, WAL: it serves on). */
async function seed(dataDir, count) {
  const store = await openSqliteStore(path.join(dataDir, 'joinery.db'));
  try {
    const now = new Date();
    const notAfter = new Date(now.getTime() + 24 * 3600_000).toISOString();
    for (let i = 0; i < count; i++) {
      const hostId = `111111111111-i-${i.toString(16).padStart(17, '0')}`;
      await store.nodes.insert(
        { hostId, joinMethod: 'ec2', tokenName: 'ec2-fleet', role: 'Node', joinedAt: now.toISOString(), certSerial: (i + 1).toString(16), certNotAfter: notAfter, attributes: { aws_account: '111111111111', aws_region: 'us-west-2' } },
        now,
      );
    }
  } finally {
    await store.close();
  }
}

async function run() {
  const { chromium } = require('playwright-core');
  const server = await startJoinery();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    await seed(server.dataDir, HOSTS);
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    const url = `https://127.0.0.1:${server.port}/`;
    await page.goto(url);
    await page.getByLabel('Admin credential').fill(server.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const times = [];
    for (let i = 0; i < 5; i++) {
      await page.goto('about:blank');
      const start = performance.now();
      await page.goto(`${url}#/nodes`);
      await page.locator('tbody tr').nth(49).waitFor();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return { hosts: HOSTS, firstPageMs: times[Math.floor(times.length / 2)], rssMb: server.rssMb() };
  } finally {
    await browser.close();
    await server.stop();
  }
}

module.exports = { run };

if (require.main === module) {
  run().then((r) => console.log(JSON.stringify(r)), (e) => {
    console.error(e);
    process.exit(1);
  });
}
