import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';
import { apnsInput, dkimKey, fcmInput, pemBody, smsInput, vapidPair } from '../../../test/support/provider-inputs.js';
import { createLogger } from '../../observability/logger.js';
import { loadCredentials } from '../../store/provider-credentials.js';
import { createProject } from '../../store/projects.js';

let h: TestHerald;
const logLines: string[] = [];
/** Every secret a test sent: none may come back in an answer or appear in the logs. */
const secrets = new Set<string>();
/** Of a PEM, its second base64 line: key material (the first begins with a constant header), kept whole in JSON. */
const remember = (...s: string[]) => { for (const x of s) secrets.add(x.includes('-----') ? x.trim().split('\n')[2]! : x); };

before(async () => {
  const capture = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
  h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api' }, log: createLogger('trace', { destination: capture }) });
});
after(async () => { await h.close(); });

const put = (provider: string, body: unknown) => h.call('PUT', `/v1/providers/${provider}`, body);
const stored = async (provider: string) =>
  (await h.db.sql`select summary from provider_credentials where project_id = ${h.project.project_id} and provider = ${provider}`)[0];

function assertNoSecret(text: string, where: string) {
  for (const s of secrets) assert.ok(!text.includes(s), `${where} contains a secret (${s.slice(0, 6)}…)`);
}

test('APNs: a .p8 that is not EC P-256 or not a key is a 422, a malformed id a 400; nothing is stored', async () => {
  const good = apnsInput();
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  remember(good.private_key_pem, rsa, p384);
  for (const [body, status, code] of [
    [{ ...good, private_key_pem: rsa }, 422, 'invalid_apns_key'],
    [{ ...good, private_key_pem: p384 }, 422, 'invalid_apns_key'],
    [{ ...good, private_key_pem: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----' }, 422, 'invalid_apns_key'],
    [{ ...good, team_id: 'abcde12345' }, 400, 'invalid_field'],
    [{ ...good, topic: undefined }, 400, 'missing_field'],
    [{ ...good, certificate: 'x' }, 400, 'unknown_field'],
  ] as const) {
    const res = await put('apns', body);
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
    assertNoSecret(JSON.stringify(res.body), 'an error answer');
  }
  assert.equal(await stored('apns'), undefined, 'nothing stored after failed checks');
  assert.equal((await h.call('GET', '/v1/providers/apns')).body.error.code, 'provider_not_configured');
});

test('APNs: a good .p8 is sealed; the answer and GETs show ids, topic and a fingerprint, never the key', async () => {
  const input = apnsInput();
  remember(input.private_key_pem);
  const res = await put('apns', input);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual({ ...res.body.summary, fingerprints: undefined },
    { team_id: 'ABCDE12345', key_id: 'KEY1234567', topic: 'com.example.app', environment: 'sandbox', fingerprints: undefined });
  assert.match(res.body.summary.fingerprints.private_key_pem, /^hmac-sha256:[0-9a-f]{16}$/);
  const loaded = await loadCredentials(h.db.sql, h.keyring, h.project.project_id, 'apns');
  assert.equal(loaded?.team_id, 'ABCDE12345');
  assert.equal(pemBody(loaded!.private_key_pem), pemBody(input.private_key_pem), 'the worker gets the key back');
  const [row] = await h.db.sql<{ sealed: Buffer }[]>`select sealed from provider_credentials where provider = 'apns'`;
  assert.ok(!row!.sealed.toString('latin1').includes(pemBody(input.private_key_pem).slice(40, 80)), 'sealed at rest');
  const again = await put('apns', { ...apnsInput(), team_id: 'ZZZZZ99999' });
  assert.equal(again.status, 200);
  assert.equal((await h.call('GET', '/v1/providers/apns')).body.summary.team_id, 'ZZZZZ99999', 'a PUT replaces');
});

test('FCM: the key file is checked (type, RSA key, fields) and only the needed fields are kept', async () => {
  const good = fcmInput();
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  remember(good.service_account.private_key, ec);
  for (const [sa, status, code] of [
    [{ ...good.service_account, private_key: ec }, 422, 'invalid_service_account'],
    [{ ...good.service_account, type: 'authorized_user' }, 422, 'invalid_service_account'],
    [{ ...good.service_account, client_email: undefined }, 400, 'missing_field'],
    [{ ...good.service_account, token_uri: 'http://oauth2.googleapis.com/token' }, 400, 'invalid_field'],
  ] as const) {
    const res = await put('fcm', { service_account: sa });
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
  }
  assert.equal(await stored('fcm'), undefined);
  const res = await put('fcm', good);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.summary.project_id, 'demo-project');
  assert.equal(res.body.summary.client_email, 'sender@demo-project.iam.gserviceaccount.com');
  const loaded = await loadCredentials(h.db.sql, h.keyring, h.project.project_id, 'fcm');
  assert.deepEqual(Object.keys(loaded!.service_account).sort(),
    ['client_email', 'private_key', 'private_key_id', 'project_id', 'token_uri', 'type']);
});

test('Web Push: a raw scalar whose leading zero byte was dropped (31 bytes, as Node prints 1 key in 256) is accepted', async () => {
  let ecdh: ReturnType<typeof createECDH>;
  do {
    ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
  } while (ecdh.getPrivateKey().length !== 31);
  const pair = { public_key: ecdh.getPublicKey('base64url', 'uncompressed'), private_key: ecdh.getPrivateKey('base64url') };
  assert.equal(pair.private_key.length, 42);
  remember(pair.private_key);
  const res = await put('webpush', { subject: 'mailto:ops@example.com', ...pair });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.summary.public_key, pair.public_key, 'the padded scalar is the same key');
});

test('Web Push: the subject alone keeps the generated pair; a given pair must match and replaces it', async () => {
  const before = (await h.call('GET', '/v1/providers/webpush')).body.summary;
  assert.match(before.public_key, /^[A-Za-z0-9_-]{87}$/, 'the project has had a pair since its creation');
  const kept = await put('webpush', { subject: 'mailto:ops@example.com' });
  assert.equal(kept.status, 200, JSON.stringify(kept.body));
  assert.equal(kept.body.summary.public_key, before.public_key);
  assert.equal(kept.body.summary.subject, 'mailto:ops@example.com');

  const a = vapidPair();
  const b = vapidPair();
  remember(a.private_key, b.private_key);
  for (const [body, status, code] of [
    [{ subject: 'mailto:ops@example.com', public_key: a.public_key, private_key: b.private_key }, 422, 'invalid_vapid_keys'],
    [{ subject: 'mailto:ops@example.com', public_key: a.public_key }, 400, 'invalid_field'],
    [{ subject: 'http://example.com', ...a }, 400, 'invalid_field'],
  ] as const) {
    const res = await put('webpush', body);
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
  }
  assert.equal((await stored('webpush'))!.summary.public_key, before.public_key, 'failed PUTs changed nothing');

  const replaced = await put('webpush', { subject: 'https://example.com/contact', ...a });
  assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
  assert.equal(replaced.body.summary.public_key, a.public_key);
  const sdk = await h.call('GET', '/v1/sdk/config', undefined, { authorization: `Bearer ${h.project.sdk_key}` });
  assert.equal(sdk.body.vapid_public_key, a.public_key, 'the SDK config serves the new key');
  const loaded = await loadCredentials(h.db.sql, h.keyring, h.project.project_id, 'webpush');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(a.private_key, 'base64url'));
  assert.equal(loaded!.subject, 'https://example.com/contact');
  assert.match(loaded!.private_key_pem, /BEGIN PRIVATE KEY/, 'stored as PKCS#8 PEM');

  // A PEM private key is read as well.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const pub = createECDH('prime256v1');
  pub.setPrivateKey(d);
  remember(pem);
  const fromPem = await put('webpush', { subject: 'mailto:ops@example.com', public_key: pub.getPublicKey('base64url', 'uncompressed'), private_key: pem });
  assert.equal(fromPem.status, 200, JSON.stringify(fromPem.body));
});

test('SMS: the account SID shape, the sender, and an https base_url are checked', async () => {
  const good = smsInput();
  remember(good.auth_token);
  for (const [body, code] of [
    [{ ...good, account_sid: 'AC123' }, 'invalid_field'],
    [{ ...good, from: undefined }, 'invalid_field'],
    [{ ...good, from: '12345' }, 'invalid_field'],
    [{ ...good, account_sid: 'proj-1', base_url: 'http://sms.example.com' }, 'invalid_field'],
    // Not even to this machine: the sender speaks TLS only, so plain http would fail every send.
    [{ ...good, account_sid: 'proj-1', base_url: 'http://127.0.0.1:8080' }, 'invalid_field'],
    [{ ...good, account_sid: 'proj-1', base_url: 'http://localhost' }, 'invalid_field'],
    [{ ...good, account_sid: 'proj-1', base_url: 'ftp://sms.example.com' }, 'invalid_field'],
  ] as const) {
    const res = await put('sms', body);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
  }
  assert.equal(await stored('sms'), undefined);
  const res = await put('sms', good);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.summary.base_url, 'https://api.twilio.com');
  const compatible = await put('sms', { ...good, account_sid: 'proj-1', base_url: 'https://sms.example.com/api/' });
  assert.equal(compatible.status, 200, JSON.stringify(compatible.body));
  assert.equal(compatible.body.summary.base_url, 'https://sms.example.com/api');
  const loaded = await loadCredentials(h.db.sql, h.keyring, h.project.project_id, 'sms');
  assert.equal(loaded!.auth_token, good.auth_token);
});

test('SMTP: a DKIM key that is not RSA is a 422 before any connection', async () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  remember(ec, dkimKey());
  const res = await put('smtp', {
    host: '127.0.0.1', port: 1, security: 'none', from: [{ address: 'news@example.com' }],
    dkim: { domain: 'example.com', selector: 's1', private_key_pem: ec },
  });
  assert.equal(res.status, 422, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'invalid_dkim_key');
});

test('text PostgreSQL cannot store, and a line break in a mail header, are 400s naming the field; nothing is stored', async () => {
  const before = (await stored('webpush'))?.summary;
  const subject = await put('webpush', { subject: 'mailto:ops\u0000@example.com' });
  assert.equal(subject.status, 400, JSON.stringify(subject.body));
  assert.equal(subject.body.error.code, 'invalid_field');
  assert.match(subject.body.error.message, /^subject must not contain U\+0000/);
  assert.deepEqual((await stored('webpush'))?.summary, before);
  // The sender's name becomes the From header; SMTP is checked (and connected to) only after the body.
  const name = await put('smtp', { host: '127.0.0.1', port: 1, security: 'none', from: [{ name: 'News\r\nBcc: all@example.com', address: 'news@example.com' }] });
  assert.equal(name.status, 400, JSON.stringify(name.body));
  assert.equal(name.body.error.code, 'invalid_field');
  assert.match(name.body.error.message, /^from\.0\.name /);
  assert.equal(await stored('smtp'), undefined);
});

test('listing, reading one, deleting; unknown providers, the SDK key and other projects are refused', async () => {
  const list = await h.call('GET', '/v1/providers');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.providers.map((p: { provider: string }) => p.provider), ['apns', 'fcm', 'sms', 'webpush']);
  assertNoSecret(JSON.stringify(list.body), 'GET /v1/providers');
  for (const p of ['apns', 'fcm', 'sms', 'webpush']) assertNoSecret(JSON.stringify((await h.call('GET', `/v1/providers/${p}`)).body), `GET ${p}`);

  const sdk = { authorization: `Bearer ${h.project.sdk_key}` };
  assert.equal((await h.call('GET', '/v1/providers', undefined, sdk)).body.error.code, 'forbidden_for_sdk_key');
  assert.equal((await h.call('PUT', '/v1/providers/sms', smsInput(), sdk)).status, 403);
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const res = await h.call(method, '/v1/providers/carrier-pigeon', method === 'PUT' ? {} : undefined);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'unknown_provider');
  }

  const other = await createProject(h.db.sql, 'other', h.keyring);
  const theirs = await h.call('GET', '/v1/providers', undefined, { authorization: `Bearer ${other.rest_key}` });
  assert.deepEqual(theirs.body.providers.map((p: { provider: string }) => p.provider), ['webpush'], 'only their own VAPID pair');
  assert.equal((await h.call('DELETE', '/v1/providers/sms', undefined, { authorization: `Bearer ${other.rest_key}` })).status, 404);

  const del = await h.call('DELETE', '/v1/providers/sms');
  assert.equal(del.status, 204);
  assert.equal((await h.call('GET', '/v1/providers/sms')).body.error.code, 'provider_not_configured');
  assert.equal((await h.call('DELETE', '/v1/providers/sms')).status, 404);
  const vapid = await h.call('DELETE', '/v1/providers/webpush');
  assert.equal(vapid.status, 409);
  assert.equal(vapid.body.error.code, 'vapid_keys_required');
});

test('no secret reached the logs, and the logger redacts every secret field if a body is logged', async () => {
  assert.ok(logLines.some((l) => l.includes('provider credentials saved')), 'the capture works');
  assertNoSecret(logLines.join(''), 'the logs');
  const lines: string[] = [];
  const log = createLogger('info', { destination: new Writable({ write(c, _e, done) { lines.push(String(c)); done(); } }) });
  const bodies = {
    apns: apnsInput(), fcm: fcmInput(), webpush: { subject: 'mailto:a@b.c', ...vapidPair() }, sms: smsInput(),
    smtp: { host: 'h', port: 587, username: 'u', password: 'pa55-w0rd-secret', from: [], dkim: { domain: 'd', selector: 's', private_key_pem: dkimKey() } },
  };
  remember(bodies.apns.private_key_pem, bodies.fcm.service_account.private_key, bodies.sms.auth_token, 'pa55-w0rd-secret', bodies.smtp.dkim.private_key_pem);
  for (const body of Object.values(bodies)) {
    log.info({ body }, 'a body');
    log.info({ req: { body } }, 'a request');
  }
  assertNoSecret(lines.join(''), 'logged bodies');
  assert.equal(lines.length, 10);
});
