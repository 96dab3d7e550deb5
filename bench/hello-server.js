// The bench's peer: an Express 5 hello-world over HTTPS, with the server timeouts Joinery uses.
const fs = require('node:fs');
const https = require('node:https');
const express = require('express');

const app = express();
app.get('/', (_req, res) => res.send('hello'));
app.post('/', (_req, res) => res.send('hello'));
const server = https.createServer({ key: fs.readFileSync(process.argv[2]), cert: fs.readFileSync(process.argv[3]), minVersion: 'TLSv1.2' }, app);
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)) && server.closeAllConnections());
