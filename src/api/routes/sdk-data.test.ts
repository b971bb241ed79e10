import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';
import { identityToken } from '../../domain/identity-token.js';

let h: TestHerald;
before(async () => {
  h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api', HERALD_RATE_SDK_EVENTS: '2000' } });
});
after(async () => { await h.close(); });

const sdk = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  h.call('POST', path, body, { authorization: `Bearer ${h.project.sdk_key}`, ...headers });
const uid = (p: string) => p + '-' + randomUUID();
const tokenOf = (customId: string) => identityToken(h.project.identity_secret, customId);
const event = (id = uid('ev'), name = 'page_view') => ({ id, name, time: new Date().toISOString(), attributes: { path: '/' } });

async function register(installId: string): Promise<void> {
  const r = await sdk('/v1/sdk/installations', { install_id: installId, platform: 'web' });
  assert.equal(r.status, 200);
}

async function storedEvents(installId: string): Promise<{ client_id: string; custom_id: string | null; name: string }[]> {
  return h.db.sql`select client_id, custom_id, name from events where install_id = ${installId} order by received_at, client_id`;
}

test('a batch is stored and acknowledged; ids seen again, in the batch or later, are duplicates', async () => {
  const inst = uid('inst');
  const a = event();
  const b = event();
  const first = await sdk('/v1/sdk/events', { install_id: inst, events: [a, b, a] });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body, { accepted: 2, duplicates: 1 });
  const again = await sdk('/v1/sdk/events', { install_id: inst, events: [b, event()] });
  assert.deepEqual(again.body, { accepted: 1, duplicates: 1 });
  assert.equal((await storedEvents(inst)).length, 3);
});

test('concurrent batches carrying the same ids store each event once', async () => {
  const inst = uid('conc');
  const events = Array.from({ length: 50 }, () => event());
  const answers = await Promise.all(Array.from({ length: 12 }, () => sdk('/v1/sdk/events', { install_id: inst, events })));
  assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
  assert.equal(answers.reduce((n, a) => n + a.body.accepted, 0), 50);
  assert.equal(answers.reduce((n, a) => n + a.body.duplicates, 0), 50 * 11);
  const rows = await storedEvents(inst);
  assert.equal(rows.length, 50);
  assert.equal(new Set(rows.map((r) => r.client_id)).size, 50);
});

test('a batch the database refuses fails alone: the batches sharing its commit are stored and answered 200', async () => {
  // Concurrent batches share commits; one of them carries an event the database refuses.
  await h.db.sql.unsafe(`
    create function refuse_marked_event() returns trigger language plpgsql as $$
    begin
      if new.name = 'refused_by_test' then raise exception 'refused by the test'; end if;
      return new;
    end $$;
    create trigger refuse_marked_event before insert on events for each row execute function refuse_marked_event()`);
  try {
    const batches = Array.from({ length: 40 }, (_, i) => ({
      install_id: uid('shared'), events: [event(), event(uid('ev'), i === 23 ? 'refused_by_test' : 'page_view')],
    }));
    const answers = await Promise.all(batches.map((b) => sdk('/v1/sdk/events', b)));
    for (const [i, b] of batches.entries()) {
      const stored = (await storedEvents(b.install_id)).length;
      if (i === 23) {
        assert.equal(answers[i]!.status, 500);
        assert.equal(stored, 0, 'nothing of the refused batch is stored');
      } else {
        assert.equal(answers[i]!.status, 200, `request ${i}: ${JSON.stringify(answers[i]!.body)}`);
        assert.deepEqual(answers[i]!.body, { accepted: 2, duplicates: 0 });
        assert.equal(stored, 2, `request ${i}`);
      }
    }
    // Nor were the refused batch's ids claimed: sent again, its event is stored, not taken for a duplicate.
    const again = await sdk('/v1/sdk/events', { install_id: batches[23]!.install_id, events: [batches[23]!.events[0]] });
    assert.deepEqual(again.body, { accepted: 1, duplicates: 0 });
  } finally {
    await h.db.sql.unsafe('drop trigger refuse_marked_event on events; drop function refuse_marked_event()');
  }
});

test('identify, logout and attributes: an install_id or custom_id PostgreSQL cannot store is a 400 naming it', async () => {
  const inst = uid('nul');
  await register(inst);
  const cases: [string, unknown, RegExp][] = [
    ['/v1/sdk/identify', { install_id: inst + '\u0000', custom_id: 'u' }, /^install_id must not contain/],
    ['/v1/sdk/identify', { install_id: inst, custom_id: 'u\ud800' }, /^custom_id must not contain/],
    ['/v1/sdk/logout', { install_id: '\u0000' }, /^install_id must not contain/],
    ['/v1/sdk/attributes', { install_id: 'x\udfff', id: uid('c'), time: new Date().toISOString(), set: { a: 1 } }, /^install_id must not contain/],
    ['/v1/sdk/attributes', { install_id: inst, id: uid('c'), time: new Date().toISOString(), set: { a: 'v\u0000' } }, /^set\.a must not contain/],
    ['/v1/sdk/push-events', { install_id: inst + '\u0000', events: [] }, /^install_id must not contain/],
  ];
  for (const [path, body, message] of cases) {
    const r = await sdk(path, body);
    assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'invalid_field');
    assert.match(r.body.error.message, message);
  }
  const [row] = await h.db.sql`select custom_id from installations where install_id = ${inst}`;
  assert.equal(row!.custom_id, null, 'not identified');
});

test('an attribute named __proto__ and a number that overflows to Infinity are 400s naming the field, not dropped', async () => {
  const inst = uid('proto');
  await register(inst);
  const change = (body: Record<string, unknown>) => sdk('/v1/sdk/attributes', { install_id: inst, id: uid('c'), time: new Date().toISOString(), ...body });
  for (const [body, message] of [
    [{ unset: ['__proto__'] }, /^unset\[0\] names the attribute __proto__/],
    [{ set: { 'date(__proto__)': '1990-01-01' } }, /^set\.date\(__proto__\) names the attribute __proto__/],
    [{ add: { 'url(__proto__)': ['x'] } }, /^add\.url\(__proto__\) /],
  ] as const) {
    const r = await change(body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'invalid_field');
    assert.match(r.body.error.message, message);
  }
  const huge = await fetch(h.url + '/v1/sdk/events', {
    method: 'POST', headers: { authorization: `Bearer ${h.project.sdk_key}`, 'content-type': 'application/json' },
    body: `{"install_id":"${inst}","events":[{"id":"${uid('e')}","name":"n","time":"${new Date().toISOString()}","attributes":{"price":1e309}}]}`,
  });
  assert.equal(huge.status, 400);
  assert.match(((await huge.json()) as { error: { message: string } }).error.message, /^events\[0\]\.attributes\.price must be a finite number/);
  assert.equal((await storedEvents(inst)).length, 0);
});

test('events of an identified installation are linked to its custom_id; after logout they are not', async () => {
  const inst = uid('id');
  const customId = uid('user');
  await register(inst);
  await sdk('/v1/sdk/events', { install_id: inst, events: [event(uid('e'), 'before')] });
  const idf = await sdk('/v1/sdk/identify', { install_id: inst, custom_id: customId, identity_token: tokenOf(customId) });
  assert.equal(idf.status, 200);
  assert.deepEqual(idf.body, { install_id: inst, custom_id: customId });
  await sdk('/v1/sdk/events', { install_id: inst, events: [event(uid('e'), 'during')] });
  const out = await sdk('/v1/sdk/logout', { install_id: inst, identity_token: tokenOf(customId) });
  assert.deepEqual(out.body, { install_id: inst, custom_id: null });
  await sdk('/v1/sdk/events', { install_id: inst, events: [event(uid('e'), 'after')] });
  const byName = Object.fromEntries((await storedEvents(inst)).map((e) => [e.name, e.custom_id]));
  assert.deepEqual(byName, { before: null, during: customId, after: null });
  const profile = await h.call('GET', `/v1/profiles/${customId}`);
  assert.equal(profile.status, 200, 'identify created the profile');
  assert.deepEqual(profile.body.recent_events.map((e: { name: string }) => e.name), ['during']);
  assert.deepEqual(profile.body.installations, []);
});

test('attribute changes wait on an anonymous installation and carry over on identify, unsets included', async () => {
  const inst = uid('attr');
  const customId = uid('user');
  await register(inst);
  await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: customId }, attributes: { plan: 'free', old: 'x', tags: ['a'] } }]);
  const change = (body: Record<string, unknown>) => sdk('/v1/sdk/attributes', { install_id: inst, id: uid('c'), time: new Date().toISOString(), ...body });
  assert.deepEqual((await change({ set: { plan: 'pro' }, unset: ['old'] })).body, { duplicate: false });
  assert.equal((await change({ add: { hobbies: ['chess'] } })).status, 200);
  assert.deepEqual((await h.call('GET', `/v1/profiles/${customId}`)).body.profile.attributes, { plan: 'free', old: 'x', tags: ['a'] });
  await sdk('/v1/sdk/identify', { install_id: inst, custom_id: customId, identity_token: tokenOf(customId) });
  assert.deepEqual((await h.call('GET', `/v1/profiles/${customId}`)).body.profile.attributes, { plan: 'pro', tags: ['a'], hobbies: ['chess'] });
  // Identified: changes go straight to the profile; a repeated change id is acknowledged, not applied again.
  const id = uid('c');
  const body = { install_id: inst, id, time: new Date().toISOString(), remove: { tags: ['a'] }, add: { hobbies: ['go'] }, identity_token: tokenOf(customId) };
  assert.deepEqual((await sdk('/v1/sdk/attributes', body)).body, { duplicate: false });
  await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: customId }, attributes: { hobbies: { $add: ['chess'] } } }]);
  assert.deepEqual((await sdk('/v1/sdk/attributes', body)).body, { duplicate: true });
  assert.deepEqual((await h.call('GET', `/v1/profiles/${customId}`)).body.profile.attributes, { plan: 'pro', hobbies: ['go', 'chess'] });
});

test('identify, logout and attributes for an unregistered installation are 404s; events are still kept', async () => {
  const inst = uid('ghost');
  assert.equal((await sdk('/v1/sdk/identify', { install_id: inst, custom_id: 'u' })).body.error.code, 'installation_not_found');
  assert.equal((await sdk('/v1/sdk/logout', { install_id: inst })).status, 404);
  const a = await sdk('/v1/sdk/attributes', { install_id: inst, id: uid('c'), time: new Date().toISOString(), set: { a: 1 } });
  assert.equal(a.status, 404);
  assert.equal((await sdk('/v1/sdk/events', { install_id: inst, events: [event()] })).body.accepted, 1);
});

test('push feedback is stored as events and stamps the delivery once', async () => {
  const inst = uid('push');
  const messageId = randomUUID();
  const deliveryId = randomUUID();
  await h.db.sql`insert into messages (id, project_id, group_id, recipients, content)
                 values (${messageId}, ${h.project.project_id}, 'g', '{"install_ids": []}', '{"push": {"title": "t", "body": "b"}}')`;
  await h.db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind, install_id, status)
                 values (${deliveryId}, ${messageId}, ${h.project.project_id}, 'web', 'tok', 'subscription', ${inst}, 'sent')`;
  const opened = { id: uid('p'), type: 'opened', delivery_id: deliveryId, time: '2024-05-01T10:00:05Z' };
  const r = await sdk('/v1/sdk/push-events', { install_id: inst, events: [
    { id: uid('p'), type: 'received', message_id: messageId, time: '2024-05-01T10:00:00Z' }, opened,
  ] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { accepted: 2, duplicates: 0 });
  const later = await sdk('/v1/sdk/push-events', { install_id: inst, events: [opened, { ...opened, id: uid('p'), time: '2024-05-01T11:00:00Z' }] });
  assert.deepEqual(later.body, { accepted: 1, duplicates: 1 });
  const [d] = await h.db.sql`select received_at, opened_at from deliveries where id = ${deliveryId}`;
  assert.equal(d!.received_at.toISOString(), '2024-05-01T10:00:00.000Z');
  assert.equal(d!.opened_at.toISOString(), '2024-05-01T10:00:05.000Z');
  assert.deepEqual((await storedEvents(inst)).map((e) => e.name).sort(), ['$push_opened', '$push_opened', '$push_received']);
});

test('bad SDK input is a 400 naming the field and stores nothing', async () => {
  const inst = uid('bad');
  const cases: [unknown, string, RegExp][] = [
    [{ install_id: inst, events: [event(), { ...event(), time: 'yesterday' }] }, 'invalid_field', /^events\[1\]\.time /],
    [{ install_id: inst, events: [{ ...event(), name: 'Bad Name' }] }, 'invalid_field', /^events\[0\]\.name /],
    [{ install_id: inst, events: [{ ...event(), id: 'x'.repeat(65) }] }, 'invalid_field', /events\/0\/id|events\.0\.id/],
    [{ install_id: inst, events: [{ ...event(), colour: 'red' }] }, 'unknown_field', /colour/],
    [{ install_id: inst, events: Array.from({ length: 101 }, () => event()) }, 'too_many_events', /100/],
    [{ events: [event()] }, 'missing_field', /install_id/],
    // PostgreSQL cannot store these; stored with other batches, they would fail a shared commit.
    [{ install_id: inst + '\u0000', events: [event()] }, 'invalid_field', /^install_id /],
    [{ install_id: inst, events: [event(), { ...event(), attributes: { a: '\ud800' } }] }, 'invalid_field', /^events\[1\]\.attributes\.a must not contain/],
  ];
  for (const [body, code, message] of cases) {
    const r = await sdk('/v1/sdk/events', body);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error.code, code);
    assert.match(r.body.error.message, message);
  }
  assert.equal((await storedEvents(inst)).length, 0);
  const attr = await sdk('/v1/sdk/attributes', { install_id: inst, id: uid('c'), time: new Date().toISOString(), add: { tags: [1] } });
  assert.equal(attr.status, 400);
  assert.match(attr.body.error.message, /^add\.tags/);
});

test('the REST key works on SDK routes; no key is a 401', async () => {
  assert.equal((await h.call('POST', '/v1/sdk/events', { install_id: 'i', events: [event()] })).status, 200);
  assert.equal((await sdk('/v1/sdk/events', { install_id: 'i', events: [event()] }, { authorization: '' })).status, 401);
});

test('CORS is open on SDK routes, preflight cached, and absent from REST routes', async () => {
  const pre = await fetch(h.url + '/v1/sdk/events', {
    method: 'OPTIONS',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Authorization/);
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Content-Type/);
  assert.equal(pre.headers.get('access-control-max-age'), '86400');
  const post = await sdk('/v1/sdk/events', { install_id: 'i', events: [event()] }, { origin: 'https://shop.example' });
  assert.equal(post.headers.get('access-control-allow-origin'), '*');
  const refused = await sdk('/v1/sdk/events', { install_id: 'i', events: [event()] }, { origin: 'https://shop.example', authorization: 'Bearer nope' });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('access-control-allow-origin'), '*', 'a browser can read why it was refused');

  const restPre = await fetch(h.url + '/v1/profiles/update', {
    method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(restPre.headers.get('access-control-allow-origin'), null);
  assert.notEqual(restPre.status, 204);
  const rest = await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: 'c' } }], { origin: 'https://evil.example' });
  assert.equal(rest.status, 200);
  assert.equal(rest.headers.get('access-control-allow-origin'), null);
});

test('over the project\'s SDK rate a batch is a 429 with Retry-After and is not stored', async () => {
  // 10,000 events at once against 2,000/s with a one-second burst: all would pass only if their
  // token checks were spread over 4 s, when they come within a fraction of a second even on a busy
  // machine (the check is made before any database work).
  const inst = uid('rate');
  const batches = Array.from({ length: 100 }, () => Array.from({ length: 100 }, () => event()));
  const answers = await Promise.all(batches.map((events) => sdk('/v1/sdk/events', { install_id: inst, events })));
  const limited = answers.flatMap((r, i) => (r.status === 429 ? [{ ...r, ids: batches[i]!.map((e) => e.id) }] : []));
  assert.ok(limited.length > 0, 'expected a 429');
  assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200, 429]));
  assert.equal(limited[0]!.body.error.code, 'rate_limited');
  assert.ok(Number(limited[0]!.headers.get('retry-after')) >= 1);
  const [n] = await h.db.sql`select count(*)::int as n from events where client_id = any(${limited.flatMap((l) => l.ids)})`;
  assert.equal(n!.n, 0);
});
