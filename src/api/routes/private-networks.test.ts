/**
 * Tenants cannot make Herald connect into its own network: push subscription endpoints (public SDK
 * key) and provider settings (REST key) that name a private address are 400s; a name that resolves
 * to one is refused when the worker connects, as that delivery's own outcome, the same whatever the
 * port. The sandbox's own simulators (on 127.0.0.1) stay reachable without any setting.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { createECDH, randomBytes } from 'node:crypto';
import { startTestHerald, eventually, type TestHerald } from '../../../test/support/herald.js';
import { freePort } from '../../../test/support/process.js';
import { fcmInput, webPushSubscription } from '../../../test/support/provider-inputs.js';

let h: TestHerald;
let server: net.Server;
let open: number;
let closed: number;
let connections = 0;
before(async () => {
  h = await startTestHerald(); // the sandbox, and no --allow-private-networks
  server = net.createServer((s) => { connections++; s.destroy(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open = (server.address() as AddressInfo).port;
  closed = await freePort();
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await h.close();
});

const sdk = (path: string, body: unknown) => h.call('POST', path, body, { authorization: `Bearer ${h.project.sdk_key}` });

test('the SDK key cannot register a push endpoint on a private address, in any spelling', async () => {
  for (const host of ['127.0.0.1', '169.254.169.254', '2130706433', '[::1]', '[::ffff:127.0.0.1]', '10.1.2.3', '0x7f.1', '127.1', '[fd00::1]', '100.64.0.1']) {
    const r = await sdk('/v1/sdk/installations', {
      install_id: `w-${host}`, platform: 'web', web_push_subscription: webPushSubscription(`https://${host}:${open}/push/x`),
    });
    assert.equal(r.status, 400, `${host}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'invalid_web_push_subscription', host);
    assert.match(r.body.error.message, /web_push_subscription\.endpoint: .* address: Herald does not connect to private networks/, host);
  }
  const plain = await sdk('/v1/sdk/installations', {
    install_id: 'w-http', platform: 'web', web_push_subscription: webPushSubscription(`http://localhost:${open}/push/x`),
  });
  assert.equal(plain.status, 400, 'push services are https only');
  const [row] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from installations where install_id like 'w-%'`;
  assert.equal(row!.n, 0);
  const sandbox = await sdk('/v1/sdk/installations', {
    install_id: 'sandboxed', platform: 'web', web_push_subscription: webPushSubscription(`${h.herald.sandbox!.endpoints.webpush}/push/s`),
  });
  assert.equal(sandbox.status, 200, 'the sandbox\'s own push service is allowed');
});

test('the REST key cannot point provider settings at private addresses: a 400 that stores nothing', async () => {
  const smtp = (host: string) => ({ host, port: open, security: 'starttls', from: [{ address: 'news@example.com' }] });
  for (const host of ['127.0.0.1', '0x7f.1', '[::1]', '::ffff:127.0.0.1', '192.168.0.10', 'localhost']) {
    const r = await h.call('PUT', '/v1/providers/smtp', smtp(host));
    assert.equal(r.status, 400, `${host}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'forbidden_address', host);
  }
  // A name is refused when resolved, before connecting: an open and a closed port answer alike.
  const onClosed = await h.call('PUT', '/v1/providers/smtp', { ...smtp('localhost'), port: closed });
  const onOpen = await h.call('PUT', '/v1/providers/smtp', smtp('localhost'));
  assert.deepEqual(onClosed.body.error.message.replace(String(closed), 'P'), onOpen.body.error.message.replace(String(open), 'P'));
  assert.equal(connections, 0, 'the API never connected');

  const fcm = await h.call('PUT', '/v1/providers/fcm', { service_account: { ...fcmInput().service_account, token_uri: 'https://169.254.169.254/token' } });
  assert.equal(fcm.status, 400, JSON.stringify(fcm.body));
  assert.equal(fcm.body.error.code, 'forbidden_address');
  assert.match(fcm.body.error.message, /^service_account\.token_uri: 169\.254\.169\.254 is a link-local address/);
  const sms = await h.call('PUT', '/v1/providers/sms', { account_sid: 'AC1', auth_token: 't', from: '+15005550006', base_url: 'https://[fe80::1]:8443' });
  assert.equal(sms.status, 400, JSON.stringify(sms.body));
  assert.equal(sms.body.error.code, 'forbidden_address');
  assert.equal((await h.call('GET', '/v1/providers')).body.providers.filter((p: { provider: string }) => p.provider !== 'webpush').length, 0);

  const sandboxSms = await h.call('PUT', '/v1/providers/sms', {
    account_sid: 'AC1', auth_token: 't', from: '+15005550006', base_url: h.herald.sandbox!.endpoints.sms,
  });
  assert.equal(sandboxSms.status, 200, `the sandbox's own simulator is allowed: ${JSON.stringify(sandboxSms.body)}`);
  assert.equal((await h.call('DELETE', '/v1/providers/sms')).status, 204);
});

test('a push endpoint whose name resolves to loopback is refused when the worker connects: rejected, the same for any port', async () => {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const keys = { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
  for (const [id, port] of [['to-open', open], ['to-closed', closed]] as const) {
    const r = await sdk('/v1/sdk/installations', {
      install_id: id, platform: 'web', web_push_subscription: { endpoint: `https://localhost:${port}/push/${id}`, keys },
    });
    assert.equal(r.status, 200, 'a name is checked when resolved');
  }
  const sent = await h.call('POST', '/v1/transactional/send', {
    group_id: 'ssrf', recipients: { install_ids: ['to-open', 'to-closed'] }, push: { title: 'hi', body: 'there' },
  });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const recipients = await eventually(async () => {
    const m = await h.call('GET', `/v1/messages/${sent.body.message_id}`);
    const rs = m.body.recipients as { install_id: string; status: string; reason: string }[];
    return rs.length === 2 && rs.every((x) => x.status !== 'queued') ? rs : undefined;
  }, 15_000, 'both deliveries final');
  for (const r of recipients) {
    assert.equal(r.status, 'failed', JSON.stringify(r));
    assert.match(r.reason, /^forbidden_address: localhost resolves to (127\.0\.0\.1|::1), which is a loopback address/);
  }
  assert.equal(recipients[0]!.reason, recipients[1]!.reason, 'no port-scanner signal');
  assert.equal(connections, 0, 'the worker never connected');
});
