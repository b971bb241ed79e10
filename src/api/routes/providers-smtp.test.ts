import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';
import { freePort } from '../../../test/support/process.js';
import { createTlsIdentity } from '../../sandbox/credentials.js';
import { loadCredentials } from '../../store/provider-credentials.js';
import { SmtpProblem, verifySmtp } from '../../providers/email/verify-smtp.js';
import { unguarded } from '../../providers/outbound-guard.js';

const password = 'correct-horse-battery-staple';
let h: TestHerald;
const logins: string[] = [];

async function smtpServer(o: SMTPServerOptions): Promise<{ port: number; close(): Promise<void> }> {
  const server = new SMTPServer({
    logger: false,
    onAuth(auth, _session, cb) {
      logins.push(auth.username ?? '');
      if (auth.username === 'mailer' && auth.password === password) cb(null, { user: 'mailer' });
      else cb(new Error('Invalid username or password'));
    },
    ...o,
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let plain: { port: number; close(): Promise<void> };
before(async () => {
  // The test's SMTP servers listen on 127.0.0.1: a private address Herald refuses without the setting.
  h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api', HERALD_ALLOW_PRIVATE_NETWORKS: 'true' } });
  // A relay without TLS that requires a login: 'none' security, as on a trusted network.
  plain = await smtpServer({ disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
});
after(async () => {
  await plain.close();
  await h.close();
});

const settings = (port: number, extra: Record<string, unknown> = {}) => ({
  host: '127.0.0.1', port, security: 'none', username: 'mailer', password, from: [{ name: 'News', address: 'news@example.com' }],
  ...extra,
});

test('SMTP settings are stored once the server answers EHLO and accepts the login', async () => {
  const res = await h.call('PUT', '/v1/providers/smtp', settings(plain.port));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.ok(logins.includes('mailer'), 'the server saw the login');
  assert.deepEqual({ ...res.body.summary, fingerprints: undefined }, {
    host: '127.0.0.1', port: plain.port, security: 'none', username: 'mailer', from: [{ name: 'News', address: 'news@example.com' }],
    dkim: null, fingerprints: undefined,
  });
  assert.match(res.body.summary.fingerprints.password, /^hmac-sha256:/);
  assert.ok(!JSON.stringify(res.body).includes(password));
  assert.ok(!JSON.stringify((await h.call('GET', '/v1/providers/smtp')).body).includes(password));
  const loaded = await loadCredentials(h.db.sql, h.keyring, h.project.project_id, 'smtp');
  assert.equal(loaded!.password, password, 'the worker gets the password back');
});

test('a refused login, a closed port, a missing STARTTLS and a server that is not SMTP are 422s; nothing changes', async () => {
  const closed = await freePort();
  const notSmtp = createTcpServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise<void>((r) => notSmtp.listen(0, '127.0.0.1', r));
  try {
    for (const [body, code] of [
      [settings(plain.port, { password: 'wrong-password-123' }), 'smtp_auth_failed'],
      [settings(closed), 'smtp_unreachable'],
      [settings(plain.port, { security: 'starttls' }), 'smtp_tls_failed'],
      [settings((notSmtp.address() as AddressInfo).port), 'smtp_rejected'],
    ] as const) {
      const res = await h.call('PUT', '/v1/providers/smtp', body);
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code, JSON.stringify(res.body));
      assert.ok(!res.body.error.message.includes('wrong-password-123') && !res.body.error.message.includes(password));
    }
  } finally {
    notSmtp.close();
  }
  const still = await h.call('GET', '/v1/providers/smtp');
  assert.equal(still.body.summary.port, plain.port, 'the stored settings are the last good ones');
});

test('STARTTLS and implicit TLS verify against a trusted certificate, and fail against an untrusted one', async () => {
  const tls = await createTlsIdentity('127.0.0.1');
  const starttls = await smtpServer({ key: tls.keyPem, cert: tls.certPem, authOptional: true });
  const implicit = await smtpServer({ secure: true, key: tls.keyPem, cert: tls.certPem, authOptional: true });
  try {
    const base = { host: '127.0.0.1', from: [{ address: 'a@example.com' }] };
    // Through the outbound guard's own socket too (the API's path): nodemailer upgrades it to TLS.
    for (const guard of [undefined, unguarded]) {
      await verifySmtp({ ...base, port: starttls.port, security: 'starttls' }, { ca: tls.certPem, guard });
      await verifySmtp({ ...base, port: implicit.port, security: 'tls' }, { ca: tls.certPem, guard });
    }
    for (const [port, security] of [[starttls.port, 'starttls'], [implicit.port, 'tls']] as const) {
      await assert.rejects(verifySmtp({ ...base, port, security }, { guard: unguarded }), (err: unknown) => {
        assert.ok(err instanceof SmtpProblem);
        assert.equal(err.code, 'smtp_tls_failed', err.message);
        return true;
      });
    }
  } finally {
    await starttls.close();
    await implicit.close();
  }
});
