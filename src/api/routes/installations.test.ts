import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';
import { identityToken } from '../../domain/identity-token.js';

let h: TestHerald;
before(async () => { h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api' } }); });
after(async () => { await h.close(); });

test('the SDK key registers an installation; registering again updates it, never duplicates', async () => {
  const sdk = { authorization: `Bearer ${h.project.sdk_key}` };
  const identity_token = identityToken(h.project.identity_secret, 'alice');
  const first = await h.call('POST', '/v1/sdk/installations',
    { install_id: 'i-1', platform: 'ios', push_token: 'aa11'.repeat(16), custom_id: 'alice', apns_environment: 'sandbox', identity_token }, sdk);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.installation.custom_id, 'alice');
  const again = await h.call('POST', '/v1/sdk/installations',
    { install_id: 'i-1', platform: 'ios', push_token: 'bb22'.repeat(16), language: 'fr', identity_token }, sdk);
  assert.equal(again.status, 200);
  assert.equal(again.body.installation.push_token, 'bb22'.repeat(16));
  assert.equal(again.body.installation.custom_id, 'alice', 'fields left out keep their value');
  assert.equal(again.body.installation.apns_environment, 'sandbox');
  assert.equal(again.body.installation.language, 'fr');
  const rows = await h.db.sql`select count(*)::int as n from installations where install_id = 'i-1'`;
  assert.equal(rows[0]!.n, 1);
});

test('the REST key may register installations too; a bad platform is a 400 naming it', async () => {
  const ok = await h.call('POST', '/v1/sdk/installations', { install_id: 'i-2', platform: 'android', push_token: `fcm-i-2:${'t'.repeat(40)}` });
  assert.equal(ok.status, 200);
  const bad = await h.call('POST', '/v1/sdk/installations', { install_id: 'i-3', platform: 'symbian' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'invalid_field');
  assert.match(bad.body.error.message, /platform/);
});

test('a push token not of its platform\'s shape is a 400 naming push_token, and nothing is stored', async () => {
  const sdk = { authorization: `Bearer ${h.project.sdk_key}` };
  const fcm = `dQw4w9WgXcQ:APA91b${'E'.repeat(134)}`;
  for (const [platform, push_token] of [
    ['ios', 'a b'], ['ios', 'ab'.repeat(31)], ['ios', 'zz'.repeat(32)], ['ios', `${'ab'.repeat(32)}\n`], ['ios', 'ab'.repeat(257)],
    ['android', 'a b'], ['android', 'short:token'], ['android', `${fcm}/x`], ['android', `${fcm}é`], ['android', 'a'.repeat(1025)],
  ] as const) {
    const res = await h.call('POST', '/v1/sdk/installations', { install_id: 'bad-token', platform, push_token }, sdk);
    assert.equal(res.status, 400, `${platform} ${JSON.stringify(push_token)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'invalid_field');
    assert.match(res.body.error.message, /push_token/);
  }
  assert.equal((await h.db.sql`select 1 from installations where install_id = 'bad-token'`).length, 0);
  for (const [platform, push_token] of [['ios', 'AB'.repeat(32)], ['ios', 'ab'.repeat(100)], ['android', fcm]] as const) {
    const res = await h.call('POST', '/v1/sdk/installations', { install_id: `good-${platform}`, platform, push_token }, sdk);
    assert.equal(res.status, 200, `${platform} ${push_token}: ${JSON.stringify(res.body)}`);
  }
});

test('installations are scoped to their project', async () => {
  const { createProject } = await import('../../store/projects.js');
  const other = await createProject(h.db.sql, 'other', h.keyring);
  await h.call('POST', '/v1/sdk/installations', { install_id: 'shared-id', platform: 'ios', custom_id: 'a' });
  await h.call('POST', '/v1/sdk/installations', { install_id: 'shared-id', platform: 'ios', custom_id: 'b' },
    { authorization: `Bearer ${other.rest_key}` });
  const rows = await h.db.sql`select project_id, custom_id from installations where install_id = 'shared-id' order by custom_id`;
  assert.equal(rows.length, 2);
  assert.notEqual(rows[0]!.project_id, rows[1]!.project_id);
});

test('a browser registers with its PushSubscription: the endpoint is its token, the keys are kept', async () => {
  const { webPushSubscription } = await import('../../../test/support/provider-inputs.js');
  const sdk = { authorization: `Bearer ${h.project.sdk_key}` };
  const sub = webPushSubscription('https://push.example.net/push/web-1');
  await h.db.sql`insert into invalidated_tokens (project_id, platform, token, reason)
                 values (${h.project.project_id}, 'web', ${sub.endpoint}, 'Gone')`;
  const res = await h.call('POST', '/v1/sdk/installations', { install_id: 'w-1', platform: 'web', web_push_subscription: sub }, sdk);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.installation.push_token, sub.endpoint);
  assert.deepEqual(res.body.installation.web_push_subscription, sub);
  const dead = await h.db.sql`select 1 from invalidated_tokens where token = ${sub.endpoint}`;
  assert.equal(dead.length, 0, 'subscribing again revives an invalidated endpoint');

  // The browser re-subscribed (new endpoint and keys): the new subscription replaces the old one.
  const next = webPushSubscription('https://push.example.net/push/web-1-renewed');
  const again = await h.call('POST', '/v1/sdk/installations', { install_id: 'w-1', platform: 'web', web_push_subscription: next, language: 'de' }, sdk);
  assert.equal(again.status, 200);
  const [row] = await h.db.sql`select push_token, web_push_subscription from installations where install_id = 'w-1'`;
  assert.equal(row!.push_token, next.endpoint);
  assert.deepEqual(row!.web_push_subscription, next);

  const { webPushSubscriptions } = await import('../../store/installations.js');
  const found = await webPushSubscriptions(h.db.sql, h.project.project_id, [next.endpoint, sub.endpoint]);
  assert.deepEqual([...found.keys()], [next.endpoint], 'the worker finds the keys by endpoint');

  const kept = await h.call('POST', '/v1/sdk/installations', { install_id: 'w-1', platform: 'web', language: 'fr' }, sdk);
  assert.equal(kept.body.installation.push_token, next.endpoint, 'leaving it out keeps it');
  const gone = await h.call('POST', '/v1/sdk/installations', { install_id: 'w-1', platform: 'web', web_push_subscription: null }, sdk);
  assert.equal(gone.body.installation.push_token, null, 'null unsubscribes');
  assert.equal(gone.body.installation.web_push_subscription, null);
});

test('a malformed subscription, or one on the wrong platform, is a 400 and changes nothing', async () => {
  const { webPushSubscription } = await import('../../../test/support/provider-inputs.js');
  const good = webPushSubscription('https://push.example.net/push/w-2');
  await h.call('POST', '/v1/sdk/installations', { install_id: 'w-2', platform: 'web', web_push_subscription: good });
  const offCurve = Buffer.alloc(65, 1);
  offCurve[0] = 0x04;
  const cases: [unknown, string, RegExp][] = [
    [{ ...good, endpoint: 'http://push.example.net/x' }, 'invalid_web_push_subscription', /https/],
    [{ ...good, endpoint: 'not a url' }, 'invalid_web_push_subscription', /endpoint/],
    [{ ...good, keys: { ...good.keys, p256dh: Buffer.alloc(33, 2).toString('base64url') } }, 'invalid_web_push_subscription', /p256dh/],
    [{ ...good, keys: { ...good.keys, p256dh: offCurve.toString('base64url') } }, 'invalid_web_push_subscription', /curve/],
    [{ ...good, keys: { ...good.keys, auth: Buffer.alloc(8).toString('base64url') } }, 'invalid_web_push_subscription', /auth/],
    [{ ...good, keys: { ...good.keys, auth: 'not base64url!' } }, 'invalid_web_push_subscription', /auth/],
    [{ endpoint: good.endpoint, keys: { p256dh: good.keys.p256dh } }, 'missing_field', /keys\.auth/],
    [{ ...good, extra: 1 }, 'unknown_field', /extra/],
  ];
  for (const [sub, code, message] of cases) {
    const res = await h.call('POST', '/v1/sdk/installations', { install_id: 'w-2', platform: 'web', web_push_subscription: sub });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
    assert.match(res.body.error.message, message);
  }
  const ios = await h.call('POST', '/v1/sdk/installations', { install_id: 'w-2', platform: 'ios', web_push_subscription: good });
  assert.equal(ios.body.error.code, 'invalid_web_push_subscription');
  const token = await h.call('POST', '/v1/sdk/installations', { install_id: 'w-2', platform: 'web', push_token: 'abc' });
  assert.equal(token.body.error.code, 'invalid_web_push_subscription');
  const [row] = await h.db.sql`select platform, push_token, web_push_subscription from installations where install_id = 'w-2'`;
  assert.equal(row!.platform, 'web');
  assert.deepEqual(row!.web_push_subscription, good, 'unchanged');
});

test('text PostgreSQL cannot store (U+0000, an unpaired surrogate) is a 400 naming the field, and stores nothing', async () => {
  const nul = await h.call('POST', '/v1/sdk/installations', { install_id: 'i-\u0000', platform: 'ios', push_token: 't' });
  assert.equal(nul.status, 400, JSON.stringify(nul.body));
  assert.match(nul.body.error.message, /install_id/);
  const lone = await h.call('POST', '/v1/sdk/installations', { install_id: 'i-lone', platform: 'ios', custom_id: 'x\ud800' });
  assert.equal(lone.status, 400, JSON.stringify(lone.body));
  assert.match(lone.body.error.message, /custom_id/);
  const [n] = await h.db.sql`select count(*)::int as n from installations where install_id = 'i-lone'`;
  assert.equal(n!.n, 0);
});

test('GET /v1/installations/{install_id} reads one installation of the project, with the REST key only', async () => {
  await h.call('POST', '/v1/sdk/installations', { install_id: 'read-me', platform: 'ios', push_token: 'cc33'.repeat(16), custom_id: 'carol', app_version: '2.1' });
  const got = await h.call('GET', '/v1/installations/read-me');
  assert.equal(got.status, 200, JSON.stringify(got.body));
  assert.equal(got.body.installation.custom_id, 'carol');
  assert.equal(got.body.installation.app_version, '2.1');
  assert.equal((await h.call('GET', '/v1/installations/nobody')).body.error.code, 'installation_not_found');
  const { createProject } = await import('../../store/projects.js');
  const other = await createProject(h.db.sql, 'elsewhere', h.keyring);
  const foreign = await h.call('GET', '/v1/installations/read-me', undefined, { authorization: `Bearer ${other.rest_key}` });
  assert.equal(foreign.status, 404);
  const sdk = await h.call('GET', '/v1/installations/read-me', undefined, { authorization: `Bearer ${h.project.sdk_key}` });
  assert.equal(sdk.body.error.code, 'forbidden_for_sdk_key');
});
