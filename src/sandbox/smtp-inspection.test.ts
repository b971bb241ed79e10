import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../observability/logger.js';
import { uuidv7 } from '../domain/ids.js';
import { createEmailSender, type EmailSender } from '../providers/email/client.js';
import { sandboxSmtpAccount } from '../providers/email/sandbox-account.js';
import { startSandbox, type Sandbox } from './index.js';
import { inspect } from '../../test/support/sandbox.js';
import { recipient, verifyDkim } from '../../test/support/sandbox-smtp.js';

// The SMTP simulator as the whole sandbox runs it: its endpoint, credentials, records and faults
// through the public inspection API (docs/sandbox.md).
let sandbox: Sandbox;
let sender: EmailSender;
before(async () => {
  sandbox = await startSandbox({ port: 0, log: silentLogger() });
  sender = createEmailSender({ log: silentLogger(), ca: sandbox.caPem });
});
after(async () => {
  await sender.close();
  await sandbox.close();
});

const send = (to: string) => sender.send(sandboxSmtpAccount(sandbox), {
  deliveryId: uuidv7(),
  from: { name: 'News', address: `news@${sandbox.credentials.email.dkim.domain}` },
  to,
  subject: 'Hello',
  text: 'Hello there',
  unsubscribeUrl: 'https://herald.example.com/v1/email/unsubscribe/abc.def',
});

test('GET /_sandbox/credentials issues an SMTP login and a PKCS#8 RSA DKIM key for the sandbox mail domain', async () => {
  const r = await inspect(sandbox, 'GET', '/_sandbox/credentials');
  const e = r.body.email;
  assert.equal(typeof e.username, 'string');
  assert.ok(e.password.length >= 16);
  assert.equal(e.dkim.domain, 'sandbox.herald.test');
  assert.match(e.dkim.selector, /^[a-z0-9]+$/);
  assert.match(e.dkim.private_key_pem, /^-----BEGIN PRIVATE KEY-----/);
});

test('a sent message is listed under channel=email with the envelope as headers and the signed message as body', async () => {
  const to = recipient();
  assert.equal((await send(to)).kind, 'delivered');
  const r = await inspect(sandbox, 'GET', `/_sandbox/deliveries?channel=email&target=${encodeURIComponent(to)}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 1);
  const [record] = r.body;
  assert.equal(record.channel, 'email');
  assert.equal(record.target, to);
  assert.equal(record.status, 250);
  assert.deepEqual(record.headers, { mail_from: `news@${sandbox.credentials.email.dkim.domain}`, rcpt_to: to });
  const dkim = await verifyDkim(sandbox.credentials.email, Buffer.from(record.body_base64, 'base64'));
  assert.equal(dkim.results[0]!.status.result, 'pass');
});

test('an email fault rule posted to the inspection API answers its SMTP code and text', async () => {
  const rule = await inspect(sandbox, 'POST', '/_sandbox/faults', { channel: 'email', target_prefix: 'nobody', status: 550, reason: '5.1.1 No such user here' });
  assert.equal(rule.status, 201);
  const to = recipient('nobody');
  const o = await send(to);
  assert.equal(o.kind, 'token_invalid');
  assert.equal((await inspect(sandbox, 'GET', `/_sandbox/deliveries?channel=email&target=${encodeURIComponent(to)}`)).body.length, 0);
  const rejected = await inspect(sandbox, 'GET', `/_sandbox/deliveries?channel=email&include=rejected&target=${encodeURIComponent(to)}`);
  assert.deepEqual(rejected.body.map((x: { status: number; reason: string }) => [x.status, x.reason]), [[550, '5.1.1 No such user here']]);
  await inspect(sandbox, 'DELETE', `/_sandbox/faults/${rule.body.id}`);
});
