/**
 * One provider down for a minute while 5,000 deliveries go out on four channels: FCM answers 503 to
 * everything for at least 60 s, and for as long as the other channels take to finish (so a slow
 * machine makes the outage longer, never the test wrong). The other channels finish meanwhile;
 * FCM's deliveries wait (its circuit breaker parks them) and all go out once it recovers; nothing
 * is sent twice anywhere.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestHerald, eventually, type TestHerald } from '../support/herald.js';

let h: TestHerald;
let inspection: string;
before(async () => {
  h = await startTestHerald();
  inspection = h.herald.sandbox!.inspectionUrl;
});
after(async () => { await h.close(); });

const messages = 1_250; // × 4 recipients (iOS, Android, email, SMS) = 5,000 deliveries
const outageMs = 60_000;

const acceptedPerTarget = async (channel: string): Promise<Map<string, number>> => {
  const list = (await (await fetch(`${inspection}/_sandbox/deliveries?channel=${channel}&limit=10000`)).json()) as { target: string; status: number }[];
  const counts = new Map<string, number>();
  for (const r of list) counts.set(r.target, (counts.get(r.target) ?? 0) + 1);
  return counts;
};
const unfinished = async (platforms: string[]) =>
  (await h.db.sql<{ n: number }[]>`
    select count(*)::int as n from deliveries where platform = any(${platforms}::text[]) and status in ('queued')`)[0]!.n;
const byStatus = async (platform: string) =>
  Object.fromEntries((await h.db.sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from deliveries where platform = ${platform} group by status`).map((r) => [r.status, r.n]));

test('FCM down for 60 s: the other channels deliver meanwhile, FCM catches up after, nothing twice', async () => {
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

  await new Promise((r) => setTimeout(r, Math.max(0, outageMs - (Date.now() - started))));
  assert.equal((await fetch(`${inspection}/_sandbox/faults/${rule.id}`, { method: 'DELETE' })).status < 300, true);

  // FCM recovers: its breaker lets a probe through (at most 30 s × 2 after the last failure) and the rest follow.
  await eventually(async () => ((await unfinished(['android'])) === 0 ? true : undefined), 240_000, 'FCM to catch up');
  assert.deepEqual(await byStatus('android'), { sent: messages });

  for (const [channel, key] of [['apns', 'ios'], ['fcm', 'android'], ['email', 'email'], ['sms', 'phone']] as const) {
    const counts = await acceptedPerTarget(channel);
    for (const t of targets) assert.equal(counts.get(t[key]), 1, `${channel} ${t[key]}: accepted exactly once`);
  }
});
