import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { silentLogger } from '../../observability/logger.js';
import { uuidv7 } from '../../domain/ids.js';
import type { DeliveryOutcome } from '../../domain/outcome.js';
import { unsubscribeUrl, type EmailToSend } from '../../domain/email-message.js';
import { listenOnFreePort } from '../../sandbox/request-io.js';
import { emailRecordsOf, recipient, startSmtpTestSandbox, verifyDkim, type SmtpTestSandbox } from '../../../test/support/sandbox-smtp.js';
import { createEmailSender, type EmailSender } from './client.js';

// The sender against the SMTP simulator over real sockets: STARTTLS, AUTH, DKIM, faults.
let sb: SmtpTestSandbox;
let sender: EmailSender;
before(async () => {
  sb = await startSmtpTestSandbox();
  sender = createEmailSender({ log: silentLogger(), ca: sb.caPem });
});
after(async () => {
  await sender.close();
  await sb.close();
});

const message = (to: string, over: Partial<EmailToSend> = {}): EmailToSend => ({
  deliveryId: uuidv7(),
  from: { name: 'Herald News', address: `news@${sb.credentials.dkim.domain}` },
  to,
  subject: 'Your weekly digest',
  text: 'Hello there',
  html: '<p>Hello there</p>',
  unsubscribeUrl: unsubscribeUrl('https://herald.example.com', 'AbC123.xyz'),
  unsubscribeMailto: 'mailto:unsubscribe@sandbox.herald.test?subject=unsubscribe',
  ...over,
});

const statusOf = (o: DeliveryOutcome) => ('status' in o ? o.status : undefined);
const reasonOf = (o: DeliveryOutcome) => ('reason' in o ? o.reason : '');

const headerOf = (raw: string, name: string): string[] =>
  raw.split(/\r\n\r\n/)[0]!.replace(/\r\n[ \t]+/g, ' ').split('\r\n')
    .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ':'))
    .map((l) => l.slice(name.length + 1).trim());

test('a message reaches the simulator signed, with one-click headers, and is recorded per RCPT', async () => {
  const to = recipient();
  const msg = message(to);
  const outcome = await sender.send(sb.account, msg);
  assert.equal(outcome.kind, 'delivered', JSON.stringify(outcome));
  assert.match(outcome.kind === 'delivered' ? outcome.providerId ?? '' : '', /^250 2\.0\.0 OK: queued as /);

  const [record, ...more] = emailRecordsOf(sb, to);
  assert.equal(more.length, 0);
  assert.equal(record!.status, 250);
  assert.deepEqual(record!.headers, { mail_from: msg.from.address, rcpt_to: to });
  const raw = Buffer.from(record!.body_base64, 'base64');
  const text = raw.toString('utf8');
  assert.deepEqual(headerOf(text, 'Message-ID'), [`<${msg.deliveryId}@${sb.credentials.dkim.domain}>`]);
  assert.deepEqual(headerOf(text, 'List-Unsubscribe'), [`<https://herald.example.com/v1/email/unsubscribe/AbC123.xyz>, <${msg.unsubscribeMailto}>`]);
  assert.deepEqual(headerOf(text, 'List-Unsubscribe-Post'), ['List-Unsubscribe=One-Click']);

  // DKIM checked here, independently of the simulator, against the key the sandbox issued.
  const dkim = await verifyDkim(sb.credentials, raw);
  const sig = dkim.results[0]!;
  assert.equal(sig.status.result, 'pass');
  assert.equal(sig.signingDomain, sb.credentials.dkim.domain);
  assert.ok(sig.status.aligned);
  const signed = (sig as unknown as { signingHeaders: { keys: string } }).signingHeaders.keys.toLowerCase().split(/:\s*/);
  for (const h of ['from', 'to', 'subject', 'date', 'message-id', 'list-unsubscribe', 'list-unsubscribe-post']) {
    assert.ok(signed.includes(h), `the signature covers ${h}: ${signed.join(', ')}`);
  }
});

test('a re-send of the same delivery carries the same Message-ID', async () => {
  const to = recipient();
  const msg = message(to);
  assert.equal((await sender.send(sb.account, msg)).kind, 'delivered');
  assert.equal((await sender.send(sb.account, { ...msg, subject: 'Sent again' })).kind, 'delivered');
  const ids = emailRecordsOf(sb, to).map((r) => headerOf(Buffer.from(r.body_base64, 'base64').toString('utf8'), 'Message-ID')[0]);
  assert.equal(ids.length, 2);
  assert.equal(ids[0], ids[1]);
});

test('550 at RCPT is a hard bounce: token_invalid, with the server\'s reply as reason', async () => {
  sb.faults.add({ channel: 'email', target_prefix: 'gone', status: 550 });
  const to = recipient('gone');
  const o = await sender.send(sb.account, message(to));
  assert.equal(o.kind, 'token_invalid');
  assert.equal(statusOf(o), 550);
  assert.match(reasonOf(o), /5\.1\.1 The email account that you tried to reach does not exist/);
  const [r] = emailRecordsOf(sb, to);
  assert.equal(r!.status, 550);
  assert.equal(emailRecordsOf(sb, to, false).length, 0);
});

test('451 is retried later', async () => {
  sb.faults.add({ channel: 'email', target_prefix: 'busy', status: 451, reason: '4.7.0 Try again in a minute' });
  const o = await sender.send(sb.account, message(recipient('busy')));
  assert.deepEqual(o.kind, 'retry');
  assert.match(reasonOf(o), /451 4\.7\.0 Try again in a minute \(at RCPT TO\)/);
});

test('554 after DATA rejects this message for good', async () => {
  sb.faults.add({ channel: 'email', target_prefix: 'strict', status: 554 });
  const to = recipient('strict');
  const o = await sender.send(sb.account, message(to));
  assert.equal(o.kind, 'rejected');
  const [r] = emailRecordsOf(sb, to);
  assert.equal(r!.status, 554);
  assert.ok(r!.body_base64.length > 0, 'a DATA-time refusal keeps the message it refused');
});

test('a dropped connection is provider_down once the one requeue is spent', async () => {
  const rule = sb.faults.add({ channel: 'email', target_prefix: 'drop', drop_connection: true });
  const to = recipient('drop');
  const o = await sender.send(sb.account, message(to));
  assert.equal(o.kind, 'provider_down', JSON.stringify(o));
  const records = emailRecordsOf(sb, to);
  assert.equal(records.length, 2, 'one attempt and one requeue on a fresh connection');
  assert.ok(records.every((r) => r.status === null && r.reason === 'ConnectionDropped'));
  sb.faults.remove(rule.id);
});

test('a wrong password is credentials_invalid', async () => {
  const wrong = createEmailSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const o = await wrong.send({ ...sb.account, password: 'not-the-password' }, message(recipient()));
    assert.equal(o.kind, 'credentials_invalid');
    assert.equal(statusOf(o), 535);
  } finally {
    await wrong.close();
  }
});

test('a refused connection is provider_down', async () => {
  // A port that was free a moment ago: nothing listens there any more.
  const probe = createServer();
  const port = await listenOnFreePort(probe, '127.0.0.1');
  await new Promise<void>((r) => probe.close(() => r()));
  const o = await sender.send({ ...sb.account, port }, message(recipient()));
  assert.equal(o.kind, 'provider_down');
});

test('a certificate the sender does not trust is provider_down, and no password is sent', async () => {
  const untrusting = createEmailSender({ log: silentLogger() });
  try {
    const to = recipient();
    const o = await untrusting.send(sb.account, message(to));
    assert.equal(o.kind, 'provider_down');
    assert.equal(emailRecordsOf(sb, to).length, 0);
  } finally {
    await untrusting.close();
  }
});

test('unsigned mail is refused with 550 5.7.26 and recorded as rejected', async () => {
  const to = recipient();
  const o = await sender.send({ ...sb.account, dkim: undefined }, message(to));
  assert.equal(o.kind, 'rejected');
  assert.match(reasonOf(o), /^550 5\.7\.26 .*no DKIM signature/);
  const [r] = emailRecordsOf(sb, to);
  assert.equal(r!.status, 550);
  assert.equal(emailRecordsOf(sb, to, false).length, 0);
});

test('a From domain not aligned with the DKIM domain is refused', async () => {
  const o = await sender.send(sb.account, message(recipient(), { from: { address: 'news@elsewhere.example' } }));
  assert.equal(o.kind, 'rejected');
  assert.match(reasonOf(o), /^550 5\.7\.26 Unauthenticated email from elsewhere\.example/);
});

test('a message that builds wrong is rejected before any connection', async () => {
  const to = recipient();
  const o = await sender.send(sb.account, message(to, { unsubscribeUrl: 'http://herald.example.com/u/x' }));
  assert.deepEqual(o, { kind: 'rejected', reason: 'the unsubscribe URL must be https (RFC 8058)' });
  assert.equal(emailRecordsOf(sb, to).length, 0);
});
