/**
 * Trigger automations across real Herald processes (`herald start --role api` and `--role
 * scheduler`, which runs the automation loop) on one database: 2,000 events enter 2,000 journeys
 * of send, wait, send; the scheduler is killed with SIGKILL while the steps run, twice, and started
 * again. Afterwards every journey has completed, and every profile got exactly its two messages:
 * no step lost, none sent twice, and the counts say the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase } from './support/database.js';
import { freePort, spawnHerald, testStreamPrefix, type HeraldProcess } from './support/process.js';
import { deleteStreams } from './support/jetstream/nats.js';
import { eventually } from './support/eventually.js';
import { testMasterKey } from './support/keyring.js';
import { createProject } from '../src/store/projects.js';

const n = 2_000;

test('kill -9 of the scheduler while journeys run loses no step and sends none twice', { timeout: 600_000 }, async (t) => {
  const db = await testDatabase();
  const masterKey = testMasterKey();
  const project = await createProject(db.sql, 'automation-kill9', masterKey.keyring);
  const common = ['--database-url', db.url];
  const env = { HERALD_MASTER_KEY: masterKey.text };
  const port = await freePort();
  const api = await spawnHerald(['--role', 'api', '--port', String(port), ...common], env, { readyTimeoutMs: 120_000 });
  const startScheduler = () => spawnHerald(['--role', 'scheduler', ...common], env, { readyLog: 'scheduler running', readyTimeoutMs: 120_000 });
  let scheduler: HeraldProcess | undefined;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(api.url + path, {
      method, headers: { authorization: `Bearer ${project.rest_key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(60_000),
    });
    return { status: res.status, body: await res.json() as any };
  };
  const sent = async () => Number((await db.sql<{ n: number }[]>`select count(*)::int as n from messages where group_id like 'automation:%'`)[0]!.n);
  try {
    const created = await call('POST', '/v1/automations', {
      name: 'kill -9', start: true, definition: {
        trigger: { type: 'event', event: 'signup' },
        steps: [
          { id: 'welcome', type: 'send', channels: ['email'], content: { email: { subject: 'Welcome {{ event.attributes.n }}', text: 't' } } },
          { id: 'wait', type: 'wait', duration: { seconds: 2 } },
          { id: 'again', type: 'send', channels: ['email'], content: { email: { subject: 'Again', text: 't' } } },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    // The events go in with no automation loop running: they wait, kept, for the scheduler.
    for (let from = 0; from < n; from += 200) {
      const ops = Array.from({ length: 200 }, (_, k) => ({
        identifiers: { custom_id: `p${from + k}` }, attributes: { $email: `p${from + k}@example.com` },
        events: [{ id: `signup-${from + k}`, name: 'signup', attributes: { n: from + k } }],
      }));
      const r = await call('POST', '/v1/profiles/update', ops);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    scheduler = await startScheduler();
    for (const at of [n / 2, n + n / 4]) {
      await eventually(async () => (await sent()) >= at, 240_000, `${at} messages sent`);
      await scheduler.kill9();
      const atKill = await sent();
      t.diagnostic(`scheduler killed with ${atKill} of ${2 * n} messages sent`);
      assert.ok(atKill < 2 * n, 'the kill came after the work had ended: nothing was proved');
      scheduler = await startScheduler();
    }
    await eventually(async () => {
      const [r] = await db.sql<{ n: number }[]>`select count(*)::int as n from automation_journeys where state = 'completed'`;
      return r!.n === n;
    }, 300_000, 'every journey completed');
    const perProfile = await db.sql<{ custom_id: string; n: number; welcome: number }[]>`
      select recipients -> 'custom_ids' ->> 0 as custom_id, count(*)::int as n,
             count(*) filter (where content -> 'email' ->> 'subject' like 'Welcome %')::int as welcome
        from messages where group_id = ${`automation:${id}`} group by 1`;
    assert.equal(perProfile.length, n, 'every profile got messages');
    const wrong = perProfile.filter((p) => p.n !== 2 || p.welcome !== 1);
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} profiles did not get exactly their two messages`);
    const counts = (await call('GET', `/v1/automations/${id}`)).body.counts;
    assert.equal(counts.entered, n);
    assert.equal(counts.completed, n);
    assert.equal(counts.active, 0);
    const byStep = Object.fromEntries(counts.steps.map((s: { step: string }) => [s.step, s]));
    assert.equal(byStep.welcome.sent, n);
    assert.equal(byStep.again.sent, n);
    assert.equal(byStep.wait.waiting, 0);
    const [inbox] = await db.sql<{ n: number }[]>`select count(*)::int as n from automation_inbox`;
    assert.equal(inbox!.n, 0);
  } finally {
    await Promise.all([api.stop(), scheduler?.stop()]);
    await db.close();
    if (process.env.NATS_URL) await deleteStreams(process.env.NATS_URL, testStreamPrefix);
  }
});
