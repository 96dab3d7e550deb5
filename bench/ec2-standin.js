// A loopback stand-in for EC2's DescribeInstances (Query API, XML answers), throttled the way AWS
// throttles it: a token bucket per account and region (by default 100 requests burst, 20 per
// second refill) answering RequestLimitExceeded when empty. It understands the `instance-id`
// filter (unknown IDs are simply absent, as in AWS) and InstanceId.N (one unknown ID fails the
// whole call, as in AWS), MaxResults/NextToken paging, and AWS's 200-value filter limit. The bench
// points the server at it with AWS_ENDPOINT_URL_EC2; tests use it to count calls.
const http = require('node:http');

const MAX_FILTER_VALUES = 200;

function xmlError(res, status, code, message) {
  res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>standin</RequestID></Response>`);
}

function esc(s) {
  return String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);
}

/**
 * opts: { account (for credentials without a mapping), burst, refillPerSecond, now (ms clock),
 * accounts: { accessKeyId: accountId } }. Instances are added with addInstance.
 */
async function startEc2StandIn(opts = {}) {
  const burst = opts.burst ?? 100;
  const refill = opts.refillPerSecond ?? 20;
  const now = opts.now ?? (() => Date.now());
  const defaultAccount = opts.account ?? '123456789012';
  const instances = new Map(); // `${region}|${id}` -> { id, account, region, state }
  const buckets = new Map();
  const stats = { calls: 0, throttled: 0, answered: 0, idsAsked: [], instanceIdsParamCalls: 0, errors: 0 };
  let forced = []; // answers queued by tests: { status, code }

  function takeToken(key) {
    const t = now();
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = { tokens: burst, at: t }));
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * refill);
    b.at = t;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      stats.calls++;
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const auth = req.headers.authorization ?? '';
      const m = /Credential=([^/]+)\/\d{8}\/([^/]+)\/ec2\//.exec(auth);
      if (!m) return xmlError(res, 401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
      const account = opts.accounts?.[m[1]] ?? defaultAccount;
      const region = m[2];
      if (params.get('Action') !== 'DescribeInstances') return xmlError(res, 400, 'InvalidAction', `not supported here: ${esc(params.get('Action'))}`);
      if (forced.length > 0) {
        const f = forced.shift();
        stats.errors++;
        return xmlError(res, f.status, f.code, `${f.code} (forced by the test)`);
      }
      if (!takeToken(`${account}|${region}`)) {
        stats.throttled++;
        return xmlError(res, 503, 'RequestLimitExceeded', 'Request limit exceeded.');
      }
      const filterIds = [];
      for (let f = 1; params.has(`Filter.${f}.Name`); f++) {
        if (params.get(`Filter.${f}.Name`) !== 'instance-id') return xmlError(res, 400, 'InvalidParameterValue', 'only the instance-id filter is supported here');
        for (let v = 1; params.has(`Filter.${f}.Value.${v}`); v++) filterIds.push(params.get(`Filter.${f}.Value.${v}`));
      }
      if (filterIds.length > MAX_FILTER_VALUES) return xmlError(res, 400, 'FilterLimitExceeded', `The maximum number of filter values specified on a single call is ${MAX_FILTER_VALUES}`);
      const explicitIds = [];
      for (let i = 1; params.has(`InstanceId.${i}`); i++) explicitIds.push(params.get(`InstanceId.${i}`));
      if (explicitIds.length) stats.instanceIdsParamCalls++;
      for (const id of explicitIds) {
        const inst = instances.get(`${region}|${id}`);
        if (!inst || inst.account !== account) return xmlError(res, 400, 'InvalidInstanceID.NotFound', `The instance ID '${esc(id)}' does not exist`);
      }
      const asked = [...explicitIds, ...filterIds];
      stats.idsAsked.push(asked.length);
      const found = [...new Set(asked)].map((id) => instances.get(`${region}|${id}`)).filter((i) => i && i.account === account);
      const maxResults = Math.min(Number(params.get('MaxResults') ?? 1000), opts.pageSize ?? 1000);
      const start = Number(params.get('NextToken') ?? 0);
      const page = found.slice(start, start + maxResults);
      const next = start + maxResults < found.length ? String(start + maxResults) : undefined;
      stats.answered++;
      const items = page
        .map((i) => `<item><reservationId>r-${i.id.slice(2)}</reservationId><ownerId>${i.account}</ownerId><groupSet/><instancesSet><item><instanceId>${esc(i.id)}</instanceId><imageId>ami-12c6146b</imageId><instanceState><code>${i.state === 'running' ? 16 : 80}</code><name>${i.state}</name></instanceState><instanceType>t3.micro</instanceType></item></instancesSet></item>`)
        .join('');
      res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>standin</requestId><reservationSet>${items}</reservationSet>${next ? `<nextToken>${next}</nextToken>` : ''}</DescribeInstancesResponse>`);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    stats,
    addInstance(i) {
      instances.set(`${i.region}|${i.id}`, { state: 'running', account: defaultAccount, ...i });
    },
    /** The next requests get these errors, in order, before any bucket or lookup. */
    forceErrors(list) {
      forced = [...list];
    },
    stop() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

module.exports = { startEc2StandIn, MAX_FILTER_VALUES };
