/**
 * Every route of /openapi.json, fuzzed from its declaration: fast-check builds hostile path
 * parameters, query strings, bodies and content types (wrong types, huge and deeply nested values,
 * NUL and lone surrogates, `__proto__` keys, numbers out of range, truncated and non-JSON bodies,
 * bad lengths), and every answer must be a 2xx or a 4xx in the error shape with a code from the
 * catalogue: never a 5xx, never a dropped connection. A 4xx changes nothing: the row count of every
 * table is the same before and after it.
 *
 * Then every route is called with another project's keys and that project's ids: it never answers
 * with the other project's data, and the other project's rows are unchanged.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eventually, startTestHerald, type TestHerald } from '../support/herald.js';
import { createProject, type CreatedProject } from '../../src/store/projects.js';
import { errorCatalogue } from '../../src/api/errors.js';
import { identityToken } from '../../src/domain/identity-token.js';

interface Operation {
  method: string;
  path: string;
  hasBody: boolean;
  query: string[];
}

let h: TestHerald;
let ops: Operation[];
let other: CreatedProject;
before(async () => {
  h = await startTestHerald();
  const spec = (await (await fetch(h.url + '/openapi.json')).json()) as {
    paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { in: string; name: string }[] }>>;
  };
  ops = Object.entries(spec.paths).flatMap(([path, methods]) => Object.entries(methods)
    .filter(([m]) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))
    .map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      hasBody: op.requestBody !== undefined,
      query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
    })));
  other = await createProject(h.db.sql, 'other', h.keyring);
});
after(async () => { await h?.close(); });

/** The row count of every table of Herald's schema, in one statement. */
async function tableCounts(): Promise<Record<string, number>> {
  const tables = await h.db.sql<{ name: string }[]>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition order by 1`;
  const [row] = await h.db.sql.unsafe(`select ${tables.map((t) => `(select count(*)::int from "${t.name}") as "${t.name}"`).join(', ')}`);
  return row as Record<string, number>;
}

const nul = '\u0000';
const loneSurrogate = '\ud800';
const hostileText = fc.oneof(
  fc.constantFrom('', nul, `a${nul}b`, loneSurrogate, `x${loneSurrogate}`, '\udc00', '__proto__', 'constructor', '../../etc/passwd',
    '%00', '%zz', '%ED%A0%80', 'x'.repeat(9000), '\r\nX-Injected: 1', '😀'.repeat(300), ' ', '\u202e'),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileText,
    fc.constantFrom(0, -1, 2 ** 53, -(2 ** 63), 1e308, 0.5, true, false, null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(hostileText, fc.constantFrom('__proto__', 'constructor', 'prototype')), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** Bodies as the wire carries them: hostile JSON, and text that is not JSON at all. */
const hostileBody = fc.oneof(
  hostileValue.map((v) => JSON.stringify(v) ?? 'null'),
  fc.constantFrom(
    '{', '{"a":', '[', 'nul', '{"a":1e309}', '{"n":-1e400}', '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"x":1}}}',
    '{"a":"\\u0000"}', '{"a":"\\ud800"}', '{"\\u0000":1}', `{"deep":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    '['.repeat(100_000) + ']'.repeat(100_000), `{"big":"${'x'.repeat(1_100_000)}"}`, '\u0000\u0001\u0002', '\ufeff{}',
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
const contentType = fc.constantFrom('application/json', 'application/json; charset=latin1', 'text/plain',
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/x-ndjson', undefined);

const codes = new Set(Object.keys(errorCatalogue));

/** A request as fetch sends it, with the status and parsed body it got. */
async function send(method: string, url: string, o: { body?: string; type?: string | undefined; key?: string; lengthLies?: boolean }) {
  const headers: Record<string, string> = { authorization: `Bearer ${o.key ?? h.project.rest_key}` };
  if (o.type) headers['content-type'] = o.type;
  const withBody = o.body !== undefined && method !== 'GET' && method !== 'HEAD';
  const res = await fetch(url, { method, headers, body: withBody ? o.body : undefined });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: body as { error?: { code?: string } } | string };
}

/** Percent-encoded as a client would send it; a lone surrogate (which encodeURIComponent refuses) goes as the bytes a lax client sends. */
const encode = (v: string) => {
  try { return encodeURIComponent(v); } catch { return encodeURIComponent(v.replace(/[\ud800-\udfff]/g, '')) + '%ED%A0%80'; }
};
const fill = (path: string, value: string) => path.replace(/\{[^}]+\}/g, () => encode(value));

test('every route answers hostile input with a 2xx or a 4xx in the error shape, and a 4xx changes nothing', { timeout: 600_000 }, async () => {
  assert.ok(ops.length >= 30, `the spec lists ${ops.length} operations`);
  for (const op of ops) {
    await fc.assert(
      fc.asyncProperty(hostileText, fc.option(hostileBody, { nil: undefined }), contentType, fc.dictionary(fc.constantFrom(...op.query, 'x'), hostileText, { maxKeys: 3 }),
        async (param, body, type, query) => {
          const qs = new URLSearchParams(Object.entries(query)).toString();
          const url = h.url + fill(op.path, param) + (qs ? `?${qs}` : '');
          const before = await tableCounts();
          const r = await send(op.method, url, { body: op.hasBody ? body : undefined, type: op.hasBody ? type : undefined });
          // Work a 2xx accepted (a bulk import of hostile lines, a send) finishes before the next
          // call's row counts are taken: a job is deleted only after its effects are committed.
          if (r.status < 300) await eventually(async () => (await h.db.sql`select 1 from jobs limit 1`).length === 0, 30_000, `the work of ${op.method} ${op.path} done`);
          const where = `${op.method} ${op.path} param=${JSON.stringify(param).slice(0, 80)} type=${type} body=${String(body).slice(0, 120)}`;
          assert.ok(r.status < 500, `${r.status} for ${where}: ${JSON.stringify(r.body).slice(0, 300)}`);
          if (r.status >= 400) {
            const code = typeof r.body === 'object' ? r.body.error?.code : undefined;
            assert.ok(code && codes.has(code), `${r.status} without a catalogued error.code for ${where}: ${JSON.stringify(r.body).slice(0, 200)}`);
            assert.deepEqual(await tableCounts(), before, `a ${r.status} changed stored rows: ${where}`);
          }
        }),
      { numRuns: 20 },
    );
  }
});

test('another project\'s keys never see or change this project\'s data, on any route', { timeout: 300_000 }, async () => {
  // This project's data, named by the ids another project could try.
  const alice = 'alice-cross';
  const mine = h.project;
  const send202 = await h.call('POST', '/v1/transactional/send', { group_id: 'g', recipients: { emails: ['alice@example.com'] }, email: { subject: 's', text: 't' } });
  assert.equal(send202.status, 202);
  const messageId = send202.body.message_id as string;
  const put = await h.call('PUT', `/v1/profiles/${alice}`, { email: 'alice@example.com' });
  assert.ok(put.status < 300, JSON.stringify(put.body));
  const update = await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: alice }, attributes: { plan: 'gold' } }]);
  assert.ok(update.status < 300, JSON.stringify(update.body));
  // This project's own work finishes first, so that only the other project's calls could change its rows.
  await eventually(async () => {
    const [m] = await h.db.sql<{ done: boolean }[]>`
      select fanned_out_at is not null and not exists (
        select 1 from deliveries d where d.message_id = m.id and d.status in ('queued', 'sending')) as done
      from messages m where id = ${messageId}`;
    return m?.done;
  }, 30_000, 'this project\'s message delivered');
  const [key] = await h.db.sql<{ id: string }[]>`select id from api_keys where project_id = ${mine.project_id} and kind = 'sdk'`;
  const ids = [messageId, alice, key!.id, 'alice@example.com', 'apns', 'fcm', 'webpush', 'smtp', 'sms', mine.project_id];
  const secrets = [messageId, 'alice@example.com', mine.rest_key, mine.sdk_key, mine.project_id, 'gold'];

  const snapshot = async () => {
    const tables = await h.db.sql<{ table_name: string }[]>`
      select table_name from information_schema.columns where table_schema = 'public' and column_name = 'project_id' order by 1`;
    const out: Record<string, string> = {};
    for (const { table_name } of tables) {
      const [r] = await h.db.sql.unsafe(`select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) as h from "${table_name}" t where project_id = $1`, [mine.project_id]);
      out[table_name] = (r as unknown as { h: string }).h;
    }
    return out;
  };
  const before = await snapshot();
  const theirs = { rest: other.rest_key, sdk: other.sdk_key };
  for (const op of ops) {
    for (const id of ids) {
      for (const key of [theirs.rest, theirs.sdk]) {
        const bodies = op.hasBody
          ? [JSON.stringify({ custom_id: alice, install_id: 'i', platform: 'ios', identity_token: identityToken('hrld_ident_not-the-secret', alice), address: 'alice@example.com' }), '{}']
          : [undefined];
        for (const body of bodies) {
          const r = await send(op.method, h.url + fill(op.path, id), { body, type: 'application/json', key });
          assert.ok(r.status < 500, `${r.status} for ${op.method} ${op.path} with ${id}`);
          if (r.status < 300) {
            const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
            for (const s of secrets) {
              // The public SDK assets are the same for everyone; what the request itself carried may be echoed.
              if (op.path.startsWith('/sdk/') || id === s || body?.includes(s)) continue;
              assert.ok(!text.includes(s), `${op.method} ${op.path} with another project's key answered this project's ${s}`);
            }
          }
        }
      }
    }
  }
  assert.deepEqual(await snapshot(), before, 'another project\'s calls changed this project\'s rows');
});
