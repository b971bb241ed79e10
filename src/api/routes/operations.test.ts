import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';

let h: TestHerald;
before(async () => { h = await startTestHerald({ sandbox: false }); });
after(async () => { await h.close(); });

test('/healthz and /readyz answer without a key; readiness checks the database and the queue', async () => {
  assert.deepEqual((await fetch(h.url + '/healthz').then((r) => r.json())), { status: 'ok' });
  const ready = await fetch(h.url + '/readyz');
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready', database: 'up', queue: 'up' });
});

test('/metrics speaks Prometheus: requests, queue depth, provider and delivery series', async () => {
  await h.call('POST', '/v1/transactional/send', { group_id: 'm', recipients: { custom_ids: ['nobody'] }, push: { title: 't', body: 'b' } });
  const res = await fetch(h.url + '/metrics');
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = await res.text();
  assert.match(text, /herald_http_request_duration_seconds_count\{method="POST",route="\/v1\/transactional\/send",status="202"\} [1-9]/);
  assert.match(text, /herald_queue_up 1/);
  assert.match(text, /# TYPE herald_provider_latency_seconds histogram/);
  assert.match(text, /# TYPE herald_deliveries_total counter/);
  assert.match(text, /herald_process_resident_memory_bytes/);
});

test('the OpenAPI document describes the API with the schemas that validate it, and /docs serves it', async () => {
  const doc = (await fetch(h.url + '/openapi.json').then((r) => r.json())) as any;
  assert.equal(doc.openapi, '3.1.0');
  const send = doc.paths['/v1/transactional/send'].post;
  assert.equal(send.requestBody.content['application/json'].schema.additionalProperties, false);
  assert.ok(send.requestBody.content['application/json'].schema.properties.push.properties.ttl_seconds);
  assert.ok(doc.paths['/v1/sdk/installations'].post);
  assert.ok(doc.paths['/v1/messages/{id}'].get);
  // The reference covers every public endpoint: profiles, imports, the SDK's, providers and email.
  const documented = [
    ['post', '/v1/profiles/update'], ['post', '/v1/profiles/bulk'], ['get', '/v1/jobs/{id}'],
    ['get', '/v1/profiles/{custom_id}'], ['delete', '/v1/profiles/{custom_id}'], ['get', '/v1/profiles/{custom_id}/export'],
    ['post', '/v1/sdk/events'], ['post', '/v1/sdk/attributes'], ['post', '/v1/sdk/identify'], ['post', '/v1/sdk/logout'],
    ['post', '/v1/sdk/push-events'], ['get', '/v1/sdk/config'],
    ...['apns', 'fcm', 'webpush', 'smtp', 'sms'].map((p) => ['put', `/v1/providers/${p}`]), ['get', '/v1/providers/{provider}'], ['delete', '/v1/providers/{provider}'],
    ['get', '/v1/email/suppressions'], ['delete', '/v1/email/suppressions/{address}'],
    ['get', '/v1/project/keys'], ['post', '/v1/project/keys'], ['post', '/v1/project/keys/{id}/revoke'],
    ['post', '/v1/project/identity-secret/rotate'],
  ];
  for (const [method, path] of documented) {
    const op = doc.paths[path!]?.[method!];
    assert.ok(op, `${method!.toUpperCase()} ${path} is in the OpenAPI document`);
    assert.ok(op.summary || op.description, `${method!.toUpperCase()} ${path} is described`);
  }
  assert.match(doc.info.description, /idempotency_key_reused/);
  const page = await fetch(h.url + '/docs/');
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
});
