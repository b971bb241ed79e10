import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';

// The API alone (no sandbox): what is accepted, refused and stored.
let h: TestHerald;
before(async () => { h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api' } }); });
after(async () => { await h.close(); });

const send = (over: Record<string, unknown> = {}) => ({
  group_id: 'welcome',
  recipients: { tokens: [{ platform: 'ios', token: 'ab'.repeat(32) }] },
  push: { title: 'Hello', body: 'World' },
  ...over,
});

async function messageCount(): Promise<number> {
  const [r] = await h.db.sql`select count(*)::int as n from messages`;
  return r!.n;
}

test('a valid send answers 202 with a message id that GET /v1/messages/{id} shows', async () => {
  const r = await h.call('POST', '/v1/transactional/send', send());
  assert.equal(r.status, 202);
  assert.match(r.body.message_id, /^[0-9a-f-]{36}$/);
  const m = await h.call('GET', `/v1/messages/${r.body.message_id}`);
  assert.equal(m.status, 200);
  assert.equal(m.body.message_id, r.body.message_id);
  assert.equal(m.body.group_id, 'welcome');
});

test('no key is 401, a wrong key is 401, the SDK key on a REST endpoint is 403', async () => {
  const none = await h.call('POST', '/v1/transactional/send', send(), { authorization: '' });
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'unauthorized');
  const wrong = await h.call('POST', '/v1/transactional/send', send(), { authorization: 'Bearer hrld_rest_nope' });
  assert.equal(wrong.status, 401);
  const sdk = await h.call('POST', '/v1/transactional/send', send(), { authorization: `Bearer ${h.project.sdk_key}` });
  assert.equal(sdk.status, 403);
  assert.equal(sdk.body.error.code, 'forbidden_for_sdk_key');
});

test('one project cannot read another project\'s message', async () => {
  const r = await h.call('POST', '/v1/transactional/send', send());
  const { createProject } = await import('../../store/projects.js');
  const other = await createProject(h.db.sql, 'other', h.keyring);
  const m = await h.call('GET', `/v1/messages/${r.body.message_id}`, undefined, { authorization: `Bearer ${other.rest_key}` });
  assert.equal(m.status, 404);
  assert.equal(m.body.error.code, 'message_not_found');
});

test('the same Idempotency-Key and body replay the first answer; another body is a 422', async () => {
  const key = 'replay-' + Math.random();
  const first = await h.call('POST', '/v1/transactional/send', send(), { 'idempotency-key': key });
  const again = await h.call('POST', '/v1/transactional/send', send(), { 'idempotency-key': key });
  assert.equal(first.status, 202);
  assert.equal(again.status, 202);
  assert.deepEqual(again.body, first.body);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  const other = await h.call('POST', '/v1/transactional/send', send({ group_id: 'other' }), { 'idempotency-key': key });
  assert.equal(other.status, 422);
  assert.equal(other.body.error.code, 'idempotency_key_reused');
});

test('20 concurrent identical calls with one Idempotency-Key make one message', async () => {
  const before = await messageCount();
  const key = 'concurrent-' + Math.random();
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => h.call('POST', '/v1/transactional/send', send(), { 'idempotency-key': key })),
  );
  assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([202]));
  assert.equal(new Set(answers.map((a) => a.body.message_id)).size, 1);
  assert.equal(await messageCount(), before + 1);
});

const badInputs: [string, unknown, number, string][] = [
  ['malformed JSON', '{"group_id": ', 400, 'invalid_json'],
  ['a wrong type', send({ group_id: 42 }), 400, 'invalid_field'],
  ['an unknown field', send({ colour: 'red' }), 400, 'unknown_field'],
  ['an unknown nested field', send({ push: { title: 't', body: 'b', urgent: true } }), 400, 'unknown_field'],
  ['a missing field', { group_id: 'g', push: { title: 't', body: 'b' } }, 400, 'missing_field'],
  ['no content for any channel', { group_id: 'g', recipients: { custom_ids: ['u'] } }, 400, 'no_content'],
  ['emails without email content', send({ recipients: { emails: ['a@example.org'] } }), 400, 'no_content'],
  ['an email with neither html nor text', send({ recipients: { emails: ['a@example.org'] }, email: { subject: 's' } }), 400, 'invalid_field'],
  ['a phone that is not E.164', send({ recipients: { phones: ['0612345678'] }, sms: { text: 'hi' } }), 400, 'invalid_field'],
  ['an unknown push override field', send({ push: { title: 't', body: 'b', android: { color: 'red' } } }), 400, 'unknown_field'],
  ['no recipients', send({ recipients: {} }), 400, 'no_recipients'],
  ['too many recipients', send({ recipients: { custom_ids: Array.from({ length: 10_001 }, (_, i) => 'u' + i) } }), 400, 'too_many_recipients'],
  ['too many recipients across lists', send({ recipients: {
    custom_ids: Array.from({ length: 6000 }, (_, i) => 'u' + i), install_ids: Array.from({ length: 6000 }, (_, i) => 'i' + i) } }), 400, 'too_many_recipients'],
  ['a push payload over 4096 bytes', send({ push: { title: 't', body: 'b', data: { blob: 'x'.repeat(4000) } } }), 400, 'push_payload_too_large'],
  ['a reserved data key', send({ push: { title: 't', body: 'b', data: { aps: {} } } }), 400, 'reserved_data_key'],
  ['a body over 1 MiB', send({ push: { title: 't', body: 'b', data: { blob: 'x'.repeat(1_100_000) } } }), 413, 'body_too_large'],
  ['a bad priority', send({ push: { title: 't', body: 'b', priority: 'urgent' } }), 400, 'invalid_field'],
  ['a string where a number goes', send({ push: { title: 't', body: 'b', badge: '3' } }), 400, 'invalid_field'],
];

for (const [what, body, status, code] of badInputs) {
  test(`${what} is a ${status} ${code} and stores nothing`, async () => {
    const before = await messageCount();
    const r = await h.call('POST', '/v1/transactional/send', body);
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(r.body.error.code, code);
    assert.equal(typeof r.body.error.message, 'string');
    assert.equal(await messageCount(), before);
  });
}

test('error messages name the offending field', async () => {
  const r = await h.call('POST', '/v1/transactional/send', send({ push: { title: 't', body: 'b', urgent: true } }));
  assert.match(r.body.error.message, /push\.urgent/);
  const m = await h.call('POST', '/v1/transactional/send', { group_id: 'g', recipients: { custom_ids: ['u'] } });
  assert.match(m.body.error.message, /push/);
});

test('a device token not of its platform\'s shape is a 400 naming it, and no message is stored', async () => {
  const before = await messageCount();
  const good = { platform: 'ios', token: 'ab'.repeat(32) };
  for (const bad of [{ platform: 'ios', token: 'a b' }, { platform: 'ios', token: 'not-hex' }, { platform: 'android', token: 'x y' }]) {
    const r = await h.call('POST', '/v1/transactional/send', send({ recipients: { tokens: [good, bad] } }));
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'invalid_field');
    assert.match(r.body.error.message, /recipients\.tokens\[1\]\.token/);
  }
  assert.equal(await messageCount(), before);
});

test('a body that is not JSON is a 415', async () => {
  const r = await h.call('POST', '/v1/transactional/send', 'hello', { 'content-type': 'text/plain' });
  assert.equal(r.status, 415);
  assert.equal(r.body.error.code, 'unsupported_media_type');
});

test('GET /v1/messages/{id} with an unknown or malformed id is a 404', async () => {
  assert.equal((await h.call('GET', '/v1/messages/00000000-0000-7000-8000-000000000000')).status, 404);
  assert.equal((await h.call('GET', '/v1/messages/not-a-uuid')).body.error.code, 'message_not_found');
});

test('an unknown route is a 404 with the error body', async () => {
  const r = await h.call('GET', '/v1/nothing-here');
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, 'not_found');
});

test('text PostgreSQL cannot store, a non-finite number, or a line break in a mail header is a 400 naming the field; nothing is stored', async () => {
  const mail = (email: Record<string, unknown>) => send({ recipients: { emails: ['a@example.org'] }, email: { subject: 's', text: 't', ...email } });
  const cases: [unknown, RegExp][] = [
    [send({ push: { title: 'Hi\u0000', body: 'b' } }), /^push\.title must not contain U\+0000/],
    [send({ push: { title: 't', body: 'b', data: { k: 'x\ud800' } } }), /^push\.data\.k must not contain/],
    [send({ push: { title: 't', body: 'b', data: { ['k\u0000']: 'x' } } }), /^push\.data has a key that contains U\+0000/],
    [send({ push: { title: 't', body: 'b', data: { nested: [{ deep: '\udc00' }] } } }), /^push\.data\.nested\[0\]\.deep /],
    [send({ recipients: { custom_ids: ['ok', 'u\u0000'] } }), /^recipients\.custom_ids\[1\] /],
    [mail({ subject: 'Hello\u0000' }), /^email\.subject must not contain/],
    [send({ recipients: { phones: ['+33612345678'] }, push: undefined, sms: { text: 'hi \ud83d' } }), /^sms\.text must not contain/],
    [send({ push: { title: 't', body: 'b', ios: { title: '\u0000' } } }), /^push\.ios\.title /],
    [send({ group_id: 'g\u0000' }), /^group_id /],
    ['{"group_id":"g","recipients":{"tokens":[{"platform":"ios","token":"ab"}]},"push":{"title":"t","body":"b","data":{"n":1e309}}}', /^push\.data\.n must be a finite number/],
    [mail({ subject: 'Hello\r\nBcc: victim@example.org' }), /^email\.subject /],
    [mail({ subject: 'Hello\nthere' }), /^email\.subject /],
    [mail({ from: 'a@example.org\r\nBcc: b@example.org' }), /^email\.from /],
    [mail({ reply_to: 'a@example.org\n' }), /^email\.reply_to /],
    // Nesting that would exhaust the stack of whatever walks or serializes it.
    ['{"group_id":"g","recipients":{"tokens":[{"platform":"ios","token":"ab"}]},"push":{"title":"t","body":"b","data":{"k":' +
      '['.repeat(200_000) + ']'.repeat(200_000) + '}}}', /^push\.data\.k(\[0\])+ nests more than 64 levels/],
  ];
  const before = await messageCount();
  for (const [body, message] of cases) {
    const r = await h.call('POST', '/v1/transactional/send', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'invalid_field');
    assert.match(r.body.error.message, message);
  }
  assert.equal(await messageCount(), before);
});

test('one project\'s sends the database refuses, sharing commits with another\'s, fail alone: every good send is 202 and stored once', async () => {
  // A data error the input checks cannot see: the database refuses project B's messages. Sent at
  // once, A's and B's sends share group commits.
  const { createProject } = await import('../../store/projects.js');
  const b = await createProject(h.db.sql, 'refused', h.keyring);
  await h.db.sql.unsafe(`
    create function refuse_project_b() returns trigger language plpgsql as $$
    begin
      if new.project_id = '${b.project_id}' then raise exception 'refused by the test' using errcode = 'check_violation'; end if;
      return new;
    end $$;
    create trigger refuse_project_b before insert on messages for each row execute function refuse_project_b()`);
  try {
    const groupId = 'iso-' + Math.random().toString(36).slice(2);
    const calls = Array.from({ length: 300 }, (_, i) => (i % 30 === 7
      ? h.call('POST', '/v1/transactional/send', send({ group_id: groupId }), { authorization: `Bearer ${b.rest_key}` }).then((r) => ({ who: 'B', r }))
      : h.call('POST', '/v1/transactional/send', send({ group_id: groupId })).then((r) => ({ who: 'A', r }))));
    const answers = await Promise.all(calls);
    const a = answers.filter((x) => x.who === 'A').map((x) => x.r);
    const bad = answers.filter((x) => x.who === 'B').map((x) => x.r);
    assert.equal(a.length, 290);
    const failed = a.filter((r) => r.status !== 202);
    assert.equal(failed.length, 0, `${failed.length} of A's 290 sends were not accepted: ${JSON.stringify(failed[0]?.body)}`);
    assert.ok(bad.every((r) => r.status >= 500), 'B\'s are refused');
    const rows = await h.db.sql<{ id: string; project_id: string }[]>`select id, project_id from messages where group_id = ${groupId}`;
    assert.equal(rows.length, 290, 'each of A\'s stored once, none of B\'s');
    assert.deepEqual(new Set(rows.map((r) => r.id)), new Set(a.map((r) => r.body.message_id)));
    assert.ok(rows.every((r) => r.project_id === h.project.project_id));
    const [jobs] = await h.db.sql`select count(*)::int as n, count(distinct payload->>'message_id')::int as distinct_messages
                                  from jobs where payload->>'message_id' = any(${rows.map((r) => r.id)})`;
    assert.deepEqual(jobs, { n: 290, distinct_messages: 290 }, 'one fan-out job each');
  } finally {
    await h.db.sql.unsafe('drop trigger refuse_project_b on messages; drop function refuse_project_b()');
  }
});
