import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { twilioSignature, verifyTwilioSignature } from './signature.js';

// Twilio's published example (TwilioDevEd/api-snippets, security/signature_validation): auth token
// 12345, this URL and these parameters give RSOYDt4T1cUTdK1PDd93/VVr8B8=.
const token = '12345';
const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
const published = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';

test('computes Twilio\'s published example signature', () => {
  assert.equal(twilioSignature(token, url, params), published);
});

test('the parameters are signed sorted by name, whatever order they came in', () => {
  const reversed = Object.entries(params).reverse();
  assert.equal(twilioSignature(token, url, reversed), published);
  assert.equal(twilioSignature(token, url, new URLSearchParams(reversed)), published);
});

test('matches an independent computation: HMAC-SHA1 over URL + sorted name+value pairs', () => {
  const p = { To: '+15005550006', Body: 'héllo 😀', MessageStatus: 'delivered' };
  const data = 'https://h.example/v1/webhooks/sms/p/status' + 'Bodyhéllo 😀' + 'MessageStatusdelivered' + 'To+15005550006';
  assert.equal(twilioSignature('tok', 'https://h.example/v1/webhooks/sms/p/status', p), createHmac('sha1', 'tok').update(data).digest('base64'));
});

test('verifies the right signature and refuses any change of token, URL, parameter or signature', () => {
  assert.equal(verifyTwilioSignature(token, published, url, params), true);
  assert.equal(verifyTwilioSignature('12346', published, url, params), false);
  assert.equal(verifyTwilioSignature(token, published, url + '&baz=3', params), false);
  assert.equal(verifyTwilioSignature(token, published, url, { ...params, Digits: '1235' }), false);
  assert.equal(verifyTwilioSignature(token, published, url, { ...params, Extra: '' }), false);
  assert.equal(verifyTwilioSignature(token, published.replace('R', 'S'), url, params), false);
  assert.equal(verifyTwilioSignature(token, published.slice(1), url, params), false);
  assert.equal(verifyTwilioSignature(token, undefined, url, params), false);
  assert.equal(verifyTwilioSignature('', twilioSignature('', url, params), url, params), false, 'an empty token verifies nothing');
});

test('a URL signed with its default port written out still verifies, and the other way round', () => {
  const withPort = 'https://mycompany.com:443/myapp.php?foo=1&bar=2';
  assert.equal(verifyTwilioSignature(token, twilioSignature(token, withPort, params), url, params), true);
  assert.equal(verifyTwilioSignature(token, published, withPort, params), true);
  assert.equal(verifyTwilioSignature(token, twilioSignature(token, 'https://mycompany.com:8443/myapp.php?foo=1&bar=2', params), url, params), false);
});
