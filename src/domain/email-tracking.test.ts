import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addTracking, decodeAttribute } from './email-tracking.js';
import { signTrackingToken, verifyTrackingToken } from './tracking-token.js';
import { isMachineOpen } from './machine-open.js';

const secret = Buffer.alloc(32, 1);
const projectId = '0191e2a4-0000-7000-8000-000000000001';
const deliveryId = '0191e2a4-0000-7000-8000-0000000000ff';

test('links are rewritten in order, entities decoded, others and the unsubscribe link kept, the pixel before </body>', () => {
  const html = `<html><body><a href="https://x.example/a?p=1&amp;q=2">a</a> <A class="c" HREF='http://x.example/b'>b</A>
    <a href="mailto:me@x.example">m</a> <a href="#top">t</a> <a href="https://herald.example/v1/email/unsubscribe/tok">u</a></body></html>`;
  const out = addTracking(html, { click: (i, url) => `https://h/r/${i}?u=${encodeURIComponent(url)}`, pixel: 'https://h/r/open', keep: ['https://herald.example/v1/email/unsubscribe/tok'] });
  assert.deepEqual(out.links, ['https://x.example/a?p=1&q=2', 'http://x.example/b']);
  assert.match(out.html, /<a href="https:\/\/h\/r\/0\?u=https%3A%2F%2Fx\.example%2Fa%3Fp%3D1%26q%3D2">a<\/a>/);
  assert.match(out.html, /<A class="c" HREF="https:\/\/h\/r\/1\?u=http%3A%2F%2Fx\.example%2Fb">b<\/A>/);
  assert.ok(out.html.includes('href="mailto:me@x.example"') && out.html.includes('href="#top"'));
  assert.ok(out.html.includes('href="https://herald.example/v1/email/unsubscribe/tok"'));
  assert.match(out.html, /<img src="https:\/\/h\/r\/open" width="1" height="1"[^>]*><\/body><\/html>$/);
  assert.equal(decodeAttribute('a&#38;b&#x26;c&lt;&unknown;'), 'a&b&c<&unknown;');
});

test('a tracking token verifies as made and fails once any byte is changed', () => {
  const click = signTrackingToken(secret, { kind: 'click', projectId, deliveryId, link: 3, url: 'https://x.example/ü' });
  assert.deepEqual(verifyTrackingToken(secret, click), { kind: 'click', projectId, deliveryId, link: 3, url: 'https://x.example/ü' });
  assert.deepEqual(verifyTrackingToken(secret, signTrackingToken(secret, { kind: 'open', projectId, deliveryId })), { kind: 'open', projectId, deliveryId });
  for (let i = 0; i < click.length; i++) {
    if (click[i] === '.') continue;
    const c = click[i] === 'A' ? 'B' : 'A';
    assert.equal(verifyTrackingToken(secret, click.slice(0, i) + c + click.slice(i + 1)), undefined, `byte ${i}`);
  }
  assert.equal(verifyTrackingToken(Buffer.alloc(32, 2), click), undefined, 'another secret');
});

test('Apple Mail Privacy Protection fetches are machine opens; a mail client\'s are not', () => {
  assert.equal(isMachineOpen({ userAgent: 'Mozilla/5.0', ip: '203.0.113.9' }), true);
  assert.equal(isMachineOpen({ userAgent: 'Mozilla/5.0 (iPhone)', ip: '::ffff:17.58.1.2' }), true);
  assert.equal(isMachineOpen({ userAgent: 'Mozilla/5.0 (Windows NT 10.0) Thunderbird/128.0', ip: '203.0.113.9' }), false);
  assert.equal(isMachineOpen({ userAgent: undefined, ip: '170.1.1.1' }), false);
});
