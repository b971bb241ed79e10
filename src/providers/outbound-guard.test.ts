/**
 * The connect-time guard with real sockets: a name that resolves to this machine is refused by every
 * sender a tenant can point somewhere (Web Push, SMS, FCM's token_uri, SMTP) as that delivery's own
 * `rejected` outcome, before any connection, so the answer is the same for an open and a closed port.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { createECDH, generateKeyPairSync, randomBytes } from 'node:crypto';
import { silentLogger } from '../observability/logger.js';
import { freePort } from '../../test/support/process.js';
import { noPrivateNetworks, originKey } from '../domain/network-address.js';
import { ForbiddenAddress, createOutboundGuard, unguarded } from './outbound-guard.js';
import { createWebPushSender } from './webpush/client.js';
import { generateVapidKeys } from './webpush/vapid.js';
import { createSmsSender } from './sms/client.js';
import { createFcmSender } from './fcm/client.js';
import { createEmailSender } from './email/client.js';

let server: net.Server;
let open: number;
let closed: number;
let connections = 0;
before(async () => {
  server = net.createServer((s) => { connections++; s.destroy(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open = (server.address() as AddressInfo).port;
  closed = await freePort();
});
after(() => new Promise<void>((r) => server.close(() => r())));

const guard = createOutboundGuard(noPrivateNetworks);
const log = silentLogger();

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ForbiddenAddress, `refused, got ${String(err)}`);
  return err.message;
}

test('a name that resolves to loopback, and a literal private address, are refused alike on an open and a closed port', async () => {
  const onOpen = await refusal(guard.connect('localhost', open, 2_000));
  assert.match(onOpen, /^localhost resolves to (127\.0\.0\.1|::1), which is a loopback address/);
  assert.equal(await refusal(guard.connect('localhost', closed, 2_000)), onOpen, 'no port-scanner signal');
  assert.match(await refusal(guard.connect('127.0.0.1', open, 2_000)), /127\.0\.0\.1 is a loopback address/);
  assert.match(await refusal(guard.connect('[::ffff:169.254.169.254]', 80, 2_000)), /link-local/);
  // The same server is reachable when allowed: the refusals above never touched it.
  (await unguarded.connect('localhost', open, 2_000)).destroy();
  const allowed = createOutboundGuard({ all: false, origins: [originKey('localhost', open)] });
  (await allowed.connect('localhost', open, 2_000)).destroy();
  await refusal(allowed.connect('localhost', closed, 2_000)); // the allowance is per origin, not per host
  while (connections < 2) await new Promise((r) => setTimeout(r, 10));
  assert.equal(connections, 2, 'only the allowed connections reached the server');
});

test('DNS rebinding: the addresses the socket would use are checked, however the name answered before', async () => {
  let answers = 0;
  const rebinding = createOutboundGuard(noPrivateNetworks, (_host, cb) => {
    answers++;
    // A public address first (what an earlier check would have seen), then this machine.
    cb(null, answers === 1 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '93.184.216.34', family: 4 }, { address: '::ffff:127.0.0.1', family: 6 }]);
  });
  const lookup = rebinding.lookupFor(443);
  const first = await new Promise<unknown>((r) => lookup('rebind.example', { all: true }, (err, a) => r(err ?? a)));
  assert.deepEqual(first, [{ address: '93.184.216.34', family: 4 }]);
  assert.match(await refusal(rebinding.connect('rebind.example', open, 2_000)), /rebind\.example resolves to ::ffff:127\.0\.0\.1, which is a loopback address/);
});

test('every tenant-directed sender turns a refused host into the delivery\'s own rejected outcome, the same for any port', async () => {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const keys = { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
  const webpush = createWebPushSender({ log, guard });
  const sms = createSmsSender({ log, guard });
  const fcm = createFcmSender({ log, guard });
  const email = createEmailSender({ log, guard });
  const vapid = { ...generateVapidKeys(), subject: 'https://example.com/contact' };
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serviceAccount = {
    type: 'service_account', project_id: 'p', private_key_id: 'k', client_email: 'sa@p.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
  try {
    const outcomes = async (port: number) => [
      await webpush.send(vapid, { subscription: { endpoint: `https://localhost:${port}/push/x`, keys }, payload: 'hi', ttlSeconds: 0, urgency: 'low' }),
      await sms.send({ account_sid: 'AC1', auth_token: 't', endpoint: `https://localhost:${port}` }, { to: '+15005550006', from: '+15005550006', body: 'hi' }),
      await fcm.send({ ...serviceAccount, token_uri: `https://localhost:${port}/token`, endpoint: 'https://fcm.googleapis.com' }, { body: '{}' }),
      await email.send({ host: 'localhost', port, security: 'starttls', username: 'u', password: 'p' }, {
        deliveryId: 'd1', from: { address: 'a@example.com' }, to: 'b@example.com', subject: 's', text: 't', unsubscribeUrl: 'https://example.com/u',
      }),
    ];
    const onOpen = await outcomes(open);
    for (const o of onOpen) {
      assert.equal(o.kind, 'rejected', JSON.stringify(o));
      assert.match((o as { reason: string }).reason, /^forbidden_address: .*localhost resolves to .*loopback address/);
    }
    assert.deepEqual(await outcomes(closed), onOpen, 'an open and a closed port answer alike');
    const literal = await webpush.send(vapid, { subscription: { endpoint: `https://2130706433:${open}/push/x`, keys }, payload: 'hi', ttlSeconds: 0, urgency: 'low' });
    assert.deepEqual(literal, { kind: 'rejected', reason: 'forbidden_address: 127.0.0.1 is a loopback address: Herald does not connect to private networks', local: true });
    assert.equal(connections, 2, 'no sender connected (the 2 are the first test\'s allowed ones)');
  } finally {
    await Promise.all([webpush.close(), sms.close(), email.close(), fcm.close()]);
  }
});
