import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProjectThrottle, minRateShare, recoveryPerMinute } from './provider-throttle.js';

test('a burst goes at once, then each send reserves the next slot at the configured rate', () => {
  const t = createProjectThrottle({ messagesPerMinute: 600, burst: 3, maxWaitMs: 10_000 }); // 10 a second
  const now = 1_000_000;
  const waits = Array.from({ length: 6 }, () => t.admit(now));
  assert.deepEqual(waits, [0, 0, 0, 100, 200, 300].map((waitMs) => ({ kind: 'go', waitMs })));
  // Time refills the bucket: 350 ms later, the reservations made are paid off and one more slot is free.
  assert.deepEqual(t.admit(now + 400), { kind: 'go', waitMs: 0 });
});

test('a send that would wait longer than maxWaitMs is held, and reserves nothing', () => {
  const t = createProjectThrottle({ messagesPerMinute: 60, burst: 1, maxWaitMs: 1_500 }); // 1 a second
  assert.deepEqual(t.admit(0), { kind: 'go', waitMs: 0 });
  assert.deepEqual(t.admit(0), { kind: 'go', waitMs: 1_000 });
  assert.deepEqual(t.admit(0), { kind: 'hold', retryAfterMs: 2_000, paused: false });
  assert.deepEqual(t.admit(0), { kind: 'hold', retryAfterMs: 2_000, paused: false });
});

test('the default burst is one second of the rate', () => {
  const t = createProjectThrottle({ messagesPerMinute: 600_000, maxWaitMs: 0 });
  let sent = 0;
  while (sent < 20_000 && t.admit(5).kind === 'go') sent++;
  assert.equal(sent, 10_000);
});

test('a 429 pauses the whole project for the pause asked, then restarts at half the rate and climbs back', () => {
  const t = createProjectThrottle({ messagesPerMinute: 600_000, maxWaitMs: 10_000 });
  const now = 10_000;
  assert.equal(t.admit(now).kind, 'go');
  assert.equal(t.slowDown(now, 60_000), true);
  assert.deepEqual(t.admit(now + 1), { kind: 'hold', retryAfterMs: 59_999, paused: true });
  // Other sends in flight see the same 429: still one halving, the pause only lengthens.
  assert.equal(t.slowDown(now + 10, 30_000), false);
  assert.equal(t.slowDown(now + 20, 61_000), false);
  assert.equal(t.rateAt(now + 61_020), 300_000);
  assert.equal(t.admit(now + 61_019).kind, 'hold');
  assert.equal(t.admit(now + 61_021).kind, 'go');
  // Recovery: +10 % of the configured rate per minute after the pause.
  assert.equal(t.rateAt(now + 61_020 + 60_000), 300_000 + 600_000 * recoveryPerMinute);
  assert.equal(t.rateAt(now + 61_020 + 60 * 60_000), 600_000);
  // A 429 after the pause halves again, from the current rate.
  t.slowDown(now + 61_020 + 60_000, 1_000);
  assert.equal(t.rateAt(now + 61_020 + 61_000), 180_000);
});

test('after a pause the bucket restarts empty: no burst into a service that just said "too much"', () => {
  const t = createProjectThrottle({ messagesPerMinute: 600, burst: 5, maxWaitMs: 10_000 });
  t.slowDown(0, 1_000); // rate 300 a minute: 5 a second, one per 200 ms
  assert.deepEqual(t.admit(1_000), { kind: 'go', waitMs: 200 });
  assert.deepEqual(t.admit(1_000), { kind: 'go', waitMs: 400 });
});

test('many 429s in a row never stop the project for good', () => {
  const t = createProjectThrottle({ messagesPerMinute: 600_000, maxWaitMs: 10_000 });
  let now = 0;
  for (let i = 0; i < 50; i++) {
    t.slowDown(now, 1);
    now += 2;
  }
  assert.ok(t.rateAt(now) >= 600_000 * minRateShare);
  assert.equal(t.admit(now).kind, 'go');
});

test('two processes at half share each admit, together, the account rate and not twice it', () => {
  const share = () => 0.5;
  const a = createProjectThrottle({ messagesPerMinute: 600, burst: 10, maxWaitMs: 0, share }); // 10 a second for the account
  const b = createProjectThrottle({ messagesPerMinute: 600, burst: 10, maxWaitMs: 0, share });
  let admitted = 0;
  // Each process offers far more than the rate for 10 s, one attempt per ms.
  for (let now = 0; now < 10_000; now++) {
    for (const t of [a, b]) if (t.admit(now).kind === 'go') admitted++;
  }
  // 10 s at 10 a second, plus each bucket's initial burst (half of 10 each).
  assert.ok(admitted >= 100 && admitted <= 110, `admitted ${admitted}`);
  assert.equal(a.rateAt(0), 600, 'the figure reported stays the account rate');
});

test('the share is read on every admission: a process left alone takes the whole rate again', () => {
  let share = 0.5;
  const t = createProjectThrottle({ messagesPerMinute: 600, burst: 1, maxWaitMs: 0, share: () => share });
  const count = (from: number, to: number) => {
    let n = 0;
    for (let now = from; now < to; now++) if (t.admit(now).kind === 'go') n++;
    return n;
  };
  const halved = count(0, 10_000);
  share = 1;
  const whole = count(10_000, 20_000);
  assert.ok(halved >= 49 && halved <= 51, `at half share: ${halved}`);
  assert.ok(whole >= 99 && whole <= 101, `at full share: ${whole}`);
});
