/**
 * Audiences through a whole Herald (API and worker roles in one process): the worker's
 * audiences.apply consumer applies what the API accepted, and an upload streamed over a real
 * socket in small pieces is applied exactly.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald, eventually, type TestHerald } from '../../test/support/herald.js';

let h: TestHerald;
before(async () => { h = await startTestHerald({ sandbox: false }); });
after(async () => { await h.close(); });

const applied = (audienceId: string, token: string) => eventually(async () => {
  const r = await h.call('GET', `/v1/audiences/${audienceId}/indexing/${token}`);
  return r.body.state === 'applied' || undefined;
}, 60_000, `indexing token ${token} applied`);

test('the worker applies accepted changes in order; a 300,000-id upload streamed over a socket is applied exactly', { timeout: 120_000 }, async () => {
  const created = await h.call('POST', '/v1/audiences', { name: 'streamed' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const a = created.body.id as string;
  const add = await h.call('POST', `/v1/audiences/${a}/members`, { add: ['keep', 'drop'] });
  const remove = await h.call('POST', `/v1/audiences/${a}/members`, { remove: ['drop'] });
  assert.equal(add.status, 202, JSON.stringify(add.body));
  await applied(a, remove.body.indexing_token);
  await applied(a, add.body.indexing_token);
  assert.equal((await h.call('GET', `/v1/audiences/${a}`)).body.member_count, 1);

  const total = 300_000;
  const encoder = new TextEncoder();
  let i = 0;
  // Pieces of 500 lines, so chunk and line boundaries fall anywhere in the network reads.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i >= total) return controller.close();
      let s = '';
      for (const end = Math.min(total, i + 500); i < end; i++) s += `{"custom_id":"s${i}"}\n`;
      controller.enqueue(encoder.encode(s));
    },
  });
  const started = performance.now();
  const res = await fetch(`${h.url}/v1/audiences/${a}/uploads?mode=add`, {
    method: 'POST', body, duplex: 'half',
    headers: { authorization: `Bearer ${h.project.rest_key}`, 'content-type': 'application/x-ndjson' },
  } as RequestInit);
  const answer = (await res.json()) as { indexing_token: string; total_ids: number };
  assert.equal(res.status, 202, JSON.stringify(answer));
  const accepted = performance.now();
  assert.equal(answer.total_ids, total);
  await applied(a, answer.indexing_token);
  const done = performance.now();
  const [row] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from audience_members where audience_id = ${a}`;
  assert.equal(row!.n, total + 1);
  console.log(`# ${total} ids over a socket: 202 after ${Math.round(accepted - started)} ms, applied ${Math.round(done - accepted)} ms later`);
});
