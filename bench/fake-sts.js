// A loopback STS stand-in answering GetCallerIdentity after a fixed delay (real STS answers in
// tens of milliseconds), for the IAM join bench through JOINERY_IAM_STS_TEST_ENDPOINT.
const http = require('node:http');

async function startFakeSts({ account, arn, delayMs = 50 }) {
  let calls = 0;
  const body = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${arn}</Arn><UserId>AIDABENCH</UserId><Account>${account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></GetCallerIdentityResponse>`;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(body);
      }, delayMs);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    calls: () => calls,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

module.exports = { startFakeSts };
