import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';
import { createPostgresQueue } from '../../queue/postgres/queue.js';
import { silentLogger } from '../../observability/logger.js';
import { applyChunk, pendingChunks } from '../../store/import-jobs.js';
import { importHandler } from '../../worker/import-profiles.js';
import { topics } from '../../worker/topics.js';

// The API alone: no worker runs, so each test drives the import job itself through the real queue.
let h: TestHerald;
before(async () => { h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api' } }); });
after(async () => { await h.close(); });

const bad = new Map<number, string>([
  [7, 'not json at all'],
  [1234, JSON.stringify({ identifiers: { custom_id: 'x' }, attributes: { $email: 'nope' } })],
  [40_000, JSON.stringify({ identifiers: {} })],
]);

/** Line n (1-based): a valid operation with an event without id (so a chunk applied twice would show). */
function line(n: number, tag: string): string {
  return bad.get(n) ?? JSON.stringify({ identifiers: { custom_id: `${tag}-${n % 5000}` }, attributes: { n }, events: [{ name: 'imported' }] });
}

/** Streams `count` lines in many small pieces, so lines straddle network chunks. */
async function upload(count: number, tag: string): Promise<{ status: number; body: any }> {
  async function* body() {
    let piece = '';
    for (let n = 1; n <= count; n++) {
      piece += line(n, tag) + '\n';
      if (piece.length > 3000) {
        yield piece.slice(0, 1500);
        yield piece.slice(1500);
        piece = '';
      }
    }
    yield piece;
  }
  const res = await fetch(h.url + '/v1/profiles/bulk', {
    method: 'POST',
    headers: { authorization: `Bearer ${h.project.rest_key}`, 'content-type': 'application/x-ndjson' },
    body: Readable.toWeb(Readable.from(body())) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, body: await res.json() };
}

async function count(sqlText: string, tag: string): Promise<number> {
  const [r] = await h.db.sql.unsafe(sqlText, [tag + '-%']);
  return (r as unknown as { n: number }).n;
}

test('50,000 streamed lines with a few bad ones: 202, then every chunk applied once, errors per line', async () => {
  const r = await upload(50_000, 'big');
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.total_lines, 50_000);
  const queued = await h.call('GET', `/v1/jobs/${r.body.job_id}`);
  assert.equal(queued.body.state, 'queued');
  assert.equal(queued.body.processed_lines, 0);

  // Slices of one chunk each (sliceMs 0): every slice enqueues the next and acks, as a long import
  // does every 15 s; the import finishes through 50 jobs with each chunk applied once.
  const queue = createPostgresQueue({ sql: h.db.sql, log: silentLogger(), maxAttempts: 5 });
  let slices = 0;
  try {
    for (;;) {
      const jobs = await queue.claim(topics.importProfiles, { max: 1, leaseMs: 60_000, waitMs: 0 });
      if (!jobs.length) break;
      slices++;
      await importHandler({ sql: h.db.sql, queue, sliceMs: 0 })(jobs);
      if (slices === 1) assert.equal((await h.call('GET', `/v1/jobs/${r.body.job_id}`)).body.state, 'running');
    }
  } finally {
    await queue.close();
  }
  assert.equal(slices, 50, 'one slice per chunk of 1,000 lines');
  const done = await h.call('GET', `/v1/jobs/${r.body.job_id}`);
  assert.equal(done.body.state, 'done');
  assert.equal(done.body.processed_lines, 50_000);
  assert.equal(done.body.failed_lines, 3);
  assert.deepEqual(done.body.errors.map((e: { line: number; field: string }) => [e.line, e.field]),
    [[7, 'line'], [1234, 'attributes.$email'], [40_000, 'identifiers.custom_id']]);
  assert.equal(done.body.errors_truncated, false);
  assert.equal(await count(`select count(*)::int as n from events where custom_id like $1`, 'big'), 50_000 - 3);
  assert.equal(await count(`select count(*)::int as n from profiles where custom_id like $1`, 'big'), 5000);
  const sample = await h.call('GET', '/v1/profiles/big-42');
  assert.deepEqual(sample.body.profile.attributes, { n: 45_042 }, 'the last line for a profile wins');
  const [left] = await h.db.sql`select count(*)::int as n from import_chunks where import_id = ${r.body.job_id} and body <> ''`;
  assert.equal(left!.n, 0, 'applied chunks keep no personal data');
});

test('a worker that dies mid-import, inside a chunk, loses nothing and applies no chunk twice', async () => {
  const r = await upload(5_500, 'crash');
  assert.equal(r.status, 202);
  const id = r.body.job_id as string;
  const queue = createPostgresQueue({ sql: h.db.sql, log: silentLogger(), maxAttempts: 5 });
  try {
    const [first] = await queue.claim(topics.importProfiles, { max: 1, leaseMs: 300, waitMs: 0 });
    assert.ok(first);
    // The first worker applies two chunks, then dies inside the third chunk's transaction, unacked.
    const chunks = await pendingChunks(h.db.sql, id);
    assert.equal(chunks.length, 6);
    await applyChunk(h.db.sql, id, chunks[0]!);
    await applyChunk(h.db.sql, id, chunks[1]!);
    await assert.rejects(applyChunk(h.db.sql, id, chunks[2]!, { beforeCommit: async () => { throw new Error('killed'); } }));
    const mid = await h.call('GET', `/v1/jobs/${id}`);
    assert.equal(mid.body.state, 'running');
    assert.equal(mid.body.processed_lines, 2000);

    // Its lease runs out; the job is handed out again and finishes the rest.
    let again: Awaited<ReturnType<typeof queue.claim>> = [];
    for (let i = 0; i < 100 && !again.length; i++) {
      again = await queue.claim(topics.importProfiles, { max: 1, leaseMs: 60_000, waitMs: 100 });
    }
    assert.equal(again[0]?.id, first.id);
    assert.equal(again[0]?.attempt, 2);
    await importHandler({ sql: h.db.sql, queue, sliceMs: Infinity })(again);
    // The first worker's chunk calls replayed late change nothing.
    assert.equal(await applyChunk(h.db.sql, id, chunks[0]!), false);
  } finally {
    await queue.close();
  }
  const done = await h.call('GET', `/v1/jobs/${id}`);
  assert.equal(done.body.state, 'done');
  assert.equal(done.body.processed_lines, 5_500);
  assert.equal(done.body.failed_lines, 2);
  assert.equal(await count(`select count(*)::int as n from events where custom_id like $1`, 'crash'), 5_500 - 2);
});

test('bulk refusals: not NDJSON, empty, a line over 64 KiB; an unknown job is a 404', async () => {
  const json = await h.call('POST', '/v1/profiles/bulk', [{ identifiers: { custom_id: 'x' } }]);
  assert.equal(json.status, 415);
  const empty = await h.call('POST', '/v1/profiles/bulk', '', { 'content-type': 'application/x-ndjson' });
  assert.equal(empty.status, 400);
  const [before] = await h.db.sql`select count(*)::int as n from import_jobs`;
  const long = await h.call('POST', '/v1/profiles/bulk', line(1, 'l') + '\n' + 'x'.repeat(70_000) + '\n', { 'content-type': 'application/x-ndjson' });
  assert.equal(long.status, 400);
  assert.match(long.body.error.message, /line 2/);
  const [after] = await h.db.sql`select count(*)::int as n from import_jobs`;
  assert.equal(after!.n, before!.n, 'a refused upload leaves no import behind');
  assert.equal((await h.call('GET', '/v1/jobs/00000000-0000-7000-8000-000000000000')).body.error.code, 'import_job_not_found');
  assert.equal((await h.call('GET', '/v1/jobs/nope')).status, 404);
});

test('a raw 0x00 byte in a line is a 400 naming the line, and leaves no import behind', async () => {
  const [before] = await h.db.sql`select count(*)::int as n from import_jobs`;
  const body = line(1, 'nul') + '\n' + JSON.stringify({ identifiers: { custom_id: 'nul-x' } }).replace('nul-x', 'nul-\u0000') + '\n';
  assert.ok(Buffer.from(body).includes(0));
  const r = await h.call('POST', '/v1/profiles/bulk', body, { 'content-type': 'application/x-ndjson' });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'invalid_field');
  assert.match(r.body.error.message, /^line 2 contains the byte 0x00/);
  const [after] = await h.db.sql`select count(*)::int as n from import_jobs`;
  assert.equal(after!.n, before!.n);
});

test('escaped text PostgreSQL cannot store, or a number that overflows, fails its line only; the chunk is applied', async () => {
  const lines = [
    line(1, 'esc'),
    '{"identifiers":{"custom_id":"esc-bad-1"},"colour\\u0000":1}',
    '{"identifiers":{"custom_id":"esc-bad-2"},"attributes":{"a\\u0000b":"x"}}',
    '{"identifiers":{"custom_id":"esc-bad-3"},"attributes":{"name":"x\\ud800"}}',
    '{"identifiers":{"custom_id":"esc-bad-4"},"events":[{"name":"e","attributes":{"n":1e309}}]}',
    line(6, 'esc'),
  ];
  const r = await h.call('POST', '/v1/profiles/bulk', lines.join('\n'), { 'content-type': 'application/x-ndjson' });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const id = r.body.job_id as string;
  for (const chunk of await pendingChunks(h.db.sql, id)) assert.equal(await applyChunk(h.db.sql, id, chunk), true);
  const done = await h.call('GET', `/v1/jobs/${id}`);
  assert.equal(done.body.state, 'done');
  assert.equal(done.body.failed_lines, 4);
  assert.deepEqual(done.body.errors.map((e: { line: number; field: string; message: string }) => [e.line, e.field, e.message]), [
    [2, 'line', 'has a key that contains U+0000 or an unpaired surrogate'],
    [3, 'attributes', 'has a key that contains U+0000 or an unpaired surrogate'],
    [4, 'attributes.name', 'must not contain U+0000 or an unpaired surrogate'],
    [5, 'events[0].attributes.n', 'must be a finite number (this one overflows a double)'],
  ]);
  assert.equal(await count(`select count(*)::int as n from profiles where custom_id like $1`, 'esc'), 2);
  assert.equal(await count(`select count(*)::int as n from profiles where custom_id like $1`, 'esc-bad'), 0);
});
