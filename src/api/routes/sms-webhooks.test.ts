/**
 * Twilio's webhooks against a real database and real HTTP: callbacks and inbound messages signed
 * by the SMS simulator itself (and by hand, to send them out of order or forge them).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { testDatabase, type TestDatabase } from '../../../test/support/database.js';
import { silentLogger } from '../../observability/logger.js';
import { createMetrics } from '../../observability/metrics.js';
import { createEvents } from '../../worker/events.js';
import { createPostgresQueue } from '../../queue/postgres/queue.js';
import { createProject } from '../../store/projects.js';
import { recordSmsSends } from '../../store/sms.js';
import { createSmsSender } from '../../providers/sms/client.js';
import { twilioSignature } from '../../providers/sms/signature.js';
import { smsSegments } from '../../domain/sms-segments.js';
import { phoneNumber, startSmsTestSandbox, type SmsTestSandbox } from '../../../test/support/sandbox-sms.js';
import { buildApp } from '../app.js';
import { emptyTwiml, smsInboundUrl, smsStatusCallbackUrl } from './sms-webhooks.js';
import { testMasterKey } from '../../../test/support/keyring.js';

const { keyring } = testMasterKey();

let db: TestDatabase;
let app: FastifyInstance;
let base: string;
let sb: SmsTestSandbox;
let projectA: string;
let projectB: string;
let restKeyA: string;
const tokenB = 'b'.repeat(32);
const tokens = new Map<string, string>();

before(async () => {
  db = await testDatabase();
  sb = await startSmsTestSandbox({ callbackDelayMs: 5 });
  ({ project_id: projectA, rest_key: restKeyA } = await createProject(db.sql, 'a', keyring));
  projectB = (await createProject(db.sql, 'b', keyring)).project_id;
  tokens.set(projectA, sb.sim.credentials.auth_token);
  tokens.set(projectB, tokenB);
  const log = silentLogger();
  const queue = createPostgresQueue({ sql: db.sql, log, maxAttempts: 5 });
  // The public URL is only known once listening; the routes read it per request.
  const smsWebhooks = { authTokenFor: async (id: string) => tokens.get(id), publicBaseUrl: undefined as string | undefined };
  app = await buildApp({ keyring, sql: db.sql, queue, log, metrics: createMetrics({ events: createEvents(), queue }), checkResponses: true, smsWebhooks });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await app.close();
  await sb.close();
  await db.close();
});

/** A message and one SMS delivery to `to` in `projectId`, as the worker would have queued it. */
async function queuedDelivery(projectId: string, to: string, sid: string | null = null): Promise<string> {
  const messageId = randomUUID();
  const id = randomUUID();
  await db.sql`insert into messages (id, project_id, group_id, recipients, content) values (${messageId}, ${projectId}, 'g', '{}'::jsonb, '{"push": {}}'::jsonb)`;
  await db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind, provider_message_id) values (${id}, ${messageId}, ${projectId}, 'sms', ${to}, 'number', ${sid})`;
  return id;
}

async function deliveryRow(id: string) {
  const [row] = await db.sql<{ status: string; reason: string | null; provider_message_id: string | null; segments: number | null; encoding: string | null }[]>`
    select status, reason, provider_message_id, segments, encoding from deliveries where id = ${id}`;
  return row!;
}

/** POSTs a form to `url` signed with `token` (or with `signature` as given). */
async function postSigned(url: string, params: Record<string, string>, token: string | null, signature?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const sig = signature ?? (token === null ? undefined : twilioSignature(token, url, params));
  if (sig !== undefined) headers['x-twilio-signature'] = sig;
  const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  const text = await res.text();
  let body: any = text;
  try { body = JSON.parse(text); } catch { /* TwiML or empty */ }
  return { status: res.status, contentType: res.headers.get('content-type'), body };
}

const statusParams = (sid: string, status: string, extra: Record<string, string> = {}) =>
  ({ MessageSid: sid, MessageStatus: status, AccountSid: sb.sim.credentials.account_sid, To: '+15551230000', From: '+15005550006', ...extra });

async function waitForStatus(id: string, status: string): Promise<void> {
  const until = Date.now() + 10_000;
  while ((await deliveryRow(id)).status !== status) {
    if (Date.now() > until) throw new Error(`delivery ${id} is ${(await deliveryRow(id)).status}, not ${status}, after 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const fakeSid = () => 'SM' + randomUUID().replace(/-/g, '');

test('end to end: a send through the simulator ends delivered, by callbacks the route verified', async () => {
  const to = phoneNumber();
  const id = await queuedDelivery(projectA, to);
  const sender = createSmsSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const body = 'Your code: 123456 ✓';
    const o = await sender.send({ ...sb.sim.credentials, endpoint: sb.sim.url },
      { to, from: '+15005550006', body, statusCallback: smsStatusCallbackUrl(base, projectA, id) });
    assert.equal(o.kind, 'delivered');
    const seg = smsSegments(body);
    await recordSmsSends(db.sql, projectA, [{ deliveryId: id, providerMessageId: o.kind === 'delivered' ? o.providerId! : '', segments: seg.segments, encoding: seg.encoding }]);
    await waitForStatus(id, 'delivered');
    const row = await deliveryRow(id);
    assert.equal(row.provider_message_id, o.kind === 'delivered' ? o.providerId : undefined);
    assert.equal(row.encoding, 'UCS-2');
    assert.equal(row.segments, 1);
    assert.equal(row.reason, null);
  } finally {
    await sender.close();
  }
});

test('a fault naming 30003 ends the delivery undelivered with that reason', async () => {
  const to = phoneNumber('+1888');
  sb.faults.add({ channel: 'sms', target_prefix: to, status: 400, reason: '30003' });
  const id = await queuedDelivery(projectA, to);
  const sender = createSmsSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const o = await sender.send({ ...sb.sim.credentials, endpoint: sb.sim.url },
      { to, from: '+15005550006', body: 'x', statusCallback: smsStatusCallbackUrl(base, projectA, id) });
    assert.equal(o.kind, 'delivered');
    await waitForStatus(id, 'undelivered');
    assert.equal((await deliveryRow(id)).reason, '30003: unreachable destination handset');
  } finally {
    await sender.close();
  }
});

test('a missing, wrong, or other project\'s signature is a 403 and changes nothing', async () => {
  const sid = fakeSid();
  const id = await queuedDelivery(projectA, phoneNumber(), sid);
  const url = smsStatusCallbackUrl(base, projectA);
  const params = statusParams(sid, 'delivered');
  for (const r of [
    await postSigned(url, params, null),
    await postSigned(url, params, 'f'.repeat(32)),
    await postSigned(url, params, tokenB),
    await postSigned(url, params, null, twilioSignature(sb.sim.credentials.auth_token, url + '?x=1', params)),
    await postSigned(url, { ...params, MessageStatus: 'failed' }, null, twilioSignature(sb.sim.credentials.auth_token, url, params)),
  ]) {
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'invalid_webhook_signature');
    assert.doesNotMatch(r.body.error.message, new RegExp(sb.sim.credentials.auth_token));
  }
  const unknownProject = smsStatusCallbackUrl(base, randomUUID());
  assert.equal((await postSigned(unknownProject, params, sb.sim.credentials.auth_token)).status, 403);
  assert.equal((await postSigned(smsStatusCallbackUrl(base, 'not-a-uuid'), params, sb.sim.credentials.auth_token)).status, 403);
  assert.equal((await deliveryRow(id)).status, 'queued');
  // The same request, rightly signed, goes through.
  assert.equal((await postSigned(url, params, sb.sim.credentials.auth_token)).status, 204);
  assert.equal((await deliveryRow(id)).status, 'delivered');
});

test('statuses only move forward: sent after delivered, or undelivered after delivered, change nothing', async () => {
  const token = sb.sim.credentials.auth_token;
  const url = smsStatusCallbackUrl(base, projectA);
  const sid = fakeSid();
  const id = await queuedDelivery(projectA, phoneNumber(), sid);
  assert.equal((await postSigned(url, statusParams(sid, 'sending'), token)).status, 204);
  assert.equal((await deliveryRow(id)).status, 'queued', 'in flight: nothing recorded');
  await postSigned(url, statusParams(sid, 'sent'), token);
  assert.equal((await deliveryRow(id)).status, 'sent');
  await postSigned(url, statusParams(sid, 'delivered'), token);
  await postSigned(url, statusParams(sid, 'sent'), token);
  await postSigned(url, statusParams(sid, 'undelivered', { ErrorCode: '30005' }), token);
  assert.deepEqual(await deliveryRow(id), { status: 'delivered', reason: null, provider_message_id: sid, segments: null, encoding: null });

  // Out of order from the start: delivered first, then the late sent.
  const sid2 = fakeSid();
  const id2 = await queuedDelivery(projectA, phoneNumber(), sid2);
  await postSigned(url, statusParams(sid2, 'failed', { ErrorCode: '30007' }), token);
  await postSigned(url, statusParams(sid2, 'sent'), token);
  assert.deepEqual([(await deliveryRow(id2)).status, (await deliveryRow(id2)).reason], ['failed', '30007: message filtered']);
});

test('a callback only reaches its own project\'s deliveries, and a delivery id must agree with a known SID', async () => {
  const sid = fakeSid();
  const id = await queuedDelivery(projectA, phoneNumber(), sid);
  // Project B's own, valid signature over its own URL, naming project A's message: nothing moves.
  assert.equal((await postSigned(smsStatusCallbackUrl(base, projectB), statusParams(sid, 'delivered'), tokenB)).status, 204);
  assert.equal((await postSigned(smsStatusCallbackUrl(base, projectB, id), statusParams(sid, 'delivered'), tokenB)).status, 204);
  assert.equal((await deliveryRow(id)).status, 'queued');
  // Project A's URL naming the delivery but another SID: nothing moves either.
  await postSigned(smsStatusCallbackUrl(base, projectA, id), statusParams(fakeSid(), 'delivered'), sb.sim.credentials.auth_token);
  assert.equal((await deliveryRow(id)).status, 'queued');
});

test('a callback naming its delivery records it even before the SID was recorded', async () => {
  const id = await queuedDelivery(projectA, phoneNumber());
  const sid = fakeSid();
  await postSigned(smsStatusCallbackUrl(base, projectA, id), statusParams(sid, 'sent'), sb.sim.credentials.auth_token);
  assert.deepEqual([(await deliveryRow(id)).status, (await deliveryRow(id)).provider_message_id], ['sent', sid]);
});

test('a signed callback without MessageStatus, or with a bad delivery id, is a 400', async () => {
  const url = smsStatusCallbackUrl(base, projectA);
  const noStatus = await postSigned(url, { MessageSid: fakeSid() }, sb.sim.credentials.auth_token);
  assert.equal(noStatus.status, 400);
  assert.equal(noStatus.body.error.code, 'missing_field');
  const badId = await postSigned(`${url}?d=42`, statusParams(fakeSid(), 'sent'), sb.sim.credentials.auth_token);
  assert.equal(badId.status, 400);
  assert.equal(badId.body.error.code, 'invalid_field');
});

async function optedOut(projectId: string, phone: string): Promise<string | undefined> {
  const [row] = await db.sql<{ source: string }[]>`select source from sms_opt_outs where project_id = ${projectId} and phone = ${phone}`;
  return row?.source;
}

test('an inbound STOP from the simulator opts the number out, START opts it back in; answered with empty TwiML', async () => {
  const user = phoneNumber('+1999');
  const url = smsInboundUrl(base, projectA);
  const stop = await sb.sim.sendInbound({ from: user, to: '+15005550006', body: 'stop', url });
  assert.equal(stop.status, 200);
  assert.match(stop.content_type ?? '', /^text\/xml/);
  assert.equal(stop.body, emptyTwiml);
  assert.equal(await optedOut(projectA, user), 'inbound_keyword');
  assert.equal(await optedOut(projectB, user), undefined, 'only this project');

  await sb.sim.sendInbound({ from: user, to: '+15005550006', body: 'Thanks, STOP please', url });
  assert.equal(await optedOut(projectA, user), 'inbound_keyword');
  await sb.sim.sendInbound({ from: user, to: '+15005550006', body: 'UNSTOP', url });
  assert.equal(await optedOut(projectA, user), undefined);
  await sb.sim.sendInbound({ from: user, to: '+15005550006', body: 'Thanks, STOP please', url });
  assert.equal(await optedOut(projectA, user), undefined, 'not a keyword alone');
});

test('an inbound STOP counts one unsubscribe for the last text sent to the number, once however often it comes', async () => {
  const user = phoneNumber('+1997');
  const url = smsInboundUrl(base, projectA);
  // Two texts to the number in this project (the newer one is the one answered), one in another
  // project, and a newer one Herald skipped (never sent, so never answered).
  const text = async (projectId: string, group: string, at: string, status = 'sent') => {
    const messageId = randomUUID();
    await db.sql`insert into messages (id, project_id, group_id, recipients, content) values (${messageId}, ${projectId}, ${group}, '{}'::jsonb, '{"sms": {}}'::jsonb)`;
    await db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind, status, created_at)
      values (${randomUUID()}, ${messageId}, ${projectId}, 'sms', ${user}, 'number', ${status}, ${at})`;
  };
  await text(projectA, 'stop-old', '2026-01-01T10:00:00Z');
  await text(projectA, 'stop-new', '2026-01-02T10:00:00Z');
  await text(projectA, 'stop-skipped', '2026-01-03T10:00:00Z', 'skipped');
  await text(projectB, 'stop-other', '2026-01-04T10:00:00Z');
  const unsubscribes = async () => Object.fromEntries((await db.sql<{ source_id: string; n: number }[]>`
    select source_id, sum(unsubscribes)::int as n from stats_hourly where source_id like 'stop-%' group by source_id having sum(unsubscribes) > 0`).map((r) => [r.source_id, r.n]));

  assert.equal((await sb.sim.sendInbound({ from: user, to: '+15005550006', body: 'STOP', url })).status, 200);
  assert.deepEqual(await unsubscribes(), { 'stop-new': 1 });
  // Twilio retrying the webhook, or the person sending STOP again: already out, nothing more.
  await sb.sim.sendInbound({ from: user, to: '+15005550006', body: 'STOP', url });
  await sb.sim.sendInbound({ from: user, to: '+15005550006', body: 'unsubscribe', url });
  assert.deepEqual(await unsubscribes(), { 'stop-new': 1 });
  // Back in and out again: a new unsubscribe.
  await sb.sim.sendInbound({ from: user, to: '+15005550006', body: 'START', url });
  await sb.sim.sendInbound({ from: user, to: '+15005550006', body: 'STOP', url });
  assert.deepEqual(await unsubscribes(), { 'stop-new': 2 });
  // A number Herald never texted opts out and counts for nothing.
  const stranger = phoneNumber('+1996');
  await sb.sim.sendInbound({ from: stranger, to: '+15005550006', body: 'STOP', url });
  assert.equal(await optedOut(projectA, stranger), 'inbound_keyword');
  assert.deepEqual(await unsubscribes(), { 'stop-new': 2 });
});

test('an inbound STOP with a bad signature is a 403 and opts nobody out', async () => {
  const user = phoneNumber('+1998');
  const r = await postSigned(smsInboundUrl(base, projectA), { From: user, To: '+15005550006', Body: 'STOP' }, tokenB);
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, 'invalid_webhook_signature');
  assert.equal(await optedOut(projectA, user), undefined);
});

test('the rest of the API stays JSON-only: a form body elsewhere is a 415', async () => {
  const res = await fetch(`${base}/v1/transactional/send`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${restKeyA}` }, body: 'a=b',
  });
  assert.equal(res.status, 415);
  assert.equal(((await res.json()) as any).error.code, 'unsupported_media_type');
});

test('with publicBaseUrl the signature is checked over the public URL Twilio was given, not the one the request reached', async () => {
  const log = silentLogger();
  const queue = createPostgresQueue({ sql: db.sql, log, maxAttempts: 5 });
  const behindProxy = await buildApp({
    keyring, sql: db.sql, queue, log, metrics: createMetrics({ events: createEvents(), queue }), checkResponses: true,
    smsWebhooks: { authTokenFor: async (id) => tokens.get(id), publicBaseUrl: 'https://herald.example.com/' },
  });
  try {
    const sid = fakeSid();
    const id = await queuedDelivery(projectA, phoneNumber(), sid);
    const params = statusParams(sid, 'delivered');
    const token = sb.sim.credentials.auth_token;
    const inject = (url: string) => behindProxy.inject({
      method: 'POST', url: `/v1/webhooks/sms/${projectA}/status`, payload: new URLSearchParams(params).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(token, url, params) },
    });
    assert.equal((await inject(`http://localhost:80/v1/webhooks/sms/${projectA}/status`)).statusCode, 403);
    assert.equal((await deliveryRow(id)).status, 'queued');
    assert.equal((await inject(smsStatusCallbackUrl('https://herald.example.com', projectA))).statusCode, 204);
    assert.equal((await deliveryRow(id)).status, 'delivered');
  } finally {
    await behindProxy.close();
  }
});
