import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideTargets, skipReasons, type RecipientRows } from './recipients.js';

const none: RecipientRows = { installations: [], invalidated: new Set(), profiles: [], suppressions: new Map(), optedOut: new Set() };
const all = { push: true, email: true, sms: true };

test('push reaches each token once: explicit tokens and the named installations, an invalidated one skipped as invalidated', () => {
  const rows: RecipientRows = {
    ...none,
    installations: [
      { install_id: 'i1', custom_id: 'alice', platform: 'ios', token: 'aa', apns_environment: 'sandbox' },
      { install_id: 'i2', custom_id: 'bob', platform: 'android', token: 'bb', apns_environment: null },
      { install_id: 'i3', custom_id: null, platform: 'web', token: 'cc', apns_environment: null },
    ],
    invalidated: new Set(['android:dead']),
  };
  const targets = decideTargets({ custom_ids: ['alice'], install_ids: ['i3'], tokens: [{ platform: 'ios', token: 'aa' }, { platform: 'android', token: 'dead' }] },
    { push: true, email: false, sms: false }, rows);
  assert.deepEqual(targets, [
    { platform: 'ios', target: 'aa', target_kind: 'token', install_id: 'i1', env: 'sandbox', custom_id: 'alice' },
    { platform: 'android', target: 'dead', target_kind: 'token', install_id: null, env: null, custom_id: null, skip: skipReasons.invalidated, skipStatus: 'invalidated' },
    { platform: 'web', target: 'cc', target_kind: 'subscription', install_id: 'i3', env: null, custom_id: null },
  ]);
});

test('email: profile and explicit addresses once each, lower-cased; suppressed before unsubscribed; a channel without content reaches nobody', () => {
  const rows: RecipientRows = {
    ...none,
    profiles: [
      { custom_id: 'alice', email: 'Alice@Example.com', email_subscription: null, phone: '+15550001', sms_subscription: 'unsubscribed' },
      { custom_id: 'carol', email: 'carol@example.com', email_subscription: 'unsubscribed', phone: null, sms_subscription: null },
      { custom_id: 'dave', email: 'dave@example.com', email_subscription: 'unsubscribed', phone: null, sms_subscription: null },
    ],
    suppressions: new Map([['dave@example.com', 'hard bounce']]),
    optedOut: new Set(['+15550002']),
  };
  const targets = decideTargets({ custom_ids: ['alice', 'carol', 'dave'], emails: ['ALICE@example.com', 'x@example.com'], phones: ['+15550002'] }, all, rows);
  assert.deepEqual(targets.map((t) => [t.platform, t.target, t.target_kind, t.skip, t.custom_id]), [
    ['email', 'alice@example.com', 'address', undefined, 'alice'],
    ['email', 'carol@example.com', 'address', skipReasons.emailUnsubscribed, 'carol'],
    ['email', 'dave@example.com', 'address', skipReasons.suppressed('hard bounce'), 'dave'],
    ['email', 'x@example.com', 'address', undefined, null],
    ['sms', '+15550001', 'number', skipReasons.smsUnsubscribed, 'alice'],
    ['sms', '+15550002', 'number', skipReasons.optedOut, null],
  ]);
  assert.deepEqual(decideTargets({ custom_ids: ['alice'] }, { push: false, email: false, sms: true }, rows).map((t) => t.platform), ['sms']);
});

test('profiles sharing an address get one delivery, counted for the first custom_id', () => {
  const rows: RecipientRows = {
    ...none,
    profiles: [
      { custom_id: 'zed', email: 'home@example.com', email_subscription: null, phone: null, sms_subscription: null },
      { custom_id: 'amy', email: 'Home@example.com', email_subscription: null, phone: null, sms_subscription: null },
    ],
  };
  assert.deepEqual(decideTargets({ custom_ids: ['zed', 'amy'] }, all, rows).map((t) => [t.target, t.custom_id]), [['home@example.com', 'amy']]);
});

test('rows loaded for other messages of the batch reach nobody here', () => {
  const rows: RecipientRows = {
    ...none,
    installations: [{ install_id: 'other', custom_id: 'zoe', platform: 'ios', token: 'zz', apns_environment: null }],
    profiles: [{ custom_id: 'zoe', email: 'zoe@example.com', email_subscription: null, phone: '+15550009', sms_subscription: null }],
  };
  assert.deepEqual(decideTargets({ custom_ids: ['alice'] }, all, rows), []);
});
