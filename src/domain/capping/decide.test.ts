import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideCapping, type CountedSend } from './decide.js';
import { quietUntil } from './quiet-hours.js';
import { covers, kindOfGroup, type CappingRule } from './rules.js';

const hour = 3_600_000;
const now = Date.parse('2026-06-01T12:00:00Z');
const rule = (r: Partial<CappingRule> = {}): CappingRule => ({
  id: 'r', name: 'r', scope: 'all', label: null, channels: [], max: 2, windowMs: 24 * hour, action: 'skip', maxDelayMs: null, ...r,
});
const sent = (hoursAgo: number, s: Partial<CountedSend> = {}): CountedSend => ({ at: now - hoursAgo * hour, kind: 'campaign', labels: [], channels: ['email'], ...s });
const email = { kind: 'campaign' as const, labels: [], channels: ['email' as const] };

test('the sliding window counts sends in (now − window, now]: a send exactly one window old no longer counts', () => {
  assert.deepEqual(decideCapping({ rules: [rule()], history: [sent(24), sent(1)], send: email, createdAt: now, now }), { action: 'send' });
  assert.deepEqual(decideCapping({ rules: [rule()], history: [sent(23.9), sent(1)], send: email, createdAt: now, now }), { action: 'skip', reason: 'capped: r' });
});

test('a deferral waits until enough of the oldest sends leave every hit rule\'s window, within the maximum delay', () => {
  const defer = rule({ action: 'defer', max: 2, maxDelayMs: 12 * hour });
  // Three in the window, two allowed: the two oldest must leave; the second oldest leaves at 20 h ago + 24 h.
  const history = [sent(22), sent(20), sent(2)];
  assert.deepEqual(decideCapping({ rules: [defer], history, send: email, createdAt: now, now }), { action: 'defer', until: now + 4 * hour, reason: 'capped: r' });
  // Two rules: the later release wins.
  const hourly = rule({ name: 'hourly', action: 'defer', max: 1, windowMs: 6 * hour, maxDelayMs: 12 * hour });
  assert.deepEqual(decideCapping({ rules: [defer, hourly], history, send: email, createdAt: now, now }), { action: 'defer', until: now + 4 * hour, reason: 'capped: r' });
  const later = [sent(22), sent(20), sent(0.5)];
  assert.equal(decideCapping({ rules: [defer, hourly], history: later, send: email, createdAt: now, now }).action, 'defer');
  // Past the maximum delay (created 9 h ago, may wait until 3 h from now): skipped.
  assert.deepEqual(decideCapping({ rules: [defer], history, send: email, createdAt: now - 9 * hour, now }), { action: 'skip', reason: 'capped: r (no room before the maximum delay)' });
});

test('scopes and channels: transactional sends are capped only by rules that name them; labels and channels narrow what counts', () => {
  const receipt = { kind: 'transactional' as const, labels: [], channels: ['sms' as const] };
  assert.equal(covers(rule({ scope: 'marketing' }), receipt), false);
  assert.equal(covers(rule({ scope: 'all' }), receipt), true);
  assert.equal(covers(rule({ scope: 'transactional', channels: ['email'] }), receipt), false);
  assert.equal(covers(rule({ scope: 'label', label: 'promo' }), { ...email, labels: ['promo'] }), true);
  assert.equal(covers(rule({ scope: 'label', label: 'promo' }), email), false);
  assert.equal(covers(rule({ scope: 'in_app' }), email), false);
  // A marketing rule does not count past transactional sends either.
  const history = [sent(1, { kind: 'transactional' }), sent(2, { kind: 'transactional' })];
  assert.deepEqual(decideCapping({ rules: [rule({ scope: 'marketing' })], history, send: email, createdAt: now, now }), { action: 'send' });
  assert.equal(kindOfGroup('campaign:0190'), 'campaign');
  assert.equal(kindOfGroup('automation:x'), 'automation');
  assert.equal(kindOfGroup('receipts'), 'transactional');
});

test('quiet hours cross midnight in the recipient\'s zone, and a deferral that ends in them waits for their end', () => {
  const q = { start: { hour: 22, minute: 0 }, end: { hour: 8, minute: 0 }, action: 'defer' as const };
  // 12:00 UTC is 21:00 in Tokyo (not quiet) and 08:00 in New York in summer (just over).
  assert.equal(quietUntil(q, 'Asia/Tokyo', now), null);
  assert.equal(quietUntil(q, 'America/New_York', now), null);
  assert.equal(quietUntil(q, 'America/New_York', now - 1), now);
  // 23:00 in Tokyo: until 08:00 the next morning there (23:00 UTC).
  assert.equal(quietUntil(q, 'Asia/Tokyo', now + 2 * hour), Date.parse('2026-06-01T23:00:00Z'));
  // A window inside one day (13:00–14:00).
  assert.equal(quietUntil({ ...q, start: { hour: 13, minute: 0 }, end: { hour: 14, minute: 0 } }, 'Europe/Paris', now), null);
  assert.equal(quietUntil({ ...q, start: { hour: 13, minute: 0 }, end: { hour: 15, minute: 0 } }, 'Europe/Paris', now + 30 * 60_000), Date.parse('2026-06-01T13:00:00Z'));
  // A capping deferral landing at 23:00 Tokyo time is held further, to 08:00 there.
  const defer = rule({ action: 'defer', max: 1, maxDelayMs: 48 * hour });
  const d = decideCapping({ rules: [defer], history: [sent(22)], send: email, createdAt: now, now, quiet: { hours: q, zone: 'Asia/Tokyo' } });
  assert.deepEqual(d, { action: 'defer', until: Date.parse('2026-06-01T23:00:00Z'), reason: 'quiet hours' });
  // Transactional sends ignore quiet hours; skip quiet hours skip.
  assert.deepEqual(decideCapping({ rules: [], history: [], send: { ...email, kind: 'transactional' }, createdAt: now, now: now + 2 * hour, quiet: { hours: q, zone: 'Asia/Tokyo' } }), { action: 'send' });
  assert.deepEqual(decideCapping({ rules: [], history: [], send: email, createdAt: now, now: now + 2 * hour, quiet: { hours: { ...q, action: 'skip' }, zone: 'Asia/Tokyo' } }), { action: 'skip', reason: 'quiet hours' });
});
