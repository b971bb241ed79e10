/**
 * The Node SDK's retry rules against a local HTTP server that fails in scripted ways: a reset
 * connection, 503, 429 with Retry-After, 400, a gateway's 502, an answer that never comes. Every
 * attempt of one logical call carries the same Idempotency-Key and the same body.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Herald, HeraldError, HeraldTimeoutError } from '../../sdk/node/src/index.js';
import { backoffMs, retryAfterMs } from '../../sdk/node/src/retry.js';
import { freePort } from '../support/process.js';

interface Seen { method: string; url: string; key: string | undefined; body: string }
type Step = (req: IncomingMessage, res: ServerResponse) => void;

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Step => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
};
const reset: Step = (req) => req.socket.destroy();
const never: Step = () => {};
const accepted = json(202, { message_id: '0190a8c4-0000-7000-8000-000000000001' });
const unavailable = json(503, { error: { code: 'database_unavailable', message: 'the database is unreachable; nothing was stored' } }, { 'retry-after': '0' });

/** A server answering the scripted steps in order (the last one repeats), recording each request. */
async function scripted(steps: Step[]) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, key: req.headers['idempotency-key'] as string | undefined, body });
      steps[Math.min(seen.length - 1, steps.length - 1)]!(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    seen, url,
    client: (o: Partial<ConstructorParameters<typeof Herald>[0]> = {}) =>
      new Herald({ url, apiKey: 'hrld_rest_test', retries: { max: 5, baseMs: 1, maxMs: 5 }, ...o }),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const send = { group_id: 'g', recipients: { custom_ids: ['alice'] }, push: { title: 'Hi', body: 'there' } };

test('a reset connection and a 503 are retried with the same Idempotency-Key and body, until the answer', async () => {
  const s = await scripted([reset, unavailable, accepted]);
  try {
    const retries: number[] = [];
    const answer = await s.client({ onRetry: (i) => retries.push(i.attempt) }).messages.send(send);
    assert.equal(answer.message_id, '0190a8c4-0000-7000-8000-000000000001');
    assert.equal(s.seen.length, 3);
    assert.deepEqual(retries, [1, 2]);
    const key = s.seen[0]!.key;
    assert.match(key ?? '', /^[0-9a-f-]{36}$/, 'a UUID made for the call');
    assert.ok(s.seen.every((r) => r.key === key && r.body === JSON.stringify(send) && r.url === '/v1/transactional/send'));
  } finally {
    await s.close();
  }
});

test('two logical calls get two keys; a key the caller gives is the one sent', async () => {
  const s = await scripted([accepted]);
  try {
    const h = s.client();
    await h.messages.send(send);
    await h.messages.send(send);
    await h.messages.send(send, { idempotencyKey: 'order-42-confirmation' });
    assert.notEqual(s.seen[0]!.key, s.seen[1]!.key);
    assert.equal(s.seen[2]!.key, 'order-42-confirmation');
    await h.messages.get('0190a8c4-0000-7000-8000-000000000001');
    assert.equal(s.seen[3]!.key, undefined, 'a read carries no key');
  } finally {
    await s.close();
  }
});

test('a 429 waits its Retry-After (seconds) before the retry', async () => {
  const s = await scripted([json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '1' }), accepted]);
  try {
    const t0 = performance.now();
    await s.client().messages.send(send);
    const waited = performance.now() - t0;
    assert.equal(s.seen.length, 2);
    assert.ok(waited >= 950, `retried after ${waited} ms, before the 1 s Retry-After`);
    assert.equal(s.seen[0]!.key, s.seen[1]!.key);
  } finally {
    await s.close();
  }
});

test('a 400 is not retried: a HeraldError with the API\'s code, status, message and request id', async () => {
  const s = await scripted([json(400, { error: { code: 'no_recipients', message: 'recipients must name at least one' } }, { 'request-id': 'req-7' })]);
  try {
    const err = await s.client().messages.send(send).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof HeraldError && !(err instanceof HeraldTimeoutError));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'no_recipients');
    assert.equal(err.message, 'recipients must name at least one');
    assert.equal(err.requestId, 'req-7');
    assert.equal(err.retryable, false);
    assert.equal(err.attempts, 1);
    assert.equal(s.seen.length, 1);
  } finally {
    await s.close();
  }
});

test('a 422 idempotency_key_reused and a 409 are final', async () => {
  const s = await scripted([
    json(422, { error: { code: 'idempotency_key_reused', message: 'this Idempotency-Key was already used with a different body' } }),
    json(409, { error: { code: 'segment_name_taken', message: 'taken' } }),
  ]);
  try {
    const h = s.client();
    await assert.rejects(h.messages.send(send, { idempotencyKey: 'k' }), (e: HeraldError) => e.code === 'idempotency_key_reused' && e.attempts === 1);
    await assert.rejects(h.segments.create({ name: 'vip', query: { all: [] } }), (e: HeraldError) => e.status === 409 && e.attempts === 1);
    assert.equal(s.seen.length, 2);
  } finally {
    await s.close();
  }
});

test('a call that is not safe to repeat is not retried when its outcome is unknown, and is when it certainly was not applied', async () => {
  const s = await scripted([reset, json(502, {}), unavailable, json(201, { id: 'k1', kind: 'rest', created_at: '2025-01-01T00:00:00Z', revoked_at: null, key: 'hrld_rest_x' })]);
  try {
    const h = s.client();
    // Creating an API key twice makes two keys: after a reset, the SDK cannot know whether it did.
    const lost = await h.project.createKey({ kind: 'rest' }).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(lost instanceof HeraldError);
    assert.equal(lost.code, 'network_error');
    assert.equal(lost.retryable, false);
    assert.match(lost.message, /may or may not have been applied/);
    assert.equal(s.seen.length, 1);
    // A gateway's 502 is as unknown; a 503 from Herald stored nothing, so it is retried.
    await assert.rejects(h.project.createKey({ kind: 'rest' }), (e: HeraldError) => e.status === 502 && e.code === 'http_502' && !e.retryable);
    assert.equal(s.seen.length, 2);
    const key = await h.project.createKey({ kind: 'rest' });
    assert.equal(key.id, 'k1');
    assert.equal(s.seen.length, 4);
    assert.equal(s.seen[2]!.key, s.seen[3]!.key);
  } finally {
    await s.close();
  }
});

test('a refused connection is retried even for a call not safe to repeat, until the retries run out', async () => {
  const port = await freePort(); // nothing listens there
  const h = new Herald({ url: `http://127.0.0.1:${port}`, apiKey: 'k', retries: { max: 2, baseMs: 1, maxMs: 2 } });
  const err = await h.project.createKey({ kind: 'sdk' }).then(() => assert.fail('resolved'), (e: unknown) => e);
  assert.ok(err instanceof HeraldError && !(err instanceof HeraldTimeoutError));
  assert.equal(err.code, 'network_error');
  assert.equal(err.retryable, true);
  assert.equal(err.attempts, 3);
  assert.match(err.message, /ECONNREFUSED/);
});

test('an answer that never comes: each attempt times out, and the call fails at its deadline naming its attempts', async () => {
  const s = await scripted([never]);
  try {
    const t0 = performance.now();
    const err = await s.client({ timeoutMs: 700, attemptTimeoutMs: 150 }).messages.send(send)
      .then(() => assert.fail('resolved'), (e: unknown) => e);
    const took = performance.now() - t0;
    assert.ok(err instanceof HeraldTimeoutError, String(err));
    assert.equal(err.code, 'timeout');
    assert.equal(err.timeoutMs, 700);
    assert.ok(err.attempts >= 3, `${err.attempts} attempts`);
    assert.equal(err.attempts, s.seen.length);
    assert.match(err.message, new RegExp(`within its 700 ms deadline after ${err.attempts} attempts`));
    assert.match(err.message, new RegExp(`idempotencyKey ${s.seen[0]!.key}`));
    assert.ok(s.seen.every((r) => r.key === s.seen[0]!.key));
    assert.ok(took >= 650 && took < 1_500, `failed after ${took} ms`);
  } finally {
    await s.close();
  }
});

test('a Retry-After past the deadline fails the call at once with a HeraldTimeoutError holding the last answer', async () => {
  const s = await scripted([json(503, { error: { code: 'database_unavailable', message: 'down' } }, { 'retry-after': '60' })]);
  try {
    const t0 = performance.now();
    const err = await s.client({ timeoutMs: 5_000 }).messages.send(send).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof HeraldTimeoutError);
    assert.equal(err.lastError?.code, 'database_unavailable');
    assert.equal(err.status, 503);
    assert.equal(err.attempts, 1);
    assert.ok(performance.now() - t0 < 1_000);
  } finally {
    await s.close();
  }
});

test('the typed request reaches any route, filling its path parameters and query', async () => {
  const s = await scripted([json(200, { segments: [], next_cursor: null }), json(204, null)]);
  try {
    const h = s.client();
    const page = await h.request('get', '/v1/segments', undefined, { query: { limit: 5 } });
    assert.deepEqual(page.segments, []);
    await h.request('delete', '/v1/profiles/{custom_id}', undefined, { params: { custom_id: 'a b/c' } });
    assert.equal(s.seen[0]!.url, '/v1/segments?limit=5');
    assert.equal(s.seen[1]!.url, '/v1/profiles/a%20b%2Fc');
    assert.equal(s.seen[1]!.method, 'DELETE');
    assert.ok(s.seen[1]!.key, 'a DELETE carries a key');
  } finally {
    await s.close();
  }
});

test('back-off: full jitter under a doubling ceiling, capped', () => {
  const o = { max: 10, baseMs: 100, maxMs: 1_000 };
  assert.equal(backoffMs(0, o, 0), 0);
  assert.equal(backoffMs(0, o, 0.999), 99);
  assert.equal(backoffMs(3, o, 0.5), 400);
  assert.equal(backoffMs(20, o, 0.999), 999);
});

test('Retry-After: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('2025-03-01T12:00:00Z');
  assert.equal(retryAfterMs('3', now), 3_000);
  assert.equal(retryAfterMs('Sat, 01 Mar 2025 12:00:05 GMT', now), 5_000);
  assert.equal(retryAfterMs('Saturday, 01-Mar-25 12:00:07 GMT', now), 7_000);
  assert.equal(retryAfterMs('Sat, 01 Mar 2025 11:00:00 GMT', now), 0, 'a date in the past: at once');
  assert.equal(retryAfterMs('soon', now), undefined);
  assert.equal(retryAfterMs('-1', now), undefined);
  assert.equal(retryAfterMs(null, now), undefined);
});
