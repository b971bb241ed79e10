/**
 * The JWT-bearer grant against a local token endpoint that verifies each assertion as Google does
 * (https://developers.google.com/identity/protocols/oauth2/service-account): a real RS256 signature checked with the account's public key.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import {
  AccessTokenError, assertionLifetimeS, createAccessTokens, failedGrantHoldMs, firebaseMessagingScope, jwtBearerGrantType,
  refreshMarginMs, type FcmServiceAccount,
} from './access-token.js';

let server: http.Server;
let account: FcmServiceAccount;
let publicKey: KeyObject;
/** What the endpoint answers next, when a test wants something other than a grant. */
let script: { status: number; body: unknown; headers?: Record<string, string> }[] = [];
let grants: { header: ReturnType<typeof decodeProtectedHeader>; claims: Record<string, unknown>; contentType: string | undefined; grantType: string | null }[] = [];
let issued = 0;

before(async () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  publicKey = pair.publicKey;
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', async () => {
      const next = script.shift();
      if (next) {
        res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
        res.end(typeof next.body === 'string' ? next.body : JSON.stringify(next.body));
        return;
      }
      const form = new URLSearchParams(body);
      const assertion = form.get('assertion') ?? '';
      try {
        const { payload } = await jwtVerify(assertion, publicKey, { algorithms: ['RS256'] });
        grants.push({ header: decodeProtectedHeader(assertion), claims: payload, contentType: req.headers['content-type'], grantType: form.get('grant_type') });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: `ya29.token-${++issued}`, expires_in: 3599, token_type: 'Bearer' }));
      } catch (err) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_grant', error_description: (err as Error).message }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  account = {
    type: 'service_account', project_id: 'p', private_key_id: 'a'.repeat(40),
    private_key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: 'sender@p.iam.gserviceaccount.com',
    token_uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
  };
});
after(() => new Promise<void>((r) => server.close(() => r())));

const reset = () => {
  grants = [];
  script = [];
};

test('the assertion is an RS256 JWT naming the key, the account, the FCM scope and the token URL, living one hour', async () => {
  reset();
  const now = Math.floor(Date.now() / 1000) * 1000;
  const tokens = createAccessTokens({ clock: () => now });
  const t = await tokens.get(account);
  assert.equal(t.token, `ya29.token-${issued}`);
  assert.equal(t.expiresAtMs, now + 3599_000);
  const [g] = grants;
  assert.deepEqual(g!.header, { alg: 'RS256', typ: 'JWT', kid: account.private_key_id });
  assert.equal(g!.claims.iss, account.client_email);
  assert.equal(g!.claims.scope, firebaseMessagingScope);
  assert.equal(g!.claims.aud, account.token_uri);
  assert.equal(g!.claims.iat, now / 1000);
  assert.equal(g!.claims.exp, now / 1000 + assertionLifetimeS);
  assert.equal(g!.contentType, 'application/x-www-form-urlencoded');
  assert.equal(g!.grantType, jwtBearerGrantType);
});

test('one token serves every caller, concurrent first callers included, until shortly before it expires', async () => {
  reset();
  let now = Date.now();
  const tokens = createAccessTokens({ clock: () => now });
  const first = await Promise.all(Array.from({ length: 50 }, () => tokens.get(account)));
  assert.equal(grants.length, 1);
  assert.equal(new Set(first.map((t) => t.token)).size, 1);
  // Replaced 5 minutes before Google's expires_in runs out (google-auth-library's margin too).
  assert.equal(refreshMarginMs, 5 * 60_000);
  now = first[0]!.expiresAtMs - 5 * 60_000 - 1;
  assert.equal((await tokens.get(account)).token, first[0]!.token, 'still fresh just before the margin');
  assert.equal(grants.length, 1);
  now += 1;
  const [a, b] = await Promise.all([tokens.get(account), tokens.get(account)]);
  assert.equal(grants.length, 2, 'one new grant at the margin, shared');
  assert.notEqual(a.token, first[0]!.token);
  assert.equal(a.token, b.token);
});

test('a refresh after a 401 makes one new grant however many sends saw the refusal', async () => {
  reset();
  const tokens = createAccessTokens();
  const stale = await tokens.get(account);
  const renewed = await Promise.all(Array.from({ length: 20 }, () => tokens.refresh(account, stale)));
  assert.equal(grants.length, 2);
  assert.equal(new Set(renewed.map((t) => t.token)).size, 1);
  assert.notEqual(renewed[0]!.token, stale.token);
  // A send that still held the stale token later gets the current one, without another grant.
  assert.equal((await tokens.refresh(account, stale)).token, renewed[0]!.token);
  assert.equal(grants.length, 2);
});

test('a refused grant is a credentials error with Google\'s words, held briefly, then asked again', async () => {
  reset();
  let now = Date.now();
  const tokens = createAccessTokens({ clock: () => now });
  script = [{ status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } }];
  const err = await tokens.get(account).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof AccessTokenError);
  assert.equal(err.kind, 'credentials');
  assert.equal(err.status, 400);
  assert.match(err.message, /invalid_grant: Invalid JWT Signature\./);
  await assert.rejects(tokens.get(account), AccessTokenError, 'the failure is answered again within the hold');
  assert.equal(grants.length, 0);
  now += failedGrantHoldMs;
  assert.ok((await tokens.get(account)).token.startsWith('ya29.'));
  assert.equal(grants.length, 1);
});

test('an overloaded endpoint is "unavailable" with its Retry-After; an unreachable one too', async () => {
  reset();
  script = [{ status: 503, body: 'busy', headers: { 'retry-after': '4' } }];
  const err = await createAccessTokens().get(account).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof AccessTokenError);
  assert.equal(err.kind, 'unavailable');
  assert.equal(err.retryAfterMs, 4_000);
  const gone = await createAccessTokens().get({ ...account, token_uri: 'http://127.0.0.1:1/token' }).then(() => undefined, (e: unknown) => e);
  assert.ok(gone instanceof AccessTokenError);
  assert.equal(gone.kind, 'unavailable');
});

test('a private key that is not PKCS#8 is a credentials error before anything is sent', async () => {
  reset();
  const err = await createAccessTokens().get({ ...account, private_key: 'not a key', private_key_id: 'b'.repeat(40) })
    .then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof AccessTokenError);
  assert.equal(err.kind, 'credentials');
  assert.equal(grants.length, 0);
});
