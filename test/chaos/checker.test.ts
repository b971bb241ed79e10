/**
 * The chaos checker on small hand-written histories: it must see every kind of failure it claims
 * to (a checker that passes everything proves nothing), and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, formatReport } from './checker.js';
import type { CallEvent, HistoryEvent } from './history.js';
import type { SandboxRecord } from './sandbox-records.js';

const t0 = Date.parse('2026-01-01T12:00:00.000Z');

function call(key: string, token: string, start: number, o: Partial<CallEvent> = {}): CallEvent {
  const ok = o.result === undefined || o.result === 'ok';
  return {
    kind: 'call', key, tokens: [token], attempt: 1, target: 'api-1', start: t0 + start, end: t0 + start + 10,
    status: ok ? 202 : null, ...(ok ? { body: { message_id: `m-${key}` } } : { error: 'ECONNRESET' }), result: 'ok', ...o,
  };
}

let ids = 0;
function record(token: string, at: number, o: { apnsId?: string; status?: number } = {}): SandboxRecord {
  return {
    id: `r${++ids}`, channel: 'apns', received_at: new Date(t0 + at).toISOString(), target: token,
    status: o.status ?? 200, reason: null, headers: { 'apns-id': o.apnsId ?? `d-${token}` },
  };
}

const fault = (name: string, start: number, end: number): HistoryEvent[] => [
  { kind: 'fault', name, phase: 'start', t: t0 + start },
  { kind: 'fault', name, phase: 'end', t: t0 + end },
];

test('a history where every acknowledged message was delivered once passes', () => {
  const history = [call('k1', 'aa', 0), call('k2', 'bb', 100)];
  const r = check(history, [record('aa', 500), record('bb', 700)]);
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.latency.maxMs, 590);
  assert.match(formatReport(r), /PASS/);
});

test('an acknowledged message with no accepted record is lost, even if the provider refused it', () => {
  const r = check([call('k1', 'aa', 0), call('k2', 'bb', 0)], [record('aa', 50), record('bb', 60, { status: 500 })]);
  assert.deepEqual(r.lost.map((l) => l.key), ['k2']);
  assert.equal(r.pass, false);
  assert.equal(r.providerRecords.refused, 1);
});

test('two accepted records for one token are a duplicate, under one apns-id or several', () => {
  const history = [call('k1', 'aa', 0), call('k2', 'bb', 0)];
  const r = check(history, [record('aa', 50), record('aa', 90), record('bb', 50, { apnsId: 'x' }), record('bb', 60, { apnsId: 'y' })]);
  assert.equal(r.duplicates.length, 2);
  assert.equal(r.resentSameId, 1, 'aa: the same delivery sent again');
  assert.equal(r.duplicatedDistinctIds, 1, 'bb: two deliveries of one message');
  assert.equal(r.pass, false);
});

test('a second copy under one apns-id is a crash re-send only when a worker kill explains it', () => {
  const history = [
    call('k1', 'aa', 0), call('k2', 'bb', 0), call('k3', 'cc', 0), call('k4', 'dd', 0),
    ...fault('kill -9 worker-1 and api-1', 1_000, 3_000),
  ];
  const r = check(history, [
    record('aa', 990), record('aa', 50_000), // cut off by the kill, re-sent after it: explained
    record('bb', 200_000), record('bb', 260_000), // long after the kill: a blind re-send
    record('cc', 500), record('cc', 400), // both before the kill
    record('dd', 990), record('dd', 40_000), record('dd', 60_000), // three copies
  ]);
  assert.deepEqual(r.crashResends.map((d) => d.key), ['k1']);
  assert.deepEqual(r.duplicates.map((d) => d.key).sort(), ['k2', 'k3', 'k4']);
  assert.equal(r.pass, false);
  const only = check([call('k1', 'aa', 0), ...fault('kill -9 worker-1 and api-1', 1_000, 3_000)], [record('aa', 990), record('aa', 50_000)]);
  assert.equal(only.pass, true, only.failures.join('; '));
  assert.match(formatReport(only), /re-sent after a worker crash = 1/);
});

test('a delivery no call asked for is unexpected', () => {
  const r = check([call('k1', 'aa', 0)], [record('aa', 50), record('zz', 60)]);
  assert.deepEqual(r.unexpected, [{ token: 'zz', copies: 1 }]);
  assert.equal(r.pass, false);
});

test('a message stored by a call that timed out is accepted without a 2xx, and that alone is no failure', () => {
  const history = [call('k1', 'aa', 0), call('k2', 'bb', 0, { result: 'info' })];
  const r = check(history, [record('aa', 50), record('bb', 50)]);
  assert.deepEqual(r.acceptedWithoutAck, [{ key: 'k2', token: 'bb' }]);
  assert.deepEqual(r.unexpected, []);
  // …but the run did not complete: k2 never saw its 2xx.
  assert.deepEqual(r.unacknowledged, ['k2']);
});

test('one key answered with two message ids is reported', () => {
  const history = [call('k1', 'aa', 0), call('k1', 'aa', 100, { body: { message_id: 'other' } })];
  const r = check(history, [record('aa', 50)]);
  assert.deepEqual(r.conflictingAnswers, [{ key: 'k1', messageIds: ['m-k1', 'other'] }]);
  assert.equal(r.pass, false);
});

test('error rates are per fault window, and a drain counts from the fault end to the last delivery it owed', () => {
  const history: HistoryEvent[] = [
    call('k1', 'aa', 0),
    ...fault('outage', 1_000, 5_000),
    call('k2', 'bb', 2_000, { result: 'fail', error: 'ECONNREFUSED' }),
    call('k2', 'bb', 2_100, { attempt: 2 }),
    call('k3', 'cc', 4_000),
    call('k4', 'dd', 6_000),
  ];
  const r = check(history, [record('aa', 100), record('bb', 7_000), record('cc', 8_500), record('dd', 6_100)]);
  assert.equal(r.pass, true, r.failures.join('; '));
  const outage = r.windows.find((w) => w.name === 'outage')!;
  assert.equal(outage.calls, 3);
  assert.equal(outage.failed, 1);
  assert.deepEqual(outage.causes, { ECONNREFUSED: 1 });
  assert.deepEqual(r.drains, [{ fault: 'outage', end: t0 + 5_000, backlog: 2, drainMs: 3_500 }]);
});

test('a fault after which an acknowledged message never arrives never drains', () => {
  const history: HistoryEvent[] = [call('k1', 'aa', 0), ...fault('outage', 1_000, 2_000)];
  const r = check(history, []);
  assert.equal(r.drains[0]!.drainMs, null);
  assert.match(formatReport(r), /NEVER/);
});
