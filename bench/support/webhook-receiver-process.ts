/**
 * The webhook benchmark's receiver, in its own process so its CPU is its own: a node:http server
 * on 127.0.0.1 that answers 204 to every POST and keeps, per path, the webhook-ids it saw (a copy
 * sent twice is counted apart). `node dist/bench/support/webhook-receiver-process.js`; prints its
 * port; `GET /count` answers `{ requests, unique }`, `DELETE /count` forgets everything.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const seen = new Set<string>();
let requests = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/count') {
    if (req.method === 'DELETE') { seen.clear(); requests = 0; }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ requests, unique: seen.size }));
    return;
  }
  req.resume(); // the body is read and dropped: a receiver that verifies is the receiver's cost, not Herald's
  req.on('end', () => {
    requests++;
    seen.add(`${req.url ?? ''} ${String(req.headers['webhook-id'])}`);
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(String((server.address() as AddressInfo).port)));
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
