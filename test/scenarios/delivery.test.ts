/**
 * One push along the whole real path: HTTP API → PostgreSQL commit → queue → worker → APNs over
 * HTTP/2 and TLS → the sandbox's simulator (which verifies the JWT) → outcome recorded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald, eventually, type TestHerald } from '../support/herald.js';
import { testClock } from '../support/clock.js';
import { identityToken } from '../../src/domain/identity-token.js';

const clock = testClock();

let h: TestHerald;
let inspection: string;
before(async () => {
  h = await startTestHerald({ env: { HERALD_MAX_ATTEMPTS: '3' }, overrides: { backoff: { baseMs: 50, maxMs: 200 }, clock } });
  inspection = h.herald.sandbox!.inspectionUrl;
});
after(async () => { await h.close(); });

let n = 0;
const token = () => (++n).toString(16).padStart(8, '0') + 'ab'.repeat(28) + Math.floor(Math.random() * 1e8).toString(16).padStart(8, '0');

async function records(target: string): Promise<any[]> {
  const r = await fetch(`${inspection}/_sandbox/deliveries?channel=apns&target=${target}`);
  return (await r.json()) as any[];
}
async function fault(rule: Record<string, unknown>): Promise<void> {
  const r = await fetch(`${inspection}/_sandbox/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'apns', ...rule }),
  });
  assert.equal(r.status, 201, await r.text());
}
async function sendTo(recipients: unknown, push: Record<string, unknown> = {}): Promise<string> {
  const r = await h.call('POST', '/v1/transactional/send', { group_id: 'e2e', recipients, push: { title: 'Hi', body: 'there', ...push } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.message_id;
}
async function settled(messageId: string, status: string): Promise<any> {
  return eventually(async () => {
    const m = await h.call('GET', `/v1/messages/${messageId}`);
    const r = m.body.recipients?.[0];
    return r && r.status === status ? m.body : undefined;
  }, 20_000, `message ${messageId} → ${status}`);
}

test('an installation registered by custom_id receives the push, signed and with Apple\'s headers', async () => {
  const t = token();
  const reg = await h.call('POST', '/v1/sdk/installations', { install_id: 'dev-1', platform: 'ios', push_token: t, custom_id: 'alice',
    identity_token: identityToken(h.project.identity_secret, 'alice') },
    { authorization: `Bearer ${h.project.sdk_key}` });
  assert.equal(reg.status, 200);
  const id = await sendTo({ custom_ids: ['alice'] }, { deeplink: 'app://home', data: { k: 'v' }, badge: 2, priority: 'normal', collapse_id: 'greeting' });
  const m = await settled(id, 'sent');
  assert.equal(m.state, 'processed');
  assert.equal(m.counts.sent, 1);
  assert.equal(m.recipients[0].install_id, 'dev-1');
  assert.deepEqual([m.recipients[0].channel, m.recipients[0].target, m.recipients[0].target_kind], ['apns', t, 'token']);
  const [rec, ...more] = await records(t);
  assert.equal(more.length, 0, 'delivered once');
  assert.equal(rec.status, 200);
  assert.equal(rec.headers[':path'], `/3/device/${t}`);
  assert.equal(rec.headers['apns-push-type'], 'alert');
  assert.equal(rec.headers['apns-priority'], '5');
  assert.equal(rec.headers['apns-collapse-id'], 'greeting');
  assert.equal(rec.headers['apns-id'], m.recipients[0].delivery_id);
  assert.match(rec.headers.authorization, /^bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  const payload = JSON.parse(Buffer.from(rec.body_base64, 'base64').toString());
  assert.deepEqual(payload.aps, { alert: { title: 'Hi', body: 'there' }, badge: 2 });
  assert.equal(payload.k, 'v');
  assert.deepEqual(payload.herald, { m: id, l: 'app://home' });
});

test('a send\'s W3C traceparent rides on its provider call, a span of the delivery; without one the message id is the trace', async () => {
  const [t1, t2] = [token(), token()];
  const caller = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const r = await h.call('POST', '/v1/transactional/send', { group_id: 'e2e', recipients: { tokens: [{ platform: 'ios', token: t1 }] }, push: { title: 'Hi', body: 'there' } },
    { traceparent: caller });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const traced = await settled(r.body.message_id, 'sent');
  const [rec] = await records(t1);
  const span = traced.recipients[0].delivery_id.replaceAll('-', '').slice(16);
  assert.equal(rec.headers.traceparent, `00-4bf92f3577b34da6a3ce929d0e0e4736-${span}-01`);

  // An invalid traceparent is ignored (W3C Trace Context §4.3), never an error.
  const bad = await h.call('POST', '/v1/transactional/send', { group_id: 'e2e', recipients: { tokens: [{ platform: 'ios', token: t2 }] }, push: { title: 'Hi', body: 'there' } },
    { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' });
  assert.equal(bad.status, 202, JSON.stringify(bad.body));
  const own = await settled(bad.body.message_id, 'sent');
  const [rec2] = await records(t2);
  assert.equal(rec2.headers.traceparent, `00-${own.message_id.replaceAll('-', '')}-${own.recipients[0].delivery_id.replaceAll('-', '').slice(16)}-00`);
});

test('the same token named twice (custom_id and raw token) is delivered once', async () => {
  const t = token();
  await h.call('POST', '/v1/sdk/installations', { install_id: 'dev-dup', platform: 'ios', push_token: t, custom_id: 'dup' });
  const id = await sendTo({ custom_ids: ['dup'], install_ids: ['dev-dup'], tokens: [{ platform: 'ios', token: t }] });
  const m = await settled(id, 'sent');
  assert.equal(m.counts.total, 1);
  assert.equal((await records(t)).length, 1);
});

test('410 Unregistered invalidates the token, and nothing more is sent to it', async () => {
  const t = token();
  await fault({ target_prefix: t, status: 410, reason: 'Unregistered' });
  const first = await settled(await sendTo({ tokens: [{ platform: 'ios', token: t }] }), 'invalidated');
  assert.equal(first.recipients[0].reason, 'Unregistered');
  const second = await settled(await sendTo({ tokens: [{ platform: 'ios', token: t }] }), 'invalidated');
  assert.equal(second.recipients[0].attempts, 0, 'the dead token was not tried again');
  const attempts = await fetch(`${inspection}/_sandbox/deliveries?channel=apns&target=${t}&include=rejected`).then((r) => r.json());
  assert.equal((attempts as unknown[]).length, 1);
});

test('registering the token again revives it', async () => {
  const t = token();
  await fault({ target_prefix: t, status: 410, reason: 'Unregistered', count: 1 });
  await h.call('POST', '/v1/sdk/installations', { install_id: 'dev-revive', platform: 'ios', push_token: t, custom_id: 'revive' });
  await settled(await sendTo({ custom_ids: ['revive'] }), 'invalidated');
  await h.call('POST', '/v1/sdk/installations', { install_id: 'dev-revive', platform: 'ios', push_token: t });
  await settled(await sendTo({ custom_ids: ['revive'] }), 'sent');
});

test('503 with Retry-After and 429 are retried until the simulator recovers', async () => {
  const a = token();
  const b = token();
  await fault({ target_prefix: a, status: 503, reason: 'ServiceUnavailable', retry_after_s: 1, count: 1 });
  await fault({ target_prefix: b, status: 429, reason: 'TooManyRequests', count: 1 });
  const started = Date.now();
  const ma = await settled(await sendTo({ tokens: [{ platform: 'ios', token: a }] }), 'sent');
  assert.ok(Date.now() - started >= 1_000, 'Retry-After was honoured');
  assert.equal(ma.recipients[0].attempts, 2);
  const mb = await settled(await sendTo({ tokens: [{ platform: 'ios', token: b }] }), 'sent');
  assert.equal(mb.recipients[0].attempts, 2);
  const sent = await records(a);
  const all = await fetch(`${inspection}/_sandbox/deliveries?channel=apns&target=${a}&include=rejected`).then((r) => r.json()) as any[];
  assert.equal(sent.length, 1);
  assert.equal(all.length, 2);
  assert.equal(new Set(all.map((r) => r.headers['apns-id'])).size, 1, 'the retry carries the same apns-id');
});

test('after max attempts the delivery fails with its last reason and the job is dead-lettered', async () => {
  const t = token();
  await fault({ target_prefix: t, status: 500, reason: 'InternalServerError' });
  const m = await settled(await sendTo({ tokens: [{ platform: 'ios', token: t }] }), 'failed');
  assert.match(m.recipients[0].reason, /gave up after 3 attempts: InternalServerError/);
  // The outcome is recorded before the job is dead-lettered: wait for the dead letter itself.
  await eventually(async () => {
    clock.advance(1_100); // the queue gauges are read at most once a second
    const metrics = await fetch(h.url + '/metrics').then((r) => r.text());
    return /herald_queue_dead_letters\{topic="delivery\.apns"\} [1-9]/.test(metrics) ? true : undefined;
  }, 10_000, 'the dead letter in /metrics');
});

test('a push whose ttl elapses while it waits to be retried expires instead of arriving late', async () => {
  const t = token();
  await fault({ target_prefix: t, status: 503, reason: 'ServiceUnavailable', retry_after_s: 2, count: 1 });
  const m = await settled(await sendTo({ tokens: [{ platform: 'ios', token: t }] }, { ttl_seconds: 1 }), 'expired');
  assert.equal(m.counts.expired, 1);
  assert.equal((await records(t)).length, 0);
});

test('a message\'s recipients are paged with a cursor', async () => {
  const tokens = Array.from({ length: 5 }, () => ({ platform: 'ios', token: token() }));
  const id = await sendTo({ tokens });
  await eventually(async () => {
    const m = await h.call('GET', `/v1/messages/${id}`);
    return m.body.counts.sent === 5 ? true : undefined;
  });
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await h.call('GET', `/v1/messages/${id}?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.ok(page.body.recipients.length <= 2);
    seen.push(...page.body.recipients.map((r: any) => r.target));
    cursor = page.body.next_cursor;
  } while (cursor);
  assert.deepEqual(seen.sort(), tokens.map((t) => t.token).sort());
});
