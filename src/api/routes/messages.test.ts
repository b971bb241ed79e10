import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startTestHerald, type TestHerald } from '../../../test/support/herald.js';
import { createProject } from '../../store/projects.js';

// A whole Herald with the sandbox: messages are fanned out and delivered, then listed and traced.
let h: TestHerald;
before(async () => { h = await startTestHerald(); });
after(async () => { await h.close(); });

const send = async (body: Record<string, unknown>) => {
  const r = await h.call('POST', '/v1/transactional/send', { group_id: 'trace', ...body });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.message_id as string;
};
const processed = (id: string) => eventually(async () => {
  const m = await h.call('GET', `/v1/messages/${id}`);
  return m.body.state === 'processed' && m.body.counts.queued === 0 ? m.body : undefined;
}, 20_000, `message ${id} processed and sent`);

test('GET /v1/messages lists the project\'s messages newest first with their counts, paged by cursor, and no other project\'s', async () => {
  const other = await createProject(h.db.sql, 'elsewhere', h.keyring);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await send({ recipients: { emails: [`list${i}@example.com`] }, email: { subject: 's', text: 't' } }));
  await processed(ids[2]!);
  const first = await h.call('GET', '/v1/messages?limit=2');
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body.messages.map((m: any) => m.message_id), [ids[2], ids[1]]);
  assert.deepEqual(first.body.messages[0].parts, ['email']);
  assert.equal(first.body.messages[0].counts.total, 1);
  assert.equal(first.body.messages[0].counts.sent, 1);
  const rest = await h.call('GET', `/v1/messages?limit=2&cursor=${first.body.next_cursor}`);
  assert.equal(rest.body.messages[0].message_id, ids[0]);
  const foreign = await h.call('GET', '/v1/messages', undefined, { authorization: `Bearer ${other.rest_key}` });
  assert.deepEqual(foreign.body, { messages: [], next_cursor: null });
  assert.equal((await h.call('GET', '/v1/messages?cursor=nope')).body.error.code, 'invalid_field');
});

test('the trace of a message says who got it and, channel by channel, why the others did not', async () => {
  const token = 'ef'.repeat(32);
  await h.call('POST', '/v1/sdk/installations', { install_id: 'alice-phone', platform: 'ios', push_token: token, custom_id: 'alice', apns_environment: 'sandbox' });
  await h.call('POST', '/v1/sdk/installations', { install_id: 'bob-tablet', platform: 'ios', custom_id: 'bob' });
  await h.call('PUT', '/v1/profiles/alice', { email: 'alice@example.com' });
  await h.call('PUT', '/v1/profiles/bob', { email: 'bob@example.com', email_subscription: 'unsubscribed' });
  const id = await send({ recipients: { custom_ids: ['alice', 'bob', 'carol'] }, push: { title: 'Hi', body: 'there' }, email: { subject: 's', text: 't' } });
  await processed(id);
  const trace = async (customId: string) => {
    const r = await h.call('GET', `/v1/messages/${id}/trace?custom_id=${customId}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };

  const alice = await trace('alice');
  assert.equal(alice.verdict, 'reached');
  assert.deepEqual(alice.deliveries.map((d: any) => [d.channel, d.target, d.status, d.custom_id]).sort(),
    [['apns', token, 'sent', 'alice'], ['email', 'alice@example.com', 'sent', 'alice']]);
  assert.deepEqual(alice.reasons.map((r: any) => r.part), ['push', 'email', 'sms']);
  assert.equal(alice.reasons[2].reason, 'the message has no sms content');

  const bob = await trace('bob');
  assert.equal(bob.verdict, 'not_reached');
  assert.match(bob.reasons[0].reason, /none of its 1 installation\(s\) has a push token/);
  assert.equal(bob.reasons[1].reason, 'email: skipped (the profile unsubscribed from email)');

  const carol = await trace('carol');
  assert.equal(carol.verdict, 'not_reached');
  assert.equal(carol.reasons[0].reason, 'custom_id carol has no installation');
  assert.equal(carol.reasons[1].reason, 'no profile with custom_id carol');

  const dave = await trace('dave');
  assert.equal(dave.verdict, 'not_addressed');
  assert.deepEqual(dave.deliveries, []);

  const other = await createProject(h.db.sql, 'prying', h.keyring);
  const foreign = await h.call('GET', `/v1/messages/${id}/trace?custom_id=alice`, undefined, { authorization: `Bearer ${other.rest_key}` });
  assert.equal(foreign.body.error.code, 'message_not_found');
  assert.equal((await h.call('GET', `/v1/messages/${id}/trace`)).body.error.code, 'missing_field');
});
