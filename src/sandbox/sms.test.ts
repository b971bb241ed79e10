/**
 * The SMS simulator over real HTTPS: Twilio's checks in order, its error bodies, the message
 * resource, the signed status callbacks and their retries, fault rules, and inbound webhooks.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../observability/logger.js';
import { verifyTwilioSignature } from '../providers/sms/signature.js';
import { startSandbox, type Sandbox } from './index.js';
import { inspect } from '../../test/support/sandbox.js';
import {
  createMessage, phoneNumber, smsRecordsOf, smsRequest, startSmsTestSandbox, startWebhookCollector, type Received, type SmsTestSandbox,
  type WebhookCollector,
} from '../../test/support/sandbox-sms.js';

let sb: SmsTestSandbox;
let hooks: WebhookCollector;
before(async () => {
  sb = await startSmsTestSandbox({ callbackDelayMs: 5 });
  hooks = await startWebhookCollector();
});
after(async () => {
  await sb.close();
  await hooks.close();
});

const from = '+15005550006';

function assertSigned(sbx: SmsTestSandbox, r: Received, base: string) {
  assert.ok(verifyTwilioSignature(sbx.sim.credentials.auth_token, r.headers['x-twilio-signature'] as string, base + r.url, r.params),
    'signed with the issued auth token over the URL and parameters');
}

test('a valid message is accepted with 201 and a Twilio message resource, and recorded with To as target', async () => {
  const to = phoneNumber();
  const a = await createMessage(sb, { To: to, From: from, Body: 'Hello there' });
  assert.equal(a.status, 201);
  assert.match(a.json.sid, /^SM[0-9a-f]{32}$/);
  assert.equal(a.json.status, 'queued');
  assert.equal(a.json.num_segments, '1');
  assert.equal(a.json.to, to);
  assert.equal(a.json.from, from);
  assert.equal(a.json.body, 'Hello there');
  assert.equal(a.json.account_sid, sb.sim.credentials.account_sid);
  assert.match(a.json.date_created, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
  const [rec, ...more] = smsRecordsOf(sb, to, false);
  assert.equal(more.length, 0);
  assert.equal(rec!.status, 201);
  assert.equal(rec!.reason, null);
  assert.equal(rec!.headers[':method'], 'POST');
  assert.match(rec!.headers.authorization!, /^Basic /);
  assert.equal(new URLSearchParams(Buffer.from(rec!.body_base64, 'base64').toString()).get('Body'), 'Hello there');
});

test('the resource counts segments, and a Messaging Service send starts as accepted without a From', async () => {
  const a = await createMessage(sb, { To: phoneNumber(), MessagingServiceSid: 'MG' + 'a'.repeat(32), Body: 'ж'.repeat(71) });
  assert.equal(a.status, 201);
  assert.equal(a.json.status, 'accepted');
  assert.equal(a.json.from, null);
  assert.equal(a.json.num_segments, '2');
});

const refusalCases: [string, () => Promise<{ status: number; json: any }>, number, number][] = [
  ['a GET', () => smsRequest(sb, 'GET', `/2010-04-01/Accounts/${sb.sim.credentials.account_sid}/Messages.json`, {
    authorization: 'Basic ' + Buffer.from(`${sb.sim.credentials.account_sid}:${sb.sim.credentials.auth_token}`).toString('base64'),
  }, ''), 405, 20004],
  ['another path', () => smsRequest(sb, 'POST', '/2010-04-01/Accounts/x/Calls.json', {}, ''), 404, 20404],
  ['no authorization', () => createMessage(sb, { To: phoneNumber(), From: from, Body: 'x' }, { auth: null }), 401, 20003],
  ['a wrong auth token', () => createMessage(sb, { To: phoneNumber(), From: from, Body: 'x' }, {
    auth: 'Basic ' + Buffer.from(`${sb.sim.credentials.account_sid}:${'0'.repeat(32)}`).toString('base64'),
  }), 401, 20003],
  ['a path naming another account', () => createMessage(sb, { To: phoneNumber(), From: from, Body: 'x' }, { sid: 'AC' + 'f'.repeat(32) }), 401, 20003],
  ['no To', () => createMessage(sb, { From: from, Body: 'x' }), 400, 21604],
  ['a To that is not E.164', () => createMessage(sb, { To: '5550006', From: from, Body: 'x' }), 400, 21211],
  ['neither From nor MessagingServiceSid', () => createMessage(sb, { To: phoneNumber(), Body: 'x' }), 400, 21603],
  ['a malformed From', () => createMessage(sb, { To: phoneNumber(), From: '+0123', Body: 'x' }), 400, 21212],
  ['a malformed MessagingServiceSid', () => createMessage(sb, { To: phoneNumber(), MessagingServiceSid: 'MG12', Body: 'x' }), 400, 21701],
  ['no Body', () => createMessage(sb, { To: phoneNumber(), From: from }), 400, 21602],
  ['a Body of 1601 characters', () => createMessage(sb, { To: phoneNumber(), From: from, Body: 'a'.repeat(1601) }), 400, 21617],
  ['a StatusCallback that is not a URL', () => createMessage(sb, { To: phoneNumber(), From: from, Body: 'x', StatusCallback: 'not a url' }), 400, 21609],
  ['a ValidityPeriod of 0', () => createMessage(sb, { To: phoneNumber(), From: from, Body: 'x', ValidityPeriod: '0' }), 400, 90007],
  ['a ValidityPeriod over 36000', () => createMessage(sb, { To: phoneNumber(), From: from, Body: 'x', ValidityPeriod: '36001' }), 400, 90007],
];

for (const [what, call, status, code] of refusalCases) {
  test(`refuses ${what}: ${status} with Twilio's error ${code}`, async () => {
    const a = await call();
    assert.equal(a.status, status);
    assert.deepEqual(Object.keys(a.json).sort(), ['code', 'message', 'more_info', 'status']);
    assert.equal(a.json.code, code);
    assert.equal(a.json.status, status);
    assert.equal(a.json.more_info, `https://www.twilio.com/docs/errors/${code}`);
  });
}

test('a Body of exactly 1600 characters and a ValidityPeriod of 36000 are accepted', async () => {
  assert.equal((await createMessage(sb, { To: phoneNumber(), From: from, Body: 'a'.repeat(1600), ValidityPeriod: '36000' })).status, 201);
});

test('refusals are recorded as rejected: listed with include=rejected only', async () => {
  const to = phoneNumber();
  await createMessage(sb, { To: to, Body: 'x' });
  assert.equal(smsRecordsOf(sb, to, false).length, 0);
  const [rec] = smsRecordsOf(sb, to, true);
  assert.equal(rec!.status, 400);
  assert.equal(rec!.reason, '21603');
});

test('after a 201 the StatusCallback gets sent then delivered, signed with the issued auth token', async () => {
  const to = phoneNumber();
  const path = `/cb/${to.slice(1)}`;
  const a = await createMessage(sb, { To: to, From: from, Body: 'hi', StatusCallback: hooks.url + path });
  const got = await hooks.waitFor(path, 2);
  assert.deepEqual(got.map((r) => r.params.get('MessageStatus')), ['sent', 'delivered']);
  for (const r of got) {
    assert.equal(r.params.get('MessageSid'), a.json.sid);
    assert.equal(r.params.get('AccountSid'), sb.sim.credentials.account_sid);
    assert.equal(r.params.get('To'), to);
    assert.equal(r.params.get('From'), from);
    assert.equal(r.params.get('ErrorCode'), null);
    assertSigned(sb, r, hooks.url);
  }
});

test('a callback answered with a 5xx is tried again', async () => {
  const to = phoneNumber();
  const path = `/retry/${to.slice(1)}`;
  hooks.answers.push(500);
  await createMessage(sb, { To: to, From: from, Body: 'hi', StatusCallback: hooks.url + path });
  const got = await hooks.waitFor(path, 3);
  assert.deepEqual(got.map((r) => r.params.get('MessageStatus')), ['sent', 'sent', 'delivered']);
});

test('a fault rule with a Twilio code answers that code; one with retry_after_s adds Retry-After', async () => {
  const opted = phoneNumber('+1666');
  sb.faults.add({ channel: 'sms', target_prefix: opted, status: 400, reason: '21610' });
  const a = await createMessage(sb, { To: opted, From: from, Body: 'x' });
  assert.equal(a.status, 400);
  assert.equal(a.json.code, 21610);
  assert.equal(smsRecordsOf(sb, opted)[0]!.reason, '21610');

  const busy = phoneNumber('+1667');
  sb.faults.add({ channel: 'sms', target_prefix: busy, status: 429, retry_after_s: 3, count: 1 });
  const b = await createMessage(sb, { To: busy, From: from, Body: 'x' });
  assert.equal(b.status, 429);
  assert.equal(b.json.code, 20429);
  assert.equal(b.headers['retry-after'], '3');
  assert.equal((await createMessage(sb, { To: busy, From: from, Body: 'x' })).status, 201, 'the rule expired after one');
});

test('a fault rule naming a delivery error accepts the message and ends its callbacks in undelivered or failed', async () => {
  const unreachable = phoneNumber('+1668');
  sb.faults.add({ channel: 'sms', target_prefix: unreachable, status: 400, reason: '30003' });
  const a = await createMessage(sb, { To: unreachable, From: from, Body: 'x', StatusCallback: `${hooks.url}/u` });
  assert.equal(a.status, 201);
  const u = (await hooks.waitFor('/u', 2)).filter((r) => r.params.get('To') === unreachable);
  assert.deepEqual(u.map((r) => [r.params.get('MessageStatus'), r.params.get('ErrorCode')]), [['sent', null], ['undelivered', '30003']]);

  const overflow = phoneNumber('+1669');
  sb.faults.add({ channel: 'sms', target_prefix: overflow, status: 400, reason: '30001' });
  assert.equal((await createMessage(sb, { To: overflow, From: from, Body: 'x', StatusCallback: `${hooks.url}/f` })).status, 201);
  // The first callback is already the final one: a message that never left Twilio is never sent.
  const [f] = await hooks.waitFor('/f', 1);
  assert.deepEqual([f!.params.get('MessageStatus'), f!.params.get('ErrorCode')], ['failed', '30001']);
});

test('a drop_connection rule cuts the connection without an answer', async () => {
  const to = phoneNumber('+1670');
  sb.faults.add({ channel: 'sms', target_prefix: to, drop_connection: true });
  await assert.rejects(createMessage(sb, { To: to, From: from, Body: 'x' }));
  assert.equal(smsRecordsOf(sb, to)[0]!.reason, 'ConnectionDropped');
});

test('sendInbound posts a signed Twilio inbound-message webhook and returns its answer', async () => {
  const r = await sb.sim.sendInbound({ from: '+15551234567', to: from, body: 'STOP', url: `${hooks.url}/in?x=1` });
  assert.equal(r.status, 204);
  const [got] = await hooks.waitFor('/in?x=1', 1);
  assert.equal(got!.params.get('Body'), 'STOP');
  assert.equal(got!.params.get('From'), '+15551234567');
  assert.equal(got!.params.get('To'), from);
  assert.match(got!.params.get('MessageSid')!, /^SM[0-9a-f]{32}$/);
  assertSigned(sb, got!, hooks.url);
});

test('the sandbox lists the SMS endpoint and credentials, and POST /_sandbox/sms/inbound validates then posts', async () => {
  const sandbox: Sandbox = await startSandbox({ port: 0, log: silentLogger() });
  try {
    const creds = (await inspect(sandbox, 'GET', '/_sandbox/credentials')).body.sms;
    assert.match(creds.account_sid, /^AC[0-9a-f]{32}$/);
    assert.match(creds.auth_token, /^[0-9a-f]{32}$/);
    assert.match(sandbox.endpoints.sms, /^https:\/\/127\.0\.0\.1:\d+$/);

    const ok = await inspect(sandbox, 'POST', '/_sandbox/sms/inbound', { from: '+15551234567', to: from, body: 'START', url: `${hooks.url}/sandbox-in` });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, 204);
    const [got] = await hooks.waitFor('/sandbox-in', 1);
    assert.ok(verifyTwilioSignature(creds.auth_token, got!.headers['x-twilio-signature'] as string, `${hooks.url}/sandbox-in`, got!.params));

    const bad = await inspect(sandbox, 'POST', '/_sandbox/sms/inbound', { from: '555', to: from, body: 'STOP', url: hooks.url });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_inbound');
    const unreachable = await inspect(sandbox, 'POST', '/_sandbox/sms/inbound', { from: '+15551234567', to: from, body: 'STOP', url: 'http://127.0.0.1:1/x' });
    assert.equal(unreachable.status, 502);
    assert.equal(unreachable.body.error.code, 'webhook_unreachable');
  } finally {
    await sandbox.close();
  }
});
