/**
 * Fault rules through the inspection API, seen by a real HTTP/2 client of the APNs simulator
 * (docs/sandbox.md, POST /_sandbox/faults).
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ClientHttp2Session } from 'node:http2';
import { startSandbox, type Sandbox } from './index.js';
import { silentLogger } from '../observability/logger.js';
import { connectApns, deviceToken, inspect, providerToken, push, recordsOf, within } from '../../test/support/sandbox.js';
import { parseFaultRule, InvalidFault } from './faults.js';

let sandbox: Sandbox;
let session: ClientHttp2Session;
let jwt: string;
before(async () => {
  sandbox = await startSandbox({ port: 0, log: silentLogger() });
  session = await connectApns(sandbox);
  jwt = await providerToken(sandbox);
});
after(async () => {
  session.close();
  await sandbox.close();
});
beforeEach(async () => {
  assert.equal((await inspect(sandbox, 'DELETE', '/_sandbox/faults')).status, 204);
});

async function fault(rule: Record<string, unknown>): Promise<string> {
  const r = await inspect(sandbox, 'POST', '/_sandbox/faults', { channel: 'apns', ...rule });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(typeof r.body.id, 'string');
  return r.body.id;
}

test('a target_prefix rule answers 410 Unregistered with a timestamp in ms, only for matching tokens', async () => {
  const dead = deviceToken('dead');
  await fault({ target_prefix: dead.slice(0, 12), status: 410, reason: 'Unregistered' });
  const before = Date.now();
  const a = await push(session, sandbox, jwt, { token: dead });
  assert.equal(a.status, 410);
  assert.equal(a.headers['content-type'], 'application/json');
  assert.equal(a.json?.reason, 'Unregistered');
  assert.ok(typeof a.json?.timestamp === 'number' && a.json.timestamp >= before && a.json.timestamp <= Date.now() + 1, `timestamp ${a.json?.timestamp} in ms`);
  assert.equal((await push(session, sandbox, jwt)).status, 200, 'another token is not affected');
  const [rec] = await recordsOf(sandbox, dead);
  assert.equal(rec.status, 410);
  assert.equal(rec.reason, 'Unregistered');
  assert.deepEqual(await recordsOf(sandbox, dead, false), [], 'a faulted push is not listed as accepted');
});

test('a rule with a count answers that many requests, then expires and disappears from the list', async () => {
  const token = deviceToken();
  await fault({ target_prefix: token, status: 503, reason: 'ServiceUnavailable', count: 2 });
  assert.equal((await inspect(sandbox, 'GET', '/_sandbox/faults')).body[0].count, 2);
  assert.equal((await push(session, sandbox, jwt, { token })).status, 503);
  const listed = (await inspect(sandbox, 'GET', '/_sandbox/faults')).body;
  assert.equal(listed[0].count, 1, 'count shows what is left');
  assert.equal(listed[0].matched, 1);
  assert.equal((await push(session, sandbox, jwt, { token })).status, 503);
  assert.equal((await push(session, sandbox, jwt, { token })).status, 200);
  assert.deepEqual((await inspect(sandbox, 'GET', '/_sandbox/faults')).body, []);
  assert.deepEqual((await recordsOf(sandbox, token)).map((r) => r.status), [503, 503, 200]);
});

test('retry_after_s becomes a Retry-After header on the answer', async () => {
  const token = deviceToken();
  await fault({ target_prefix: token, status: 429, reason: 'TooManyRequests', retry_after_s: 7 });
  const a = await push(session, sandbox, jwt, { token });
  assert.equal(a.status, 429);
  assert.equal(a.headers['retry-after'], '7');
  assert.deepEqual(a.json, { reason: 'TooManyRequests' });
  const plain = deviceToken();
  await fault({ target_prefix: plain, status: 500 });
  const b = await push(session, sandbox, jwt, { token: plain });
  assert.equal(b.headers['retry-after'], undefined, 'no Retry-After unless asked');
  assert.deepEqual(b.json, { reason: 'InternalServerError' }, 'Apple\'s reason for the status when none is given');
});

test('share 0 never matches and share 1 always does', async () => {
  const never = deviceToken();
  await fault({ target_prefix: never, share: 0, status: 500, reason: 'InternalServerError' });
  const always = deviceToken();
  await fault({ target_prefix: always, share: 1, status: 500, reason: 'InternalServerError' });
  for (let i = 0; i < 30; i++) {
    assert.equal((await push(session, sandbox, jwt, { token: never })).status, 200);
    assert.equal((await push(session, sandbox, jwt, { token: always })).status, 500);
  }
});

test('a share of one half matches some requests and not others', async () => {
  const token = deviceToken();
  await fault({ target_prefix: token, share: 0.5, status: 500 });
  const statuses = new Set<number>();
  for (let i = 0; i < 60; i++) statuses.add((await push(session, sandbox, jwt, { token })).status);
  assert.deepEqual([...statuses].sort(), [200, 500]); // fails by chance with probability 2^-59
});

test('drop_connection closes the connection without an answer; the request is listed as rejected', async () => {
  const s = await connectApns(sandbox);
  const token = deviceToken();
  await fault({ target_prefix: token, drop_connection: true, count: 1 });
  assert.equal((await push(s, sandbox, jwt)).status, 200, 'the connection works before');
  const closed = once(s, 'close');
  await assert.rejects(push(s, sandbox, jwt, { token }));
  await within(closed, 2_000, 'the connection to close');
  assert.ok(s.destroyed || s.closed);
  const [rec] = await recordsOf(sandbox, token);
  assert.equal(rec.status, null);
  assert.equal(rec.reason, 'ConnectionDropped');
  assert.deepEqual(await recordsOf(sandbox, token, false), []);
  // A new connection is served normally: the rule's count is spent.
  const again = await connectApns(sandbox);
  assert.equal((await push(again, sandbox, jwt, { token })).status, 200);
  again.close();
});

test('latency_ms delays the answer; without a status the push is then accepted', async () => {
  const token = deviceToken();
  await fault({ target_prefix: token, latency_ms: 300 });
  const started = Date.now();
  const pending = push(session, sandbox, jwt, { token });
  // Other pushes on the same connection are not held up behind it.
  assert.equal((await push(session, sandbox, jwt)).status, 200);
  assert.ok(Date.now() - started < 250, 'the other push was answered at once');
  const a = await pending;
  assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms`);
  assert.equal(a.status, 200);
  assert.equal((await recordsOf(sandbox, token, false)).length, 1);
});

test('latency_ms then a status: the error comes after the delay', async () => {
  const token = deviceToken();
  await fault({ target_prefix: token, latency_ms: 200, status: 503, reason: 'ServiceUnavailable', retry_after_s: 1 });
  const started = Date.now();
  const a = await push(session, sandbox, jwt, { token });
  assert.ok(Date.now() - started >= 190);
  assert.equal(a.status, 503);
  assert.equal(a.headers['retry-after'], '1');
});

test('a request the simulator refuses anyway is not faulted and does not spend the rule', async () => {
  const token = deviceToken();
  await fault({ target_prefix: token, status: 410, reason: 'Unregistered', count: 1 });
  assert.equal((await push(session, sandbox, jwt, { token, headers: { 'apns-topic': undefined } })).json?.reason, 'MissingTopic');
  assert.equal((await push(session, sandbox, jwt, { token })).status, 410);
});

test('rules are listed, deleted one by one or all at once; deleting an unknown one is 404', async () => {
  const a = await fault({ target_prefix: 'aa', status: 500 });
  const b = await fault({ status: 503, reason: 'Shutdown', share: 0 });
  const listed = (await inspect(sandbox, 'GET', '/_sandbox/faults')).body;
  assert.deepEqual(listed.map((r: any) => r.id), [a, b]);
  assert.deepEqual(
    { ...listed[1], id: undefined },
    { id: undefined, channel: 'apns', target_prefix: null, share: 0, status: 503, reason: 'Shutdown', retry_after_s: null,
      latency_ms: 0, drop_connection: false, dsn: false, count: null, matched: 0 },
  );
  assert.equal((await inspect(sandbox, 'DELETE', `/_sandbox/faults/${a}`)).status, 204);
  assert.deepEqual((await inspect(sandbox, 'GET', '/_sandbox/faults')).body.map((r: any) => r.id), [b]);
  const gone = await inspect(sandbox, 'DELETE', `/_sandbox/faults/${a}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.error.code, 'fault_not_found');
  assert.equal((await inspect(sandbox, 'DELETE', '/_sandbox/faults')).status, 204);
  assert.deepEqual((await inspect(sandbox, 'GET', '/_sandbox/faults')).body, []);
});

test('the contract\'s example rule is accepted as written', async () => {
  await fault({ target_prefix: 'dead', share: 1.0, status: 410, reason: 'Unregistered', retry_after_s: null, latency_ms: 0, drop_connection: false, count: null });
});

const invalid: [string, unknown, RegExp][] = [
  ['no channel', { status: 500 }, /channel is required/],
  ['an unknown channel', { channel: 'pigeon' }, /channel must be one of apns, fcm, webpush, email, sms/],
  ['an unknown field', { channel: 'apns', statuss: 500 }, /unknown field "statuss"/],
  ['a share above 1', { channel: 'apns', share: 1.5 }, /share/],
  ['a share that is a string', { channel: 'apns', share: '0.5' }, /share/],
  ['a status of 200', { channel: 'apns', status: 200 }, /status must be an integer from 400 to 599/],
  ['a fractional status', { channel: 'apns', status: 410.5 }, /status/],
  ['a reason without a status', { channel: 'apns', reason: 'Unregistered' }, /reason needs a status/],
  ['retry_after_s without a status', { channel: 'apns', retry_after_s: 3 }, /retry_after_s/],
  ['a negative latency', { channel: 'apns', latency_ms: -1 }, /latency_ms/],
  ['a count of 0', { channel: 'apns', status: 500, count: 0 }, /count/],
  ['drop_connection that is not a boolean', { channel: 'apns', drop_connection: 'yes' }, /drop_connection/],
  ['drop_connection with a status', { channel: 'apns', drop_connection: true, status: 500 }, /drop_connection and status/],
  ['dsn that is not a boolean', { channel: 'email', status: 550, dsn: 'yes' }, /dsn must be true or false/],
  ['dsn on a push channel', { channel: 'apns', status: 410, dsn: true }, /dsn is for channel email/],
  ['dsn without a status', { channel: 'email', dsn: true }, /dsn is for channel email, with the status/],
  ['a target_prefix that is a number', { channel: 'apns', target_prefix: 12 }, /target_prefix/],
  ['an array', [{ channel: 'apns' }], /JSON object/],
  ['a body that is not JSON', '{channel: apns', /JSON object/],
  ['an empty body', '', /JSON object/],
];
for (const [name, body, message] of invalid) {
  test(`a rule with ${name} is refused with 400 invalid_fault naming the problem`, async () => {
    const r = await inspect(sandbox, 'POST', '/_sandbox/faults', body);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'invalid_fault');
    assert.match(r.body.error.message, message);
    assert.deepEqual((await inspect(sandbox, 'GET', '/_sandbox/faults')).body, [], 'nothing was stored');
  });
}

test('a rule posted without a JSON content-type (curl -d) is accepted', async () => {
  const res = await fetch(`${sandbox.inspectionUrl}/_sandbox/faults`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '{"channel":"apns","status":500}',
  });
  assert.equal(res.status, 201);
});

test('parseFaultRule fills the defaults of the contract', () => {
  const r = parseFaultRule({ channel: 'email', status: 451, reason: '4.7.1 try later' });
  assert.equal(r.share, 1);
  assert.equal(r.latency_ms, 0);
  assert.equal(r.drop_connection, false);
  assert.equal(r.count, null);
  assert.equal(r.target_prefix, null);
  assert.throws(() => parseFaultRule({ channel: 'apns', latency_ms: 600_001 }), InvalidFault);
});
