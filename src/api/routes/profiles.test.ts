import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';
import { identityToken } from '../../domain/identity-token.js';
import { applyAttributeChanges, limits, parseOperation, type AttributeDocument } from '../../domain/profile-operations.js';

let h: TestHerald;
before(async () => {
  h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api', HERALD_RATE_PROFILE_OPERATIONS: '1000' } });
});
after(async () => { await h.close(); });

const update = (ops: unknown) => h.call('POST', '/v1/profiles/update', ops);
const uid = (p: string) => p + '-' + Math.random().toString(36).slice(2);

async function profileRows(): Promise<number> {
  const [r] = await h.db.sql`select count(*)::int as n from profiles`;
  return r!.n;
}

test('an update creates the profile on its first write and GET shows it with its events', async () => {
  const id = uid('ann');
  const r = await update([{
    identifiers: { custom_id: id },
    attributes: { plan: 'pro', age: 31, 'date(birthdate)': '1990-04-01', tags: ['a'], $email: 'Ann@Example.com', $region: 'fr' },
    events: [{ id: uid('e'), name: 'signup', time: '2024-05-01T10:00:00Z', attributes: { source: 'ad' } }],
  }]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { operations: 1, profiles: 1, events: { accepted: 1, duplicates: 0 } });
  const g = await h.call('GET', `/v1/profiles/${encodeURIComponent(id)}`);
  assert.equal(g.status, 200);
  assert.equal(g.body.profile.email, 'ann@example.com');
  assert.equal(g.body.profile.region, 'FR');
  assert.deepEqual(g.body.profile.attributes, { plan: 'pro', age: 31, birthdate: { $date: '1990-04-01T00:00:00.000Z' }, tags: ['a'] });
  assert.equal(g.body.recent_events.length, 1);
  assert.equal(g.body.recent_events[0].name, 'signup');
  assert.deepEqual(g.body.recent_events[0].attributes, { source: 'ad' });
});

test('operations on one profile in one call apply in order: set, $add, $remove, unset', async () => {
  const id = uid('seq');
  const r = await update([
    { identifiers: { custom_id: id }, attributes: { tags: ['a', 'b'], x: 1 } },
    { identifiers: { custom_id: id }, attributes: { tags: { $add: ['c', 'a'] } } },
    { identifiers: { custom_id: id }, attributes: { tags: { $remove: ['b'] }, x: null, $phone: '+33612345678' } },
  ]);
  assert.equal(r.status, 200);
  const g = await h.call('GET', `/v1/profiles/${id}`);
  assert.deepEqual(g.body.profile.attributes, { tags: ['c', 'a'] });
  assert.equal(g.body.profile.phone, '+33612345678');
});

test('concurrent calls creating and changing the same profiles lose no operation', async () => {
  const ids = Array.from({ length: 20 }, () => uid('race'));
  const answers = await Promise.all(Array.from({ length: 8 }, (_, n) =>
    update(ids.map((custom_id) => ({ identifiers: { custom_id }, attributes: { seen: { $add: [`call${n}`] } } })))));
  assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
  const rows = await h.db.sql<{ attributes: { seen: string[] } }[]>`select attributes from profiles where custom_id = any(${ids})`;
  assert.equal(rows.length, ids.length);
  for (const r of rows) assert.deepEqual([...r.attributes.seen].sort(), Array.from({ length: 8 }, (_, n) => `call${n}`).sort());
});

test('the same event id sent twice is stored once; an event without id is not deduplicated', async () => {
  const id = uid('dup');
  const ev = { id: uid('ev'), name: 'purchase' };
  const first = await update([{ identifiers: { custom_id: id }, events: [ev, { name: 'view' }] }]);
  const again = await update([{ identifiers: { custom_id: id }, events: [ev, { name: 'view' }] }]);
  assert.deepEqual(first.body.events, { accepted: 2, duplicates: 0 });
  assert.deepEqual(again.body.events, { accepted: 1, duplicates: 1 });
  const [n] = await h.db.sql`select count(*)::int as n from events where custom_id = ${id}`;
  assert.equal(n!.n, 3);
});

test('a bad operation anywhere refuses the whole call naming the field, and stores nothing', async () => {
  const before = await profileRows();
  const r = await update([
    { identifiers: { custom_id: uid('ok') }, attributes: { a: 1 } },
    { identifiers: { custom_id: uid('bad') }, attributes: { $email: 'nope' } },
  ]);
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'invalid_field');
  assert.match(r.body.error.message, /^\[1\]\.attributes\.\$email /);
  assert.equal(await profileRows(), before);
  const many = await update(Array.from({ length: 201 }, (_, i) => ({ identifiers: { custom_id: 'm' + i } })));
  assert.equal(many.status, 400);
  assert.equal(many.body.error.code, 'too_many_operations');
  assert.equal((await update({ identifiers: { custom_id: 'x' } })).body.error.code, 'invalid_field');
  // The documented schema does not pre-empt the parser: its codes and the field it names stay.
  assert.equal((await update({ identifiers: { custom_id: 'x' } })).body.error.message, 'body must be array');
  const unknown = await update([{ identifiers: { custom_id: 'x' }, colour: 'red' }]);
  assert.deepEqual(unknown.body.error, { code: 'unknown_field', message: '[0].colour is not a known field' });
  const events = await update([{ identifiers: { custom_id: 'x' }, events: Array.from({ length: 51 }, () => ({ name: 'e' })) }]);
  assert.equal(events.body.error.code, 'too_many_events');
  assert.match(events.body.error.message, /^\[0\]\.events has 51 events/);
});

test('the SDK key cannot call the profile API', async () => {
  const r = await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: 'x' } }], { authorization: `Bearer ${h.project.sdk_key}` });
  assert.equal(r.status, 403);
});

test('PUT sets email (lower-cased), phone and subscription states; bad values are refused by name', async () => {
  const id = uid('put');
  const r = await h.call('PUT', `/v1/profiles/${id}`, { email: 'Bob@Example.ORG', phone: '+14155550100', email_subscription: 'subscribed', sms_subscription: 'unsubscribed' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.profile.email, 'bob@example.org');
  assert.equal(r.body.profile.sms_subscription, 'unsubscribed');
  const cleared = await h.call('PUT', `/v1/profiles/${id}`, { phone: null });
  assert.equal(cleared.body.profile.phone, null);
  assert.equal(cleared.body.profile.email, 'bob@example.org');
  const bad = await h.call('PUT', `/v1/profiles/${id}`, { phone: '555-0100' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /^phone /);
  const unknown = await h.call('PUT', `/v1/profiles/${id}`, { language: 'fr' });
  assert.equal(unknown.body.error.code, 'unknown_field');
  const state = await h.call('PUT', `/v1/profiles/${id}`, { email_subscription: 'maybe' });
  assert.equal(state.status, 400);
});

test('hostile text, names and numbers are 400s naming the field, and store nothing', async () => {
  const before = await profileRows();
  const id = uid('hostile');
  const put = await h.call('PUT', `/v1/profiles/${id}`, { email: 'bob\u0000@example.org' });
  assert.equal(put.status, 400, JSON.stringify(put.body));
  assert.match(put.body.error.message, /^email must not contain U\+0000/);
  const param = await h.call('PUT', `/v1/profiles/${encodeURIComponent('x\u0000')}`, { email: 'bob@example.org' });
  assert.equal(param.status, 400, JSON.stringify(param.body));
  assert.match(param.body.error.message, /^params\.custom_id must not contain/);
  for (const [ops, message] of [
    [[{ identifiers: { custom_id: id }, attributes: { 'date(__proto__)': '1990-04-01' } }], /^\[0\]\.attributes\.date\(__proto__\) names the attribute __proto__/],
    [[{ identifiers: { custom_id: id }, attributes: { 'url(__proto__)': 'https://example.com' } }], /^\[0\]\.attributes\.url\(__proto__\) /],
    [[{ identifiers: { custom_id: id }, events: [{ name: 'e', attributes: { k: 'v\ud800' } }] }], /^\[0\]\.events\[0\]\.attributes\.k must not contain/],
    ['[{"identifiers":{"custom_id":"' + id + '"},"attributes":{"score":1e309}}]', /^\[0\]\.attributes\.score must be a finite number/],
    ['[{"identifiers":{"custom_id":"' + id + '"},"events":[{"name":"e","attributes":{"n":-1e400}}]}]', /^\[0\]\.events\[0\]\.attributes\.n must be a finite number/],
  ] as const) {
    const r = await update(ops);
    assert.equal(r.status, 400, `${JSON.stringify(ops)}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'invalid_field');
    assert.match(r.body.error.message, message);
  }
  assert.equal(await profileRows(), before);
});

test('an unknown profile is a 404, and another project cannot see it', async () => {
  assert.equal((await h.call('GET', '/v1/profiles/nobody-here')).body.error.code, 'profile_not_found');
  const id = uid('mine');
  await update([{ identifiers: { custom_id: id } }]);
  const { createProject } = await import('../../store/projects.js');
  const other = await createProject(h.db.sql, 'other', h.keyring);
  const r = await h.call('GET', `/v1/profiles/${id}`, undefined, { authorization: `Bearer ${other.rest_key}` });
  assert.equal(r.status, 404);
});

test('batches and the SQL function of single changes both follow the domain\'s attribute semantics', async () => {
  const name = fc.constantFrom('a', 'b', 'c');
  const item = fc.constantFrom('x', 'y', 'z', 'w');
  const value = fc.oneof(
    fc.constant(null), fc.integer(), fc.constantFrom('s', 't'), fc.array(item, { maxLength: 3 }),
    fc.record({ $add: fc.array(item, { minLength: 1, maxLength: 3 }) }), fc.record({ $remove: fc.array(item, { minLength: 1, maxLength: 3 }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(fc.dictionary(name, value, { maxKeys: 3 }), { minLength: 1, maxLength: 6 }), async (seq) => {
      const id = uid('prop');
      const ops = seq.map((attributes) => ({ identifiers: { custom_id: id }, attributes }));
      let expected: AttributeDocument = {};
      let bySql: AttributeDocument = {};
      for (const op of ops) {
        const c = parseOperation(op, '', new Date()).attributes;
        expected = applyAttributeChanges(expected, c);
        const [row] = await h.db.sql<{ doc: AttributeDocument }[]>`
          select herald_apply_attributes(${JSON.stringify(bySql)}::text::jsonb, ${c.unset}::text[], ${JSON.stringify(c.set)}::text::jsonb,
            ${JSON.stringify(c.add)}::text::jsonb, ${JSON.stringify(c.remove)}::text::jsonb, ${limits.arrayItems}) as doc`;
        bySql = row!.doc;
      }
      assert.deepEqual(bySql, expected);
      const r = await update(ops);
      assert.equal(r.status, 200);
      const g = await h.call('GET', `/v1/profiles/${id}`);
      assert.deepEqual(g.body.profile.attributes, expected);
    }),
    { numRuns: 40 },
  );
});

test('over the project\'s rate the call is a 429 with Retry-After and stores nothing', async () => {
  // 2,000 operations at once against 1,000/s with a one-second burst: some calls must be refused.
  const calls = Array.from({ length: 10 }, (_, i) => Array.from({ length: 200 }, (_, j) => uid(`rate${i}-${j}`)));
  const answers = await Promise.all(calls.map((ids) => update(ids.map((custom_id) => ({ identifiers: { custom_id } })))));
  assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200, 429]));
  const refused = answers.findIndex((a) => a.status === 429);
  assert.equal(answers[refused]!.body.error.code, 'rate_limited');
  assert.ok(Number(answers[refused]!.headers.get('retry-after')) >= 1);
  const [n] = await h.db.sql`select count(*)::int as n from profiles where custom_id = any(${calls[refused]!})`;
  assert.equal(n!.n, 0);
});

test('export returns everything held on a person; erase removes exactly that, in every table', async () => {
  const { randomUUID } = await import('node:crypto');
  const me = uid('erase');
  const other = uid('keep');
  const inst = uid('inst');
  const sdk = (path: string, body: unknown) => h.call('POST', path, body, { authorization: `Bearer ${h.project.sdk_key}` });
  await update([
    { identifiers: { custom_id: me }, attributes: { $email: 'me@example.com', plan: 'pro' }, events: [{ name: 'signup' }] },
    { identifiers: { custom_id: other }, events: [{ name: 'signup' }] },
  ]);
  assert.equal((await sdk('/v1/sdk/installations', { install_id: inst, platform: 'web', custom_id: me, identity_token: identityToken(h.project.identity_secret, me) })).status, 200);
  await sdk('/v1/sdk/events', { install_id: inst, events: [{ id: uid('e'), name: 'page_view', time: new Date().toISOString() }] });
  const solo = randomUUID();
  const shared = randomUUID();
  await h.db.sql`insert into messages (id, project_id, group_id, recipients, content) values
    (${solo}, ${h.project.project_id}, 'g', ${h.db.sql.json({ custom_ids: [me] })}, '{"push": {}}'),
    (${shared}, ${h.project.project_id}, 'g', ${h.db.sql.json({ custom_ids: [me, other] })}, '{"push": {}}')`;
  await h.db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind, install_id) values
    (${randomUUID()}, ${solo}, ${h.project.project_id}, 'web', 't1', 'subscription', ${inst}),
    (${randomUUID()}, ${shared}, ${h.project.project_id}, 'web', 't1', 'subscription', ${inst}),
    (${randomUUID()}, ${shared}, ${h.project.project_id}, 'web', 't2', 'subscription', 'someone-else')`;
  // An email the fan-out made for this custom_id: no installation names it, its custom_id does.
  await h.db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind, custom_id) values
    (${randomUUID()}, ${shared}, ${h.project.project_id}, 'email', 'me@example.com', 'address', ${me})`;

  const ex = await h.call('GET', `/v1/profiles/${me}/export`);
  assert.equal(ex.status, 200);
  assert.equal(ex.body.profile.email, 'me@example.com');
  assert.deepEqual(ex.body.installations.map((i: { install_id: string }) => i.install_id), [inst]);
  assert.deepEqual(ex.body.events.map((e: { name: string }) => e.name).sort(), ['page_view', 'signup']);
  assert.deepEqual(ex.body.messages.map((m: { id: string }) => m.id).sort(), [solo, shared].sort());
  assert.equal(ex.body.deliveries.length, 3);

  const del = await h.call('DELETE', `/v1/profiles/${me}`);
  assert.equal(del.status, 200);
  assert.deepEqual(del.body.erased, { profiles: 1, installations: 1, events: 2, messages: 1, deliveries: 2 });
  const left = await h.db.sql`
    select (select count(*)::int from profiles where custom_id = ${me}) as profiles,
           (select count(*)::int from installations where install_id = ${inst}) as installations,
           (select count(*)::int from events where custom_id = ${me} or install_id = ${inst}) as events,
           (select count(*)::int from messages where id = ${solo}) as solo,
           (select count(*)::int from deliveries where install_id = ${inst}) as deliveries,
           (select recipients from messages where id = ${shared}) as shared,
           (select count(*)::int from deliveries where message_id = ${shared}) as shared_deliveries,
           (select count(*)::int from events where custom_id = ${other}) as others_events`;
  assert.deepEqual(left[0], {
    profiles: 0, installations: 0, events: 0, solo: 0, deliveries: 0, shared: { custom_ids: [other] }, shared_deliveries: 1, others_events: 1,
  });
  assert.equal((await h.call('GET', `/v1/profiles/${me}/export`)).status, 404);
  assert.equal((await h.call('DELETE', `/v1/profiles/${me}`)).status, 404);
  assert.equal((await h.call('GET', `/v1/profiles/${other}`)).status, 200);
});

test('a custom_id of 512 characters, non-ASCII, is read, exported and erased through its path', async () => {
  // 250 four-byte characters (two UTF-16 units each) and 12 two-byte ones: 512 characters,
  // 3,072 bytes percent-encoded, far past the router's default of 100.
  const id = '😀'.repeat(250) + 'ü'.repeat(12);
  assert.equal(id.length, limits.customIdLength);
  const path = `/v1/profiles/${encodeURIComponent(id)}`;
  assert.ok(path.length > 3000);
  const r = await update([{ identifiers: { custom_id: id }, attributes: { plan: 'long' }, events: [{ name: 'signup' }] }]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const g = await h.call('GET', path);
  assert.equal(g.status, 200, JSON.stringify(g.body));
  assert.equal(g.body.profile.custom_id, id);
  const put = await h.call('PUT', path, { email: 'long@example.com' });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const ex = await h.call('GET', path + '/export');
  assert.equal(ex.status, 200, JSON.stringify(ex.body));
  assert.equal(ex.body.profile.custom_id, id);
  const del = await h.call('DELETE', path);
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.equal(del.body.erased.profiles, 1);
  assert.equal((await h.call('GET', path)).body.error.code, 'profile_not_found');
});
