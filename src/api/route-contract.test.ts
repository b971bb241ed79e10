import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { silentLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { createEvents } from '../worker/events.js';
import { createPostgresQueue } from '../queue/postgres/queue.js';
import type { WorkQueue } from '../queue/queue.js';
import { buildApp } from './app.js';
import { checkResponses, contractProblems, enforceRouteContract, RouteContractError } from './route-contract.js';
import { ErrorBody, errorResponses, restKeyErrors } from './schemas.js';
import { errorCatalogue } from './errors.js';

const { keyring } = testMasterKey();
let db: TestDatabase;
let app: FastifyInstance;
let queue: WorkQueue;

before(async () => {
  db = await testDatabase();
  queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 3 });
  app = await buildApp({ keyring, sql: db.sql, queue, log: silentLogger(), metrics: createMetrics({ events: createEvents(), queue }) });
});
after(async () => {
  await app?.close();
  await queue?.close();
  await db?.close();
});

test('a route without a success schema, without error responses, or without its key\'s refusals is named', () => {
  assert.deepEqual(contractProblems({ schema: {} }), ['no 2xx/3xx response schema', 'no 4xx/5xx error response']);
  assert.deepEqual(contractProblems({ schema: { response: { 200: Type.Object({}) } } }), ['no 4xx/5xx error response']);
  assert.deepEqual(contractProblems({ schema: { response: { 204: Type.Null(), ...errorResponses() } }, config: { auth: 'rest' } }),
    ['takes the rest key but declares no 401', 'takes the REST key but declares no 403']);
  assert.deepEqual(contractProblems({ schema: { response: { '2xx': Type.Object({}), '4xx': Type.Object({}) } } }), []);
  assert.deepEqual(contractProblems({ schema: { response: { 200: Type.Object({}), ...errorResponses(restKeyErrors) } }, config: { auth: 'rest' } }), []);
  assert.deepEqual(contractProblems({ url: '/v1/things/:id', schema: { response: { 200: Type.Object({}), ...errorResponses() } } }),
    ['path parameters without a params schema']);
  assert.deepEqual(contractProblems({ url: '/v1/things/:id', schema: { params: Type.Object({ id: Type.String() }), response: { 200: Type.Object({}), ...errorResponses() } } }), []);
});

test('the contract check throws at startup naming every route that breaks it', async () => {
  const bare = Fastify();
  const contract = enforceRouteContract(bare);
  bare.get('/fine', { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }), ...errorResponses() } } }, async () => ({ ok: true }));
  bare.get('/undeclared', async () => ({ ok: true }));
  bare.post('/no-errors', { schema: { response: { 201: Type.Object({}) } } }, async () => ({}));
  assert.throws(() => contract.check(), (err: Error) => {
    assert.ok(err instanceof RouteContractError);
    assert.match(err.message, /GET \/undeclared: no 2xx\/3xx response schema; no 4xx\/5xx error response/);
    assert.match(err.message, /POST \/no-errors: no 4xx\/5xx error response/);
    assert.doesNotMatch(err.message, /\/fine/);
    assert.doesNotMatch(err.message, /HEAD/);
    return true;
  });
  await bare.close();
});

test('/openapi.json declares a success answer and error answers for every operation', async () => {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.statusCode, 200);
  const spec = res.json() as {
    paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>;
    components: { schemas: Record<string, unknown> };
  };
  const ops = Object.entries(spec.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  assert.ok(ops.length >= 40, `${ops.length} operations`);
  for (const { path, method, op } of ops) {
    const statuses = Object.keys(op.responses);
    const ok = statuses.filter((s) => /^[23]/.test(s));
    assert.ok(ok.length, `${method} ${path} declares no success answer`);
    assert.ok(statuses.some((s) => /^[45]/.test(s)), `${method} ${path} declares no error answer`);
    for (const s of ok) {
      if (s === '204' || s === '304') continue;
      const content = op.responses[s]!.content;
      assert.ok(content && Object.values(content).every((c) => c.schema), `${method} ${path} ${s} has no schema`);
    }
  }
  assert.ok(spec.components.schemas.Error, 'the error shape is a named component');
  // The profile operations are documented field by field, not as an array of anything.
  const update = spec.paths['/v1/profiles/update']!.post as unknown as { requestBody: { content: Record<string, { schema: { items: { properties: Record<string, unknown> } } }> } };
  const item = update.requestBody.content['application/json']!.schema.items;
  assert.deepEqual(Object.keys(item.properties).sort(), ['attributes', 'events', 'identifiers']);
});

test('every error status a route declares is one of its codes\' in the catalogue', () => {
  const r = errorResponses('message_not_found', 'unauthorized');
  assert.deepEqual(Object.keys(r).map(Number), [401, 404, 500, 503]);
  assert.match(r[404]!.description!, /`message_not_found`: No message with this id/);
  for (const [code, e] of Object.entries(errorCatalogue)) {
    assert.ok(errorResponses(code as keyof typeof errorCatalogue)[e.status], code);
  }
});

test('with checkResponses, an answer its schema would change is a 500 naming the route', async () => {
  const bare = Fastify();
  bare.addSchema(ErrorBody);
  checkResponses(bare);
  const Declared = Type.Object({ a: Type.Integer() });
  bare.get('/drops', { schema: { response: { 200: Declared } } }, async () => ({ a: 1, b: 2 }));
  bare.get('/coerces', { schema: { response: { 200: Declared } } }, async () => ({ a: '7' }));
  bare.get('/keeps', { schema: { response: { 200: Declared } } }, async () => ({ a: 1 }));
  const write = process.stderr.write;
  const written: string[] = [];
  process.stderr.write = ((chunk: string) => { written.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try {
    assert.equal((await bare.inject({ method: 'GET', url: '/drops' })).statusCode, 500);
    assert.equal((await bare.inject({ method: 'GET', url: '/coerces' })).statusCode, 500);
  } finally {
    process.stderr.write = write;
  }
  assert.match(written.join(''), /GET \/drops 200 changed the answer/);
  assert.match(written.join(''), /GET \/coerces 200 changed the answer/);
  const kept = await bare.inject({ method: 'GET', url: '/keeps' });
  assert.equal(kept.statusCode, 200);
  assert.deepEqual(kept.json(), { a: 1 });
  await bare.close();
});
