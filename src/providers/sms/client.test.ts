/**
 * The SMS sender against the sandbox's SMS simulator: real TLS, real HTTP/1.1 keep-alive, real
 * Basic auth. What the simulator itself checks is in src/sandbox/sms.test.ts; here, what the sender
 * makes of its answers, its rate and concurrency limits, and the whole loop through the sandbox.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../observability/logger.js';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { inspect } from '../../../test/support/sandbox.js';
import {
  phoneNumber, smsRecordsOf, startSmsTestSandbox, startWebhookCollector, type SmsTestSandbox,
} from '../../../test/support/sandbox-sms.js';
import { createSmsSender, mayHaveBeenAccepted, type SmsAccount } from './client.js';
import { verifyTwilioSignature } from './signature.js';

let sb: SmsTestSandbox;
let account: SmsAccount;
before(async () => {
  sb = await startSmsTestSandbox({ callbackDelayMs: 5 });
  account = { ...sb.sim.credentials, endpoint: sb.sim.url };
});
after(async () => { await sb.close(); });

const from = '+15005550006';

test('end to end: 201 with the message SID, listed by the inspection API, status callbacks signed and verified', async () => {
  const sandbox: Sandbox = await startSandbox({ port: 0, log: silentLogger() });
  const hooks = await startWebhookCollector();
  const sender = createSmsSender({ log: silentLogger(), ca: sandbox.caPem });
  try {
    const to = phoneNumber();
    const callback = `${hooks.url}/v1/webhooks/sms/p1/status`;
    const o = await sender.send({ ...sandbox.credentials.sms, endpoint: sandbox.endpoints.sms }, { to, from, body: 'Your code is 123456', statusCallback: callback });
    assert.equal(o.kind, 'delivered');
    assert.match(o.kind === 'delivered' ? o.providerId ?? '' : '', /^SM[0-9a-f]{32}$/);

    const listed = await inspect(sandbox, 'GET', `/_sandbox/deliveries?channel=sms&target=${encodeURIComponent(to)}`);
    assert.equal(listed.status, 200);
    assert.equal(listed.body.length, 1);
    const rec = listed.body[0];
    assert.equal(rec.status, 201);
    assert.equal(rec.headers[':path'], `/2010-04-01/Accounts/${sandbox.credentials.sms.account_sid}/Messages.json`);
    assert.equal(rec.headers['content-type'], 'application/x-www-form-urlencoded');
    const form = new URLSearchParams(Buffer.from(rec.body_base64, 'base64').toString());
    assert.deepEqual(Object.fromEntries(form), { To: to, Body: 'Your code is 123456', From: from, StatusCallback: callback });

    const got = await hooks.waitFor('/v1/webhooks/sms/p1/status', 2);
    assert.deepEqual(got.map((r) => r.params.get('MessageStatus')), ['sent', 'delivered']);
    for (const r of got) {
      assert.equal(r.params.get('MessageSid'), o.kind === 'delivered' ? o.providerId : undefined);
      assert.ok(verifyTwilioSignature(sandbox.credentials.sms.auth_token, r.headers['x-twilio-signature'] as string, callback, r.params));
      assert.ok(!verifyTwilioSignature('0'.repeat(32), r.headers['x-twilio-signature'] as string, callback, r.params));
    }
  } finally {
    await sender.close();
    await hooks.close();
    await sandbox.close();
  }
});

test('a Messaging Service send carries MessagingServiceSid and no From', async () => {
  const sender = createSmsSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const to = phoneNumber();
    const o = await sender.send(account, { to, messagingServiceSid: 'MG' + '0'.repeat(32), body: 'hi' });
    assert.equal(o.kind, 'delivered');
    const form = new URLSearchParams(Buffer.from(smsRecordsOf(sb, to)[0]!.body_base64, 'base64').toString());
    assert.equal(form.get('MessagingServiceSid'), 'MG' + '0'.repeat(32));
    assert.equal(form.get('From'), null);
  } finally {
    await sender.close();
  }
});

test('sends reuse one kept-alive connection instead of a TLS handshake each', async () => {
  const sender = createSmsSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const before = sb.sim.connectionsAccepted;
    for (let i = 0; i < 5; i++) assert.equal((await sender.send(account, { to: phoneNumber(), from, body: `n${i}` })).kind, 'delivered');
    assert.equal(sb.sim.connectionsAccepted - before, 1);
  } finally {
    await sender.close();
  }
});

test('faults and refusals come back as outcomes, never as exceptions', async () => {
  const sender = createSmsSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const opted = phoneNumber('+1777');
    sb.faults.add({ channel: 'sms', target_prefix: opted, status: 400, reason: '21610' });
    assert.deepEqual(await sender.send(account, { to: opted, from, body: 'x' }), { kind: 'token_invalid', reason: 'opted_out', status: 400 });

    const invalid = await sender.send(account, { to: '5550006', from, body: 'x' });
    assert.equal(invalid.kind, 'token_invalid');
    assert.match(invalid.kind === 'token_invalid' ? invalid.reason : '', /^21211: /);

    const wrongToken = await sender.send({ ...account, auth_token: 'f'.repeat(32) }, { to: phoneNumber(), from, body: 'x' });
    assert.deepEqual(wrongToken, { kind: 'credentials_invalid', reason: '20003: Authenticate', status: 401 });

    const tooLong = await sender.send(account, { to: phoneNumber(), from, body: 'a'.repeat(1601) });
    assert.equal(tooLong.kind, 'rejected');

    const down = phoneNumber('+1778');
    sb.faults.add({ channel: 'sms', target_prefix: down, status: 503, retry_after_s: 4 });
    assert.deepEqual(await sender.send(account, { to: down, from, body: 'x' }),
      { kind: 'provider_down', reason: '20503: Service Unavailable', status: 503, retryAfterMs: 4_000 });

    const dropped = phoneNumber('+1779');
    sb.faults.add({ channel: 'sms', target_prefix: dropped, drop_connection: true });
    const d = await sender.send(account, { to: dropped, from, body: 'x' });
    assert.equal(d.kind, 'provider_down');
    assert.ok(mayHaveBeenAccepted(d), 'a body that went out unanswered is flagged');
    assert.ok(!mayHaveBeenAccepted({ kind: 'provider_down', reason: '20503: Service Unavailable', status: 503 }));
  } finally {
    await sender.close();
  }
});

test('an account whose base_url is not https gets its own outcome, nothing sent; other accounts send on', async () => {
  const sender = createSmsSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const to = phoneNumber();
    const plain = { ...account, endpoint: sb.sim.url.replace(/^https:/, 'http:') }; // stored before base_url was checked
    const [broken, good] = await Promise.all([
      sender.send(plain, { to, from, body: 'x' }),
      sender.send(account, { to, from, body: 'y' }),
    ]);
    assert.deepEqual(broken, { kind: 'credentials_invalid', reason: 'the account\'s base_url must be https, not http', local: true });
    assert.equal(good.kind, 'delivered');
    assert.deepEqual(smsRecordsOf(sb, to).map((r) => new URLSearchParams(Buffer.from(r.body_base64, 'base64').toString()).get('Body')), ['y']);
    assert.deepEqual(await sender.send({ ...account, endpoint: 'not a url' }, { to, from, body: 'z' }),
      { kind: 'credentials_invalid', reason: 'the account\'s base_url is not a URL', local: true });
  } finally {
    await sender.close();
  }
});

test('without the sandbox\'s certificate the TLS handshake fails: provider_down, nothing recorded', async () => {
  const sender = createSmsSender({ log: silentLogger() });
  try {
    const to = phoneNumber();
    const o = await sender.send(account, { to, from, body: 'x' });
    assert.equal(o.kind, 'provider_down');
    assert.ok(!mayHaveBeenAccepted(o), 'nothing went out: safe to retry');
    assert.equal(smsRecordsOf(sb, to).length, 0);
  } finally {
    await sender.close();
  }
});

test('a 429 pauses the whole account for Retry-After, not only the message it refused', async () => {
  let clock = Date.now();
  const sender = createSmsSender({ log: silentLogger(), ca: sb.caPem, clock: () => clock });
  try {
    const busy = phoneNumber('+1780');
    sb.faults.add({ channel: 'sms', target_prefix: busy, status: 429, retry_after_s: 30, count: 1 });
    assert.deepEqual(await sender.send(account, { to: busy, from, body: 'x' }),
      { kind: 'retry', reason: '20429: Too Many Requests', status: 429, retryAfterMs: 30_000 });
    clock += 10_000;
    const other = phoneNumber();
    const held = await sender.send(account, { to: other, from, body: 'x' });
    assert.equal(held.kind, 'retry');
    assert.equal(held.kind === 'retry' && held.retryAfterMs, 20_000);
    assert.equal(smsRecordsOf(sb, other).length, 0, 'held in the client: Twilio never saw it');
    clock += 20_000;
    assert.equal((await sender.send(account, { to: other, from, body: 'x' })).kind, 'delivered');
  } finally {
    await sender.close();
  }
});

test('an account has at most maxConcurrentPerAccount requests open at once', async () => {
  const sender = createSmsSender({ log: silentLogger(), ca: sb.caPem, maxConcurrentPerAccount: 1 });
  try {
    const prefix = '+1781';
    sb.faults.add({ channel: 'sms', target_prefix: prefix, latency_ms: 150, count: 3 });
    const tos = [phoneNumber(prefix), phoneNumber(prefix), phoneNumber(prefix)];
    const outcomes = await Promise.all(tos.map((to) => sender.send(account, { to, from, body: 'x' })));
    assert.deepEqual(outcomes.map((o) => o.kind), ['delivered', 'delivered', 'delivered']);
    // One at a time: each request reached the simulator only after the previous one's 150 ms answer.
    const arrivals = tos.map((to) => Date.parse(smsRecordsOf(sb, to)[0]!.received_at)).sort((a, b) => a - b);
    assert.ok(arrivals[1]! - arrivals[0]! >= 140, `second request ${arrivals[1]! - arrivals[0]!} ms after the first`);
    assert.ok(arrivals[2]! - arrivals[1]! >= 140, `third request ${arrivals[2]! - arrivals[1]!} ms after the second`);
  } finally {
    await sender.close();
  }
});
