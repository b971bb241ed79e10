import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEmail, unsubscribeUrl, type EmailToSend } from './email-message.js';

const valid: EmailToSend = {
  deliveryId: '0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b',
  from: { name: 'Acme', address: 'news@Mail.Acme.example' },
  to: 'ann@example.com',
  subject: 'Hello',
  text: 'Hi',
  unsubscribeUrl: 'https://herald.example.com/v1/email/unsubscribe/abc.def',
};

test('the Message-ID is the delivery id at the From domain, the same on every build', () => {
  const a = buildEmail(valid);
  const b = buildEmail({ ...valid, subject: 'Other' });
  assert.ok(a.ok && b.ok);
  assert.equal(a.email.messageId, '<0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b@mail.acme.example>');
  assert.equal(a.email.messageId, b.email.messageId);
});

test('one-click headers: the https URI, then the optional mailto, and the exact Post value', () => {
  const r = buildEmail({ ...valid, unsubscribeMailto: 'mailto:u@acme.example?subject=stop' });
  assert.ok(r.ok);
  assert.deepEqual(r.email.headers, {
    'List-Unsubscribe': '<https://herald.example.com/v1/email/unsubscribe/abc.def>, <mailto:u@acme.example?subject=stop>',
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  });
});

test('unsubscribeUrl joins a base URL with or without a trailing slash', () => {
  assert.equal(unsubscribeUrl('https://h.example/', 't.k'), 'https://h.example/v1/email/unsubscribe/t.k');
  assert.equal(unsubscribeUrl('https://h.example', 't.k'), 'https://h.example/v1/email/unsubscribe/t.k');
});

const refused: [string, Partial<EmailToSend>, RegExp][] = [
  ['a line break in the subject (header injection)', { subject: 'Hi\r\nBcc: x@evil.example' }, /one line/],
  ['a line break in the sender name', { from: { name: 'A\nB', address: 'news@acme.example' } }, /one line/],
  ['no body at all', { text: undefined, html: undefined }, /html or a text part/],
  ['a recipient that is not an address', { to: 'ann at example.com' }, /recipient/],
  ['a From that is not an address', { from: { address: 'acme' } }, /From/],
  ['an http unsubscribe URL', { unsubscribeUrl: 'http://herald.example.com/u' }, /https/],
  ['a mailto that is not one', { unsubscribeMailto: 'u@acme.example' }, /mailto/],
  ['a delivery id that cannot be a Message-ID', { deliveryId: 'a b@c' }, /Message-ID/],
  ['an unsubscribe header longer than one line', { unsubscribeUrl: `https://h.example/${'x'.repeat(1000)}` }, /998/],
];

for (const [name, over, reason] of refused) {
  test(`refuses ${name}`, () => {
    const r = buildEmail({ ...valid, ...over });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, reason);
  });
}
