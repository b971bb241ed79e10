/**
 * One provider down for a minute and a half while 5,000 deliveries go out on four channels: FCM
 * answers 503 to everything until the other channels have finished, and then through 90 s of
 * Herald's clock, which the test moves forward through two breaker cool-downs (30 s, then 60 s),
 * each ending in one probe that fails. FCM's deliveries wait meanwhile (its circuit breaker parks
 * them, spending no attempts) and all go out once it recovers; nothing is sent twice anywhere.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestHerald, eventually, type TestHerald } from '../support/herald.js';
import { testClock } from '../support/clock.js';

const clock = testClock();
let h: TestHerald;
let inspection: string;
before(async () => {
  h = await startTestHerald({ overrides: { clock } });
  inspection = h.herald.sandbox!.inspectionUrl;
});
after(async () => { await h.close(); });

const messages = 1_250; // × 4 recipients (iOS, Android, email, SMS) = 5,000 deliveries
/** The breaker's cool-downs (domain/circuit-breaker.ts defaults): 30 s, doubled after each failed probe. */
const coolDownsMs = [30_000, 60_000];
const parkedReason = 'provider down: waiting for its circuit breaker';

const acceptedPerTarget = async (channel: string): Promise<Map<string, number>> => {
  const list = (await (await fetch(`${inspection}/_sandbox/deliveries?channel=${channel}&limit=10000`)).json()) as { target: string; status: number }[];
  const counts = new Map<string, number>();
  for (const r of list) counts.set(r.target, (counts.get(r.target) ?? 0) + 1);
  return counts;
};
const unfinished = async (platforms: string[]) =>
  (await h.db.sql<{ n: number }[]>`
    select count(*)::int as n from deliveries where platform = any(${platforms}::text[]) and status in ('queued')`)[0]!.n;
const parked = async () =>
  (await h.db.sql<{ n: number }[]>`
    select count(*)::int as n from deliveries where platform = 'android' and status = 'queued' and reason = ${parkedReason}`)[0]!.n;
const probesSeen = async (id: string) =>
  ((await (await fetch(`${inspection}/_sandbox/faults`)).json()) as { id: string; matched: number }[]).find((r) => r.id === id)!.matched;
const byStatus = async (platform: string) =>
  Object.fromEntries((await h.db.sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from deliveries where platform = ${platform} group by status`).map((r) => [r.status, r.n]));

test('FCM down for 90 s: the other channels deliver meanwhile, FCM catches up after, nothing twice', async () => {
  const started = Date.now();
  const rule = await (await fetch(`${inspection}/_sandbox/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'fcm', status: 503, reason: 'UNAVAILABLE' }),
  })).json() as { id: string };

  const run = randomBytes(3).toString('hex');
  const targets = Array.from({ length: messages }, (_, i) => ({
    ios: randomBytes(32).toString('hex'),
    android: `fcm-${run}-${i}:${randomBytes(16).toString('base64url')}`,
    email: `user${i}-${run}@example.org`,
    phone: `+1555${String(i).padStart(7, '0')}`,
  }));
  for (let i = 0; i < targets.length; i += 25) {
    await Promise.all(targets.slice(i, i + 25).map(async (t) => {
      const r = await h.call('POST', '/v1/transactional/send', {
        group_id: 'outage',
        recipients: { tokens: [{ platform: 'ios', token: t.ios }, { platform: 'android', token: t.android }], emails: [t.email], phones: [t.phone] },
        push: { title: 'Hi', body: 'during an FCM outage' },
        email: { subject: 'Hi', text: 'during an FCM outage' },
        sms: { text: 'Hi during an FCM outage' },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
    }));
  }

  const sentAfterMs = Date.now() - started;
  // While FCM is down, every other channel finishes.
  await eventually(async () => ((await unfinished(['ios', 'email', 'sms'])) === 0 ? true : undefined),
    240_000, 'the other channels to finish during the outage')
    .catch(async (err: Error) => {
      const state = Object.fromEntries(await Promise.all(['ios', 'email', 'sms', 'android'].map(async (p) => [p, await byStatus(p)])));
      throw new Error(`${err.message}; sends took ${sentAfterMs} ms; deliveries: ${JSON.stringify(state)}`);
    });
  const during = Object.fromEntries(await Promise.all(['ios', 'email', 'sms', 'android'].map(async (p) => [p, await byStatus(p)])));
  const seen = JSON.stringify(during);
  assert.equal(during.ios.sent, messages, seen);
  assert.equal(during.email.sent, messages, seen);
  assert.equal((during.sms.sent ?? 0) + (during.sms.delivered ?? 0), messages, seen);
  assert.equal(during.android.sent ?? 0, 0, `nothing got through FCM yet: ${seen}`);
  assert.equal(during.android.failed ?? 0, 0, `no FCM delivery spent its attempts and failed: ${seen}`);

  // Through each cool-down: every FCM delivery is parked (none is sent while the breaker is open),
  // then the clock reaches the cool-down's end and the breaker lets exactly one probe through, which fails.
  for (const ms of coolDownsMs) {
    await eventually(async () => (await parked()) === messages, 60_000, 'every FCM delivery parked by its breaker');
    const before = await probesSeen(rule.id);
    clock.advance(ms);
    await eventually(async () => (await probesSeen(rule.id)) > before, 60_000, 'the probe after the cool-down');
    await eventually(async () => (await parked()) === messages, 60_000, 'every FCM delivery parked again after the failed probe');
    assert.equal(await probesSeen(rule.id), before + 1, 'one probe per cool-down, the other deliveries held');
    const during = await byStatus('android');
    assert.equal(during.sent ?? 0, 0, `nothing got through FCM: ${JSON.stringify(during)}`);
    assert.equal(during.failed ?? 0, 0, `no FCM delivery spent its attempts and failed: ${JSON.stringify(during)}`);
  }
  assert.equal((await fetch(`${inspection}/_sandbox/faults/${rule.id}`, { method: 'DELETE' })).status < 300, true);

  // FCM recovers: after the next cool-down (120 s) its breaker lets a probe through and the rest follow.
  clock.advance(120_000);
  await eventually(async () => ((await unfinished(['android'])) === 0 ? true : undefined), 240_000, 'FCM to catch up');
  assert.deepEqual(await byStatus('android'), { sent: messages });

  for (const [channel, key] of [['apns', 'ios'], ['fcm', 'android'], ['email', 'email'], ['sms', 'phone']] as const) {
    const counts = await acceptedPerTarget(channel);
    for (const t of targets) assert.equal(counts.get(t[key]), 1, `${channel} ${t[key]}: accepted exactly once`);
  }
});
