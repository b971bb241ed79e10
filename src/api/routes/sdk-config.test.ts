import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ECDH, createPrivateKey, createPublicKey } from 'node:crypto';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';
import { createProject } from '../../store/projects.js';
import { loadCredentials } from '../../store/provider-credentials.js';
import { uncompressedPoint } from '../../providers/webpush/vapid.js';

let h: TestHerald;
before(async () => { h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api' } }); });
after(async () => { await h.close(); });

const sdkConfig = (key: string) => h.call('GET', '/v1/sdk/config', undefined, { authorization: `Bearer ${key}` });

test('each project has its own VAPID pair from creation; the SDK key reads the public half', async () => {
  const res = await sdkConfig(h.project.sdk_key);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.project_id, h.project.project_id);
  const point = Buffer.from(res.body.vapid_public_key, 'base64url');
  assert.equal(point.length, 65);
  assert.equal(point[0], 0x04, 'uncompressed, as applicationServerKey expects');
  assert.doesNotThrow(() => ECDH.convertKey(point, 'prime256v1'), 'a point on P-256');
  assert.equal(res.body.vapid_public_key.includes('='), false, 'base64url without padding');

  // The sealed private half is the other half of that key.
  const creds = await loadCredentials(h.db.sql, h.keyring, h.project.project_id, 'webpush');
  assert.equal(uncompressedPoint(createPublicKey(createPrivateKey(creds!.private_key_pem))).toString('base64url'), res.body.vapid_public_key);
  assert.equal(creds!.subject, undefined, 'no subject until the project sets one');

  const other = await createProject(h.db.sql, 'other', h.keyring);
  const theirs = await sdkConfig(other.sdk_key);
  assert.notEqual(theirs.body.vapid_public_key, res.body.vapid_public_key);
  assert.equal((await sdkConfig(h.project.sdk_key)).body.vapid_public_key, res.body.vapid_public_key, 'stable');
});

test('the private key is sealed: not readable from the row without the master key', async () => {
  const creds = await loadCredentials(h.db.sql, h.keyring, h.project.project_id, 'webpush');
  const secretLine = creds!.private_key_pem.trim().split('\n')[2]!;
  const rows = await h.db.sql<{ sealed: Buffer; summary: unknown }[]>`select sealed, summary from provider_credentials where provider = 'webpush'`;
  assert.ok(rows.length >= 1);
  for (const r of rows) {
    assert.ok(!r.sealed.includes(Buffer.from(secretLine)), 'not in the sealed bytes');
    assert.ok(!JSON.stringify(r.summary).includes(secretLine), 'not in the summary');
  }
});

test('an unknown key is a 401; the SDK route follows the SDK auth rule (the SDK key or the REST key)', async () => {
  assert.equal((await sdkConfig('hrld_sdk_nope')).status, 401);
  assert.equal((await h.call('GET', '/v1/sdk/config', undefined, { authorization: '' })).status, 401);
  const rest = await sdkConfig(h.project.rest_key);
  assert.equal(rest.status, 200);
});

test('a project made before VAPID existed gets its pair on first read', async () => {
  const p = await createProject(h.db.sql, 'older', h.keyring);
  await h.db.sql`delete from provider_credentials where project_id = ${p.project_id}`;
  const first = await sdkConfig(p.sdk_key);
  assert.equal(first.status, 200);
  assert.equal((await sdkConfig(p.sdk_key)).body.vapid_public_key, first.body.vapid_public_key);
});
