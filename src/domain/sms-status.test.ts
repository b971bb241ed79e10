import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callbackVerdict, errorReason, replaceableBy } from './sms-status.js';

test('queued, accepted, scheduled and sending are still in flight', () => {
  for (const s of ['queued', 'accepted', 'scheduled', 'sending']) assert.deepEqual(callbackVerdict(s), { kind: 'in_flight', messageStatus: s });
});

test('sent and delivered map to themselves without a reason; read counts as delivered', () => {
  assert.deepEqual(callbackVerdict('sent'), { kind: 'status', status: 'sent', reason: null });
  assert.deepEqual(callbackVerdict('delivered', '0'), { kind: 'status', status: 'delivered', reason: null });
  assert.deepEqual(callbackVerdict('read'), { kind: 'status', status: 'delivered', reason: null });
});

test('undelivered and failed carry Twilio\'s error code and its meaning', () => {
  assert.deepEqual(callbackVerdict('undelivered', '30003'), { kind: 'status', status: 'undelivered', reason: '30003: unreachable destination handset' });
  assert.deepEqual(callbackVerdict('failed', '30036'), { kind: 'status', status: 'failed', reason: '30036: validity period expired' });
  assert.deepEqual(callbackVerdict('undelivered'), { kind: 'status', status: 'undelivered', reason: 'undelivered' });
  assert.deepEqual(callbackVerdict('failed', '39999'), { kind: 'status', status: 'failed', reason: '39999' });
  assert.deepEqual(callbackVerdict('canceled'), { kind: 'status', status: 'failed', reason: 'canceled' });
  assert.equal(errorReason(''), null);
});

test('inbound statuses and unknown ones are ignored', () => {
  for (const s of ['received', 'receiving', 'partially_delivered', 'Delivered', '']) assert.equal(callbackVerdict(s).kind, 'ignored');
});

test('sent replaces queued or unknown; a final status replaces those or sent, never another final one', () => {
  assert.deepEqual(replaceableBy('sent'), ['queued', 'unknown']);
  for (const s of ['delivered', 'undelivered', 'failed'] as const) {
    assert.deepEqual(replaceableBy(s), ['queued', 'unknown', 'sent']);
    for (const final of ['delivered', 'undelivered', 'failed', 'invalidated', 'expired']) assert.ok(!replaceableBy(s).includes(final));
  }
});
