import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { sdkAssetRoutes } from './sdk-assets.js';
import { ErrorBody } from '../schemas.js';

async function appWith(files: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'herald-sdk-assets-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const app = Fastify();
  // The Error shape every route's error responses refer to, as buildApp adds it.
  app.addSchema(ErrorBody);
  await app.register(sdkAssetRoutes(dir));
  return app;
}

test('serves herald.js as JavaScript any origin may import, with an ETag that answers 304', async () => {
  const app = await appWith({ 'herald.js': 'export const v = 1;' });
  const res = await app.inject({ method: 'GET', url: '/sdk/web/herald.js' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, 'export const v = 1;');
  assert.match(String(res.headers['content-type']), /^text\/javascript/);
  assert.equal(res.headers['access-control-allow-origin'], '*');
  const etag = String(res.headers.etag);
  assert.match(etag, /^".+"$/);
  const again = await app.inject({ method: 'GET', url: '/sdk/web/herald.js', headers: { 'if-none-match': etag } });
  assert.equal(again.statusCode, 304);
  assert.equal(again.body, '');
  const stale = await app.inject({ method: 'GET', url: '/sdk/web/herald.js', headers: { 'if-none-match': '"other"' } });
  assert.equal(stale.statusCode, 200);
});

test('serves the in-app chunk as JavaScript any origin may import, beside herald.js', async () => {
  const app = await appWith({ 'herald-in-app.js': 'export const start = 1;' });
  const res = await app.inject({ method: 'GET', url: '/sdk/web/herald-in-app.js' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, 'export const start = 1;');
  assert.match(String(res.headers['content-type']), /^text\/javascript/);
  assert.equal(res.headers['access-control-allow-origin'], '*');
  assert.match(String(res.headers.etag), /^".+"$/);
});

test('serves the service worker with Service-Worker-Allowed: / so a page can register it for the whole origin', async () => {
  const app = await appWith({ 'herald-sw.js': 'self.x = 1;' });
  const res = await app.inject({ method: 'GET', url: '/sdk/web/herald-sw.js' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['service-worker-allowed'], '/');
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.match(String(res.headers['content-type']), /^text\/javascript/);
});

test('serves only the SDK\'s own files: other names, and a file not built yet, are 404', async () => {
  const app = await appWith({ 'herald.js': 'x', 'secret.txt': 'no' });
  for (const url of ['/sdk/web/secret.txt', '/sdk/web/..%2Fpackage.json', '/sdk/web/hasOwnProperty', '/sdk/web/herald-sw.js']) {
    const res = await app.inject({ method: 'GET', url });
    assert.equal(res.statusCode, 404, url);
    assert.equal(res.json().error.code, 'not_found');
  }
});
