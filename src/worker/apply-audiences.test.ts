/**
 * Audiences through a whole Herald (API and worker roles in one process): the worker's
 * audiences.apply consumer applies what the API accepted, and an upload streamed over a real
 * socket in small pieces is applied exactly; on JetStream (skipped without a NATS server, except
 * under CI), a change whose job was lost is applied once the reconciler gives it one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestHerald, eventually, type TestHerald } from '../../test/support/herald.js';
import { testClock } from '../../test/support/clock.js';
import { deleteStreams, jetStreamProblem, sharedNatsUrl } from '../../test/support/jetstream/nats.js';
import { uuidv7 } from '../domain/ids.js';

const ci = Boolean(process.env.CI);

const applied = (h: TestHerald, audienceId: string, token: string) => eventually(async () => {
  const r = await h.call('GET', `/v1/audiences/${audienceId}/indexing/${token}`);
  return r.body.state === 'applied' || undefined;
}, 60_000, `indexing token ${token} applied`);

test('the worker applies accepted changes in order; a 300,000-id upload streamed over a socket is applied exactly', { timeout: 120_000 }, async () => {
  // One Herald at a time in this file: each holds a pool of database connections.
  const h = await startTestHerald({ sandbox: false });
  try {
    const created = await h.call('POST', '/v1/audiences', { name: 'streamed' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const a = created.body.id as string;
    const add = await h.call('POST', `/v1/audiences/${a}/members`, { add: ['keep', 'drop'] });
    const remove = await h.call('POST', `/v1/audiences/${a}/members`, { remove: ['drop'] });
    assert.equal(add.status, 202, JSON.stringify(add.body));
    await applied(h, a, remove.body.indexing_token);
    await applied(h, a, add.body.indexing_token);
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
    await applied(h, a, answer.indexing_token);
    const done = performance.now();
    const [row] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from audience_members where audience_id = ${a}`;
    assert.equal(row!.n, total + 1);
    console.log(`# ${total} ids over a socket: 202 after ${Math.round(accepted - started)} ms, applied ${Math.round(done - accepted)} ms later`);
  } finally {
    await h.close();
  }
});

// The same on JetStream, where a job can be lost after its commit (nats-server 2.9 acks before
// fsync): an audience change whose job never arrives is applied once the reconciler gives it one.
const natsMissing = await jetStreamProblem(sharedNatsUrl);
test('on JetStream a change is applied, and one whose job was lost is applied after the reconciler\'s grace period', {
  timeout: 120_000, skip: natsMissing && !ci ? `${natsMissing}; start \`nats-server -js\` or set NATS_URL` : false,
}, async () => {
  assert.equal(natsMissing, undefined, natsMissing);
  const clock = testClock();
  const prefix = 'herald_test_' + randomBytes(4).toString('hex');
  const js = await startTestHerald({
    sandbox: false, overrides: { clock },
    env: { NATS_URL: sharedNatsUrl, HERALD_NATS_STREAM_PREFIX: prefix, HERALD_RECONCILE_AFTER: '60' },
  });
  try {
    const a = (await js.call('POST', '/v1/audiences', { name: 'on jetstream' })).body.id as string;
    const accepted = await js.call('POST', `/v1/audiences/${a}/members`, { add: ['j1', 'j2'] });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    await eventually(async () => (await js.call('GET', `/v1/audiences/${a}/indexing/${accepted.body.indexing_token}`)).body.state === 'applied' || undefined,
      30_000, 'the change applied through JetStream');
    // A change committed whose job is gone: stored as the API stores it, with no job.
    const lost = uuidv7(clock.now());
    await js.db.sql`insert into audience_changes (id, project_id, audience_id, kind, custom_ids, id_count, created_at)
      values (${lost}, ${js.project.project_id}, ${a}, 'remove', ${['j1']}, 1, ${new Date(clock.now())})`;
    clock.advance(130_000);
    await eventually(async () => {
      clock.advance(15_000); // the reconciler sweeps every quarter of its grace period, on the clock
      return (await js.call('GET', `/v1/audiences/${a}/indexing/${lost}`)).body.state === 'applied' || undefined;
    }, 60_000, 'the lost change applied');
    const [row] = await js.db.sql<{ ids: string[] }[]>`select array_agg(custom_id order by custom_id) as ids from audience_members where audience_id = ${a}`;
    assert.deepEqual(row!.ids, ['j2']);
  } finally {
    await js.close();
    await deleteStreams(sharedNatsUrl, prefix).catch(() => undefined);
  }
});
