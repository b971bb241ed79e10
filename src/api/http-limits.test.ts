/**
 * The API's sockets over real TCP: incomplete headers and stalled bodies are cut off, the
 * connection cap refuses newcomers without disturbing connected clients, and what Node or the
 * router refuse still carries the catalogue's error body.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'node:http';
import { startTestHerald, eventually, type TestHerald } from '../../test/support/herald.js';

/** Connects, writes `bytes`, and gathers what the server sends until the socket closes. */
function exchange(url: string, bytes: string): { socket: Socket; closed: Promise<string> } {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  socket.on('connect', () => socket.write(bytes));
  const closed = new Promise<string>((resolve) => {
    let data = '';
    socket.on('data', (c) => { data += c; });
    socket.on('error', () => {});
    socket.on('close', () => resolve(data));
  });
  return { socket, closed };
}

function errorOf(raw: string): { status: number; headers: string; body: any } {
  const [head, body] = raw.split('\r\n\r\n');
  return { status: Number(head!.split(' ')[1]), headers: head!.toLowerCase(), body: JSON.parse(body!) };
}

describe('with short deadlines (headers 1 s, idle 3 s)', () => {
  let h: TestHerald;
  before(async () => {
    h = await startTestHerald({
      sandbox: false,
      env: { HERALD_ROLE: 'api', HERALD_HTTP_HEADERS_TIMEOUT: '1', HERALD_HTTP_IDLE_TIMEOUT: '3', HERALD_HTTP_REQUEST_TIMEOUT: '10' },
    });
  });
  after(async () => { await h.close(); });

  test('a socket whose headers never end is answered 408 request_timeout and closed', { timeout: 15_000 }, async () => {
    const slow = exchange(h.url, 'GET /healthz HTTP/1.1\r\nHost: herald\r\nX-Slow: a');
    const raw = await slow.closed;
    const e = errorOf(raw);
    assert.equal(e.status, 408);
    assert.equal(e.body.error.code, 'request_timeout');
    assert.match(e.headers, /connection: close/);
  });

  test('a socket that sends nothing is closed', { timeout: 15_000 }, async () => {
    const silent = exchange(h.url, '');
    await silent.closed;
    assert.ok(silent.socket.destroyed);
  });

  test('a body that stalls is cut off and nothing is stored', { timeout: 15_000 }, async () => {
    const op = JSON.stringify([{ identifiers: { custom_id: 'stalled-body' }, attributes: { plan: 'pro' } }]);
    const half = op.slice(0, 20);
    const stalled = exchange(h.url, `POST /v1/profiles/update HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer ${h.project.rest_key}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${op.length}\r\n\r\n${half}`);
    const raw = await stalled.closed;
    if (raw) assert.equal(errorOf(raw).status, 408, raw);
    // A whole line and half of the next, then nothing.
    const piece = JSON.stringify({ identifiers: { custom_id: 'stalled-bulk' } }) + '\n' + half;
    const bulk = exchange(h.url, `POST /v1/profiles/bulk HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer ${h.project.rest_key}\r\n` +
      `Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n${piece.length.toString(16)}\r\n${piece}\r\n`);
    await eventually(async () => {
      const [r] = await h.db.sql`select count(*)::int as n from import_jobs where state = 'uploading'`;
      return r!.n === 1 || undefined;
    }, 5000, 'the upload begun');
    const bulkRaw = await bulk.closed;
    if (bulkRaw) assert.equal(errorOf(bulkRaw).status, 408, bulkRaw);
    assert.equal((await h.call('GET', '/v1/profiles/stalled-body')).status, 404);
    await eventually(async () => {
      const [r] = await h.db.sql`select count(*)::int as n from import_jobs`;
      return r!.n === 0 || undefined;
    }, 5000, 'the stalled upload removed');
  });

  test('a malformed request line gets the error body and Connection: close', { timeout: 15_000 }, async () => {
    const e = errorOf(await exchange(h.url, 'NOT HTTP AT ALL\r\n\r\n').closed);
    assert.equal(e.status, 400);
    assert.equal(e.body.error.code, 'malformed_request');
    assert.match(e.headers, /connection: close/);
    const header = errorOf(await exchange(h.url, 'GET /healthz HTTP/1.1\r\nHost: herald\r\nBad Header: x\r\n\r\n').closed);
    assert.equal(header.body.error.code, 'malformed_request');
    const big = errorOf(await exchange(h.url, `GET /healthz HTTP/1.1\r\nHost: herald\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`).closed);
    assert.equal(big.status, 431);
    assert.equal(big.body.error.code, 'headers_too_large');
  });

  test('paths the router refuses carry catalogue codes: %zz is invalid_path, a segment past 8 KiB path_too_long', async () => {
    const bad = await h.call('GET', '/v1/profiles/%zz');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_path');
    const long = await h.call('GET', `/v1/profiles/${'a'.repeat(9000)}`);
    assert.equal(long.status, 414);
    assert.equal(long.body.error.code, 'path_too_long');
  });
});

describe('with a cap of 8 connections', () => {
  let h: TestHerald;
  before(async () => {
    h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api', HERALD_HTTP_MAX_CONNECTIONS: '8' } });
  });
  after(async () => { await h.close(); });

  /** GET /healthz on an agent's kept-alive socket. */
  function get(agent: Agent | false): Promise<number> {
    const u = new URL(h.url);
    return new Promise((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('past the cap a new connection is refused, connected clients keep working, and service resumes once idle ones close', { timeout: 20_000 }, async () => {
    const good = new Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal(await get(good), 200);
    // Seven idle keep-alive sockets: each made a request and holds its connection.
    const idle: Socket[] = [];
    for (let i = 0; i < 7; i++) {
      const s = exchange(h.url, 'GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n');
      await new Promise<void>((resolve) => s.socket.once('data', () => resolve()));
      idle.push(s.socket);
    }
    const refused = exchange(h.url, 'GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n');
    assert.equal(await refused.closed, '', 'the ninth connection is closed unanswered');
    assert.equal(await get(good), 200, 'a connected client is still served');
    for (const s of idle) s.destroy();
    assert.equal(await eventually(() => get(false).catch(() => undefined), 10_000, 'a new connection served'), 200);
    good.destroy();
  });
});
