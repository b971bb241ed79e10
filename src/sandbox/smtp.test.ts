import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { emailRecordsOf, recipient, startSmtpTestSandbox, type SmtpTestSandbox } from '../../test/support/sandbox-smtp.js';

// The simulator alone, spoken to by plain nodemailer transports: what it accepts, refuses, records.
let sb: SmtpTestSandbox;
before(async () => { sb = await startSmtpTestSandbox({ maxMessageBytes: 64 * 1024 }); });
after(async () => { await sb.close(); });

type Transport = ReturnType<typeof nodemailer.createTransport>;
interface SendOptions { sign?: boolean; signedHeaders?: string; password?: string; ignoreTLS?: boolean }

function transport(o: SendOptions = {}): Transport {
  const a = sb.account;
  return nodemailer.createTransport({
    host: a.host, port: a.port, secure: false, requireTLS: !o.ignoreTLS, ignoreTLS: o.ignoreTLS ?? false,
    auth: { user: a.username, pass: o.password ?? a.password }, tls: { ca: sb.caPem },
    ...(o.sign === false ? {} : {
      dkim: {
        domainName: a.dkim!.domain, keySelector: a.dkim!.selector, privateKey: a.dkim!.privateKeyPem,
        ...(o.signedHeaders ? { headerFieldNames: o.signedHeaders } : {}),
      },
    }),
  });
}

const domain = () => sb.credentials.dkim.domain;

/** A raw message; `drop` leaves out header fields by name, `extra` adds some. */
function raw(to: string, o: { drop?: string[]; extra?: string[]; from?: string; body?: string } = {}): string {
  const headers = [
    `From: News <${o.from ?? `news@${domain()}`}>`,
    `To: ${to}`,
    'Subject: Weekly digest',
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@${domain()}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'List-Unsubscribe: <https://herald.example.com/v1/email/unsubscribe/abc.def>',
    'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
  ].filter((h) => !(o.drop ?? []).includes(h.slice(0, h.indexOf(':'))));
  return [...headers, ...(o.extra ?? []), '', o.body ?? 'Hello there', ''].join('\r\n');
}

async function send(to: string | string[], message: string, o: SendOptions = {}): Promise<{ ok: true } | { ok: false; code: number | undefined; response: string; err: any }> {
  const t = transport(o);
  try {
    await t.sendMail({ envelope: { from: `news@${domain()}`, to }, raw: message });
    return { ok: true };
  } catch (err: any) {
    return { ok: false, code: err.responseCode, response: err.response ?? err.message, err };
  } finally {
    t.close();
  }
}

test('a signed, aligned message with both one-click headers is accepted and recorded', async () => {
  const to = recipient();
  assert.deepEqual(await send(to, raw(to)), { ok: true });
  const [r] = emailRecordsOf(sb, to, false);
  assert.equal(r!.status, 250);
  assert.match(Buffer.from(r!.body_base64, 'base64').toString('utf8'), /^DKIM-Signature: /);
});

test('every RCPT of a transaction is its own record with the same message', async () => {
  const a = recipient();
  const b = recipient();
  assert.deepEqual(await send([a, b], raw(a)), { ok: true });
  const [ra] = emailRecordsOf(sb, a, false);
  const [rb] = emailRecordsOf(sb, b, false);
  assert.deepEqual(ra!.headers, { mail_from: `news@${domain()}`, rcpt_to: a });
  assert.deepEqual(rb!.headers, { mail_from: `news@${domain()}`, rcpt_to: b });
  assert.equal(ra!.body_base64, rb!.body_base64);
});

const refusals: [string, (to: string) => string, SendOptions, RegExp][] = [
  ['unsigned mail', (to) => raw(to), { sign: false }, /^550 5\.7\.26 .*no DKIM signature/],
  ['a From domain the signature is not aligned with', (to) => raw(to, { from: 'news@other.example' }), {}, /^550 5\.7\.26 Unauthenticated email from other\.example/],
  ['a message without List-Unsubscribe-Post', (to) => raw(to, { drop: ['List-Unsubscribe-Post'] }), {}, /^550 5\.7\.1 .*List-Unsubscribe-Post/],
  ['a List-Unsubscribe-Post with another value', (to) => raw(to, { drop: ['List-Unsubscribe-Post'], extra: ['List-Unsubscribe-Post: List-Unsubscribe=Yes'] }), {}, /^550 5\.7\.1 .*exactly "List-Unsubscribe=One-Click"/],
  ['a message without List-Unsubscribe', (to) => raw(to, { drop: ['List-Unsubscribe'] }), {}, /^550 5\.7\.1 .*List-Unsubscribe header with an https URI/],
  ['a List-Unsubscribe with only a mailto', (to) => raw(to, { drop: ['List-Unsubscribe'], extra: ['List-Unsubscribe: <mailto:u@sandbox.herald.test>'] }), {}, /https URI/],
  ['a signature that does not cover List-Unsubscribe-Post', (to) => raw(to), { signedHeaders: 'From:To:Subject:Date:Message-ID:List-Unsubscribe' }, /^550 5\.7\.1 The DKIM signature must cover List-Unsubscribe and List-Unsubscribe-Post/],
  ['a message without Message-ID', (to) => raw(to, { drop: ['Message-ID'] }), {}, /^550 5\.7\.1 Messages missing a valid Message-ID/],
  ['a message without Date', (to) => raw(to, { drop: ['Date'] }), {}, /^550 5\.7\.1 .*Date/],
  ['a message with two From addresses', (to) => raw(to, { from: `a@${domain()}>, <b@${domain()}` }), {}, /^550 5\.7\.1 .*exactly one From/],
];

for (const [name, message, options, expected] of refusals) {
  test(`refuses ${name} and records it as rejected`, async () => {
    const to = recipient();
    const r = await send(to, message(to), options);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.code, 550);
    assert.match(r.response, expected);
    const [rec] = emailRecordsOf(sb, to);
    assert.equal(rec!.status, 550);
    assert.match(`550 ${rec!.reason}`, expected);
    assert.equal(emailRecordsOf(sb, to, false).length, 0);
  });
}

test('a message signed after its body was altered fails DKIM', async () => {
  const to = recipient();
  // Sign, then tamper with the body of the signed bytes, then send those unsigned.
  const signed = await new Promise<Buffer>((resolve, reject) => {
    const t = nodemailer.createTransport({ streamTransport: true, buffer: true,
      dkim: { domainName: domain(), keySelector: sb.account.dkim!.selector, privateKey: sb.account.dkim!.privateKeyPem } });
    t.sendMail({ envelope: { from: `news@${domain()}`, to }, raw: raw(to) }, (err, info) => (err ? reject(err) : resolve(info.message as Buffer)));
  });
  const tampered = signed.toString('utf8').replace('Hello there', 'Hello their');
  const r = await send(to, tampered, { sign: false });
  assert.ok(!r.ok && r.code === 550 && /no DKIM signature verifies/.test(r.response), JSON.stringify(r));
});

test('a wrong password gets 535 and nothing is recorded', async () => {
  const to = recipient();
  const r = await send(to, raw(to), { password: 'wrong' });
  assert.ok(!r.ok && r.code === 535, JSON.stringify(r));
  assert.equal(emailRecordsOf(sb, to).length, 0);
});

test('AUTH is refused before STARTTLS: the password never travels in clear', async () => {
  const to = recipient();
  const r = await send(to, raw(to), { ignoreTLS: true });
  assert.equal(r.ok, false);
  assert.equal(emailRecordsOf(sb, to).length, 0);
});

test('a message over SIZE gets 552 and is recorded as rejected', async () => {
  const to = recipient();
  const r = await send(to, raw(to, { body: 'x'.repeat(70 * 1024) }));
  assert.ok(!r.ok && r.code === 552, JSON.stringify(r));
  assert.equal(emailRecordsOf(sb, to)[0]!.status, 552);
});

test('a fault answers its code and text at RCPT for matching addresses only, and expires after count', async () => {
  sb.faults.add({ channel: 'email', target_prefix: 'full', status: 452, reason: '4.2.2 Mailbox full', count: 1 });
  const to = recipient('full');
  const first = await send(to, raw(to));
  assert.ok(!first.ok && first.code === 452 && first.response === '452 4.2.2 Mailbox full', JSON.stringify(first));
  assert.deepEqual(await send(to, raw(to)), { ok: true });
  const other = recipient('other');
  assert.deepEqual(await send(other, raw(other)), { ok: true });
  assert.deepEqual(emailRecordsOf(sb, to).map((r) => [r.status, r.reason]), [[452, '4.2.2 Mailbox full'], [250, null]]);
});
