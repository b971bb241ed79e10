/**
 * Signed identity on the SDK routes: the public SDK key alone cannot attach a device to a custom_id,
 * re-point an attached installation, or change a profile; the custom_id's identity token can.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';
import { identityToken } from '../../domain/identity-token.js';
import { createProject, type CreatedProject } from '../../store/projects.js';

let h: TestHerald;
let other: CreatedProject;
before(async () => {
  h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api' } });
  other = await createProject(h.db.sql, 'other', h.keyring);
});
after(async () => { await h.close(); });

const sdk = (path: string, body: unknown) => h.call('POST', path, body, { authorization: `Bearer ${h.project.sdk_key}` });
const uid = (p: string) => p + '-' + randomUUID();
const tokenOf = (customId: string, secret = h.project.identity_secret) => identityToken(secret, customId);
const installation = async (installId: string) => {
  const [row] = await h.db.sql<{ custom_id: string | null; push_token: string | null }[]>`
    select custom_id, push_token from installations where project_id = ${h.project.project_id} and install_id = ${installId}`;
  return row;
};
const attributesOf = async (customId: string) => (await h.call('GET', `/v1/profiles/${customId}`)).body.profile?.attributes;
const refused = (r: { status: number; body: any }, code: string) => {
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.body.error.code, code);
};

test('the SDK key registers an anonymous installation without a token', async () => {
  const inst = uid('anon');
  const r = await sdk('/v1/sdk/installations', { install_id: inst, platform: 'ios', push_token: '961b6dd3ede3cb8ecbaacbd68de040cd78eb2ed5889130cceb4c49268ea4d506' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const again = await sdk('/v1/sdk/installations', { install_id: inst, platform: 'ios', push_token: '3b64db95cb55c763391c707108489ae18b4112d783300de38e033b4c98c3deaf', language: 'fr' });
  assert.equal(again.status, 200, 'an anonymous installation changes without a token');
  const attr = await sdk('/v1/sdk/attributes', { install_id: inst, id: uid('c'), time: new Date().toISOString(), set: { plan: 'pro' } });
  assert.equal(attr.status, 200, 'anonymous attribute changes wait on the installation');
});

test('without the right token the SDK key cannot attach a device to a custom_id; with it, it can', async () => {
  const victim = uid('victim');
  const inst = uid('dev');
  const attach = (extra: Record<string, unknown>) =>
    sdk('/v1/sdk/installations', { install_id: inst, platform: 'ios', push_token: 'e64ba38a4b958c72bc0d421150ba464636422485ed72fab7086c7691ce4008cc', custom_id: victim, ...extra });
  refused(await attach({}), 'identity_required');
  refused(await attach({ identity_token: 'not-hex' }), 'invalid_identity_token');
  refused(await attach({ identity_token: tokenOf(uid('someone-else')) }), 'invalid_identity_token');
  refused(await attach({ identity_token: tokenOf(victim, other.identity_secret) }), 'invalid_identity_token');
  assert.equal(await installation(inst), undefined, 'nothing was stored');

  // Through identify too.
  assert.equal((await sdk('/v1/sdk/installations', { install_id: inst, platform: 'ios', push_token: 'e64ba38a4b958c72bc0d421150ba464636422485ed72fab7086c7691ce4008cc' })).status, 200);
  refused(await sdk('/v1/sdk/identify', { install_id: inst, custom_id: victim }), 'identity_required');
  refused(await sdk('/v1/sdk/identify', { install_id: inst, custom_id: victim, identity_token: tokenOf(victim, other.identity_secret) }), 'invalid_identity_token');
  assert.equal((await installation(inst))!.custom_id, null);
  assert.equal((await h.call('GET', `/v1/profiles/${victim}`)).status, 404, 'no profile was created');

  const ok = await sdk('/v1/sdk/identify', { install_id: inst, custom_id: victim, identity_token: tokenOf(victim).toUpperCase() });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal((await installation(inst))!.custom_id, victim);
  const registered = await attach({ install_id: uid('dev2'), identity_token: tokenOf(victim) });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
});

test('an attached installation cannot be re-pointed or detached without its custom_id\'s token', async () => {
  const alice = uid('alice');
  const mallory = uid('mallory');
  const inst = uid('bound');
  // Attached by the app's server (the REST key); below, only the SDK key.
  const bound = await h.call('POST', '/v1/sdk/installations', { install_id: inst, platform: 'ios', push_token: '66287db95eaa021fd07c0ff797b18f76a4dc3f21433157eaae29bbbf57e41889', custom_id: alice });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));

  refused(await sdk('/v1/sdk/installations', { install_id: inst, platform: 'ios', push_token: '41ba5189410493d711e3b24aedeb5f7ce9b383b9ebd56a1b702362223c9db43c' }), 'identity_required');
  refused(await sdk('/v1/sdk/installations', { install_id: inst, platform: 'ios', push_token: '41ba5189410493d711e3b24aedeb5f7ce9b383b9ebd56a1b702362223c9db43c', identity_token: tokenOf(mallory) }), 'invalid_identity_token');
  refused(await sdk('/v1/sdk/installations', { install_id: inst, platform: 'ios', custom_id: null }), 'identity_required');
  // Mallory's own valid token does not move Alice's device to Mallory.
  refused(await sdk('/v1/sdk/installations', { install_id: inst, platform: 'ios', custom_id: mallory, identity_token: tokenOf(mallory) }), 'identity_required');
  refused(await sdk('/v1/sdk/identify', { install_id: inst, custom_id: mallory, identity_token: tokenOf(mallory) }), 'identity_required');
  refused(await sdk('/v1/sdk/logout', { install_id: inst }), 'identity_required');
  refused(await sdk('/v1/sdk/logout', { install_id: inst, identity_token: tokenOf(mallory) }), 'invalid_identity_token');
  assert.deepEqual(await installation(inst), { custom_id: alice, push_token: '66287db95eaa021fd07c0ff797b18f76a4dc3f21433157eaae29bbbf57e41889' }, 'unchanged');

  const renewed = await sdk('/v1/sdk/installations', { install_id: inst, platform: 'ios', push_token: '9c9342b3a721ce29113a1375456d10b47b6ecbe07861f758ba9a44c8e50cea21', identity_token: tokenOf(alice) });
  assert.equal(renewed.status, 200, 'Alice\'s own device renews its token with her token');
  const out = await sdk('/v1/sdk/logout', { install_id: inst, identity_token: tokenOf(alice) });
  assert.equal(out.status, 200);
  const next = await sdk('/v1/sdk/identify', { install_id: inst, custom_id: mallory, identity_token: tokenOf(mallory) });
  assert.equal(next.status, 200, 'logged out, the device may be attached to another user');
  assert.deepEqual(await installation(inst), { custom_id: mallory, push_token: '9c9342b3a721ce29113a1375456d10b47b6ecbe07861f758ba9a44c8e50cea21' });
});

test('the profile of an attached installation changes only with its token; a refused change claims no id', async () => {
  const bob = uid('bob');
  const inst = uid('attr');
  assert.equal((await sdk('/v1/sdk/installations', { install_id: inst, platform: 'web' })).status, 200);
  assert.equal((await h.call('POST', '/v1/sdk/identify', { install_id: inst, custom_id: bob })).status, 200);
  const change = { install_id: inst, id: uid('c'), time: new Date().toISOString(), set: { plan: 'hacked' } };
  refused(await sdk('/v1/sdk/attributes', change), 'identity_required');
  refused(await sdk('/v1/sdk/attributes', { ...change, identity_token: tokenOf(uid('x')) }), 'invalid_identity_token');
  assert.deepEqual(await attributesOf(bob), {});
  const ok = await sdk('/v1/sdk/attributes', { ...change, identity_token: tokenOf(bob) });
  assert.deepEqual(ok.body, { duplicate: false }, 'the same id, sent again with the token, is applied');
  assert.deepEqual(await attributesOf(bob), { plan: 'hacked' });
});

test('the REST key is trusted: it attaches, re-points and changes without a token', async () => {
  const carol = uid('carol');
  const inst = uid('rest');
  assert.equal((await h.call('POST', '/v1/sdk/installations', { install_id: inst, platform: 'ios', custom_id: carol })).status, 200);
  assert.equal((await h.call('POST', '/v1/sdk/attributes', { install_id: inst, id: uid('c'), time: new Date().toISOString(), set: { a: 1 } })).status, 200);
  assert.equal((await h.call('POST', '/v1/sdk/identify', { install_id: inst, custom_id: uid('dave') })).status, 200);
  assert.equal((await h.call('POST', '/v1/sdk/logout', { install_id: inst })).status, 200);
});

test('a rotated secret: the old one works for its grace period only; a project without a secret accepts no token', async () => {
  const p = await createProject(h.db.sql, 'rotating', h.keyring);
  const call = (key: string, path: string, body: unknown) => h.call('POST', path, body, { authorization: `Bearer ${key}` });
  const erin = uid('erin');
  const inst = uid('rot');
  assert.equal((await call(p.sdk_key, '/v1/sdk/installations', { install_id: inst, platform: 'web' })).status, 200);
  const identifyWith = (secret: string) => call(p.sdk_key, '/v1/sdk/identify', { install_id: inst, custom_id: erin, identity_token: identityToken(secret, erin) });

  refused(await call(p.sdk_key, '/v1/project/identity-secret/rotate', {}), 'forbidden_for_sdk_key');
  const graceful = await call(p.rest_key, '/v1/project/identity-secret/rotate', { grace_seconds: 3600 });
  assert.equal(graceful.status, 200, JSON.stringify(graceful.body));
  assert.match(graceful.body.identity_secret, /^hrld_ident_/);
  assert.ok(Date.parse(graceful.body.previous_valid_until) > Date.now() + 3500_000);
  assert.equal((await identifyWith(p.identity_secret)).status, 200, 'the old secret, in its grace period');
  assert.equal((await identifyWith(graceful.body.identity_secret)).status, 200, 'the new secret');

  const abrupt = await call(p.rest_key, '/v1/project/identity-secret/rotate', { grace_seconds: 0 });
  assert.equal(abrupt.body.previous_valid_until, null);
  refused(await identifyWith(graceful.body.identity_secret), 'invalid_identity_token');
  refused(await identifyWith(p.identity_secret), 'invalid_identity_token');
  assert.equal((await identifyWith(abrupt.body.identity_secret)).status, 200);
  const [sealed] = await h.db.sql`select sealed from project_identity_secrets where project_id = ${p.project_id}`;
  assert.ok(!Buffer.from(sealed!.sealed).includes(Buffer.from(abrupt.body.identity_secret)), 'stored sealed, not in clear');

  // A project made before identity secrets (no row) refuses every token until it rotates one.
  await h.db.sql`delete from project_identity_secrets where project_id = ${p.project_id}`;
  refused(await identifyWith(abrupt.body.identity_secret), 'invalid_identity_token');
  const first = await call(p.rest_key, '/v1/project/identity-secret/rotate', {});
  assert.equal(first.status, 200);
  assert.equal(first.body.previous_valid_until, null);
  assert.equal((await identifyWith(first.body.identity_secret)).status, 200);
});
