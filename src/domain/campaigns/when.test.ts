import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWhen, parseWhen, WhenError } from './when.js';

const refused = (input: unknown, path: string, reason?: RegExp) => {
  assert.throws(() => parseWhen(input), (e: unknown) => {
    assert.ok(e instanceof WhenError, String(e));
    assert.equal(e.path, path);
    if (reason) assert.match(e.reason, reason);
    return true;
  });
};

const weekly = { type: 'recurring', rule: 'FREQ=WEEKLY;BYDAY=MO', time: '09:00', local: true, starts: '2026-03-02' };

test('a bad when is refused naming the path of the bad field', () => {
  refused('now', 'when', /object/);
  refused({}, 'when.type', /"now", "at", "local", "recurring"/);
  refused({ type: 'later' }, 'when.type');
  refused({ type: 'now', at: 1 }, 'when.at', /not allowed/);
  refused({ type: 'at' }, 'when.instant', /offset/);
  refused({ type: 'at', instant: '2026-12-24T09:00:00' }, 'when.instant', /offset/);
  refused({ type: 'at', instant: '2026-02-30T09:00:00Z' }, 'when.instant');
  refused({ type: 'at', instant: '2026-12-24T24:00:00Z' }, 'when.instant');
  refused({ type: 'at', instant: '2026-12-24T09:00:00+15:00' }, 'when.instant');
  refused({ type: 'at', instant: 1798102800000 }, 'when.instant');
  refused({ type: 'at', instant: '2026-12-24T09:00:00Z', late: { policy: 'skip' } }, 'when.late.policy', /skip everyone/);
  refused({ type: 'at', instant: '2026-12-24T09:00:00Z', late: { policy: 'next_day' } }, 'when.late.policy', /send_if_within/);
  refused({ type: 'at', instant: '2026-12-24T09:00:00Z', late: { policy: 'send_if_within' } }, 'when.late.within_minutes');
  refused({ type: 'local', date: '2026-12-24' }, 'when.time', /HH:MM/);
  refused({ type: 'local', date: '24/12/2026', time: '09:00' }, 'when.date', /YYYY-MM-DD/);
  refused({ type: 'local', date: '2026-12-24', time: '9:00' }, 'when.time');
  refused({ type: 'local', date: '2026-12-24', time: '09:00', zone: 'Europe/Paris' }, 'when.zone', /not allowed/);
  refused({ type: 'local', date: '2026-12-24', time: '09:00', late: 'skip' }, 'when.late', /object/);
  refused({ type: 'local', date: '2026-12-24', time: '09:00', late: { policy: 'later' } }, 'when.late.policy', /"skip", "send_if_within", "next_day"/);
  refused({ type: 'local', date: '2026-12-24', time: '09:00', late: { policy: 'send_if_within' } }, 'when.late.within_minutes', /1 to 1440/);
  refused({ type: 'local', date: '2026-12-24', time: '09:00', late: { policy: 'send_if_within', within_minutes: 0 } }, 'when.late.within_minutes');
  refused({ type: 'local', date: '2026-12-24', time: '09:00', late: { policy: 'send_if_within', within_minutes: 1441 } }, 'when.late.within_minutes');
  refused({ type: 'local', date: '2026-12-24', time: '09:00', late: { policy: 'send_if_within', within_minutes: 2.5 } }, 'when.late.within_minutes');
  refused({ type: 'local', date: '2026-12-24', time: '09:00', late: { policy: 'skip', within_minutes: 5 } }, 'when.late.within_minutes', /not allowed/);
  refused({ ...weekly, rule: 'FREQ=MONTHLY;BYSETPOS=1' }, 'when.rule.BYSETPOS', /not supported/);
  refused({ ...weekly, rule: 'FREQ=YEARLY' }, 'when.rule.FREQ');
  refused({ ...weekly, rule: 7 }, 'when.rule');
  refused({ ...weekly, local: 'yes' }, 'when.local', /true/);
  refused({ type: 'recurring', rule: 'FREQ=DAILY', time: '09:00', starts: '2026-03-02' }, 'when.local');
  refused({ ...weekly, starts: undefined }, 'when.starts');
  refused({ ...weekly, until: '2026-03-01' }, 'when.until', /before "starts"/);
  refused({ ...weekly, until: '2026-06-01', count: 3 }, 'when.count', /one end/);
  refused({ ...weekly, count: 0 }, 'when.count');
  refused({ ...weekly, rule: 'FREQ=WEEKLY;COUNT=3', count: 3 }, 'when.count', /COUNT too/);
  refused({ ...weekly, rule: 'FREQ=WEEKLY;UNTIL=20260601', until: '2026-06-01' }, 'when.until', /UNTIL too/);
  refused({ ...weekly, per_profile_cap: -1 }, 'when.per_profile_cap');
  refused({ ...weekly, late: { policy: 'next_day' } }, 'when.late.policy', /recurring/);
  refused({ ...weekly, rule: 'FREQ=WEEKLY;BYDAY=MO;UNTIL=20260301' }, 'when.rule', /no date on or after 2026-03-02/);
  refused({ ...weekly, every: 'week' }, 'when.every', /not allowed/);
});

test('the four shapes parse into typed values', () => {
  assert.deepEqual(parseWhen({ type: 'now' }), { type: 'now' });
  assert.deepEqual(parseWhen({ type: 'at', instant: '2026-12-24T09:00:00+01:00' }), { type: 'at', instant: Date.parse('2026-12-24T08:00:00Z'), late: null });
  assert.deepEqual(parseWhen({ type: 'at', instant: '2026-12-24T08:00Z' }), { type: 'at', instant: Date.parse('2026-12-24T08:00:00Z'), late: null });
  assert.deepEqual(parseWhen({ type: 'at', instant: '2026-12-24T08:00:00.250-05:00', late: { policy: 'send_if_within', within_minutes: 60 } }),
    { type: 'at', instant: Date.parse('2026-12-24T13:00:00.250Z'), late: { policy: 'send_if_within', withinMinutes: 60 } });
  assert.deepEqual(parseWhen({ type: 'local', date: '2026-12-24', time: '09:00' }),
    { type: 'local', date: { year: 2026, month: 12, day: 24 }, time: { hour: 9, minute: 0 }, late: { policy: 'skip' } });
  assert.deepEqual(parseWhen({ type: 'local', date: '2026-12-24', time: '09:00', late: { policy: 'next_day' } }).type, 'local');
  const local = parseWhen({ type: 'local', date: '2026-12-24', time: '09:00', late: { policy: 'next_day', within_minutes: 30 } });
  assert.deepEqual(local.type === 'local' && local.late, { policy: 'next_day', withinMinutes: 30 });
  const r = parseWhen({ ...weekly, count: 10, per_profile_cap: 4, late: { policy: 'send_if_within', within_minutes: 15 } });
  assert.equal(r.type, 'recurring');
  if (r.type !== 'recurring') return;
  assert.equal(r.rule.freq, 'WEEKLY');
  assert.equal(r.rule.count, 10);
  assert.equal(r.perProfileCap, 4);
  assert.equal(r.local, true);
  assert.deepEqual(r.late, { policy: 'send_if_within', withinMinutes: 15 });
  const until = parseWhen({ ...weekly, until: '2026-06-29' });
  assert.deepEqual(until.type === 'recurring' && until.rule.until, { day: Date.UTC(2026, 5, 29) / 86_400_000, second: 86_399 });
});

test('checkWhen returns the value or the error instead of throwing', () => {
  assert.deepEqual(checkWhen({ type: 'now' }), { ok: true, when: { type: 'now' } });
  const bad = checkWhen({ type: 'recurring', rule: 'FREQ=DAILY;BYHOUR=9' }, 'campaign.when');
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.equal(bad.error.path, 'campaign.when.rule.BYHOUR');
});
