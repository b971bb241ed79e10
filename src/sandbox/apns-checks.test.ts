import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkApnsHeaders, checkPayload, checkRequestLine, findDuplicateHeader, refusals, targetOf } from './apns-checks.js';

const bundle = 'com.example.app';

test('without apns-push-type the topic suffix decides: .voip gets the 5120-byte limit, an unknown suffix is BadTopic', () => {
  assert.equal(checkApnsHeaders({ 'apns-topic': bundle }, bundle), 4096);
  assert.equal(checkApnsHeaders({ 'apns-topic': bundle + '.voip' }, bundle), 5120);
  assert.equal(checkApnsHeaders({ 'apns-topic': bundle + '.complication' }, bundle), 4096);
  assert.equal(checkApnsHeaders({ 'apns-topic': bundle + '.nonsense' }, bundle), refusals.badTopic);
  assert.equal(checkApnsHeaders({ 'apns-topic': 'com.example' }, bundle), refusals.badTopic);
});

test('push types that look like object keys are not push types', () => {
  assert.equal(checkApnsHeaders({ 'apns-topic': bundle, 'apns-push-type': 'constructor' }, bundle), refusals.invalidPushType);
  assert.equal(checkApnsHeaders({ 'apns-topic': bundle, 'apns-push-type': 'Alert' }, bundle), refusals.invalidPushType);
});

test('apns-expiration 0 and epoch seconds pass; negatives and decimals are BadExpirationDate', () => {
  assert.equal(checkApnsHeaders({ 'apns-topic': bundle, 'apns-expiration': '0' }, bundle), 4096);
  assert.equal(checkApnsHeaders({ 'apns-topic': bundle, 'apns-expiration': '1767225600' }, bundle), 4096);
  assert.equal(checkApnsHeaders({ 'apns-topic': bundle, 'apns-expiration': '-1' }, bundle), refusals.badExpirationDate);
  assert.equal(checkApnsHeaders({ 'apns-topic': bundle, 'apns-expiration': '1.5' }, bundle), refusals.badExpirationDate);
});

test('the request line: token of any hex length, nothing after it', () => {
  assert.equal(checkRequestLine('POST', '/3/device/ab'), undefined);
  assert.equal(checkRequestLine('POST', '/3/device/' + 'AB'.repeat(50)), undefined);
  assert.equal(checkRequestLine('POST', '/3/device/ab?x=1'), refusals.badPath);
  assert.equal(checkRequestLine('POST', '/3/device'), refusals.badPath);
  assert.equal(checkRequestLine('GET', '/3/device/ab'), refusals.methodNotAllowed);
  assert.equal(targetOf('/3/device/ab'), 'ab');
  assert.equal(targetOf('/4/device/ab'), '');
});

test('duplicate header names are found in the raw list, values may repeat freely', () => {
  assert.equal(findDuplicateHeader([':method', 'POST', 'apns-topic', 'a', 'apns-id', 'a']), undefined);
  assert.equal(findDuplicateHeader([':method', 'POST', 'apns-topic', 'a', 'x', 'y', 'apns-topic', 'a']), 'apns-topic');
});

test('the payload must be a JSON object whose aps is a dictionary', () => {
  const check = (s: string) => checkPayload(Buffer.from(s), Buffer.byteLength(s), 4096);
  assert.equal(check('{"aps":{}}'), undefined);
  assert.equal(check('{"aps":[]}'), refusals.badPayload);
  assert.equal(check('{"aps":"x"}'), refusals.badPayload);
  assert.equal(check('[{"aps":{}}]'), refusals.badPayload);
  assert.equal(check('null'), refusals.badPayload);
  assert.equal(checkPayload(Buffer.alloc(0), 0, 4096), refusals.payloadEmpty);
  assert.equal(checkPayload(Buffer.from('{"aps":{}}'), 4097, 4096), refusals.payloadTooLarge, 'judged by bytes received, not bytes kept');
});
