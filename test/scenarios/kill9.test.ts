/**
 * The promise under kill -9: while a client sends 2,000 messages with idempotency keys and retries
 * every failed call, the Herald process is killed at random moments and restarted. Afterwards every
 * message that got a 202 is delivered at the simulator, none twice: all copies a crash may have
 * caused carry one apns-id and one apns-collapse-id, so the device shows it once. It runs on the
 * queue the environment names: PostgreSQL's, or JetStream when NATS_URL is set (as in CI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase } from '../support/database.js';
import { freePort, spawnHerald, testStreamPrefix, type HeraldProcess } from '../support/process.js';
import { deleteStreams } from '../support/jetstream/nats.js';
import { eventually } from '../support/herald.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createProject } from '../../src/store/projects.js';
import { testMasterKey } from '../support/keyring.js';

const messages = 2_000;
const clientConcurrency = 16;
const kills = 5;

test('kill -9 at random moments loses no accepted message and shows none twice', { timeout: 300_000 }, async (t) => {
  const db = await testDatabase();
  const sandbox = await startSandbox({ port: 0, log: silentLogger() });
  const port = await freePort();
  const args = ['--port', String(port), '--database-url', db.url, '--sandbox-url', sandbox.inspectionUrl];
  const masterKey = testMasterKey();
  const env = { HERALD_MASTER_KEY: masterKey.text };
  let herald: HeraldProcess = await spawnHerald(args, env);
  const project = await createProject(db.sql, 'kill9', masterKey.keyring);
  const url = herald.url;

  const tokenOf = (i: number) => i.toString(16).padStart(64, '0');
  const accepted = new Map<number, string>(); // message index → message_id
  let failedCalls = 0;

  const sendOne = async (i: number): Promise<void> => {
    const body = JSON.stringify({
      group_id: 'kill9',
      recipients: { tokens: [{ platform: 'ios', token: tokenOf(i) }] },
      push: { title: 'n' + i, body: 'kill -9 proof' },
    });
    for (;;) {
      try {
        const res = await fetch(url + '/v1/transactional/send', {
          method: 'POST',
          headers: { authorization: `Bearer ${project.rest_key}`, 'content-type': 'application/json', 'idempotency-key': 'k' + i },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        const answer = (await res.json()) as { message_id?: string };
        if (res.status === 202 && answer.message_id) {
          const before = accepted.get(i);
          assert.ok(!before || before === answer.message_id, `key k${i} answered two message ids`);
          accepted.set(i, answer.message_id);
          return;
        }
        failedCalls++;
      } catch {
        failedCalls++; // the process was killed mid-call: retry, as any client would
      }
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  };

  let next = 0;
  const client = Promise.all(
    Array.from({ length: clientConcurrency }, async () => {
      while (next < messages) await sendOne(next++);
    }),
  );
  const killer = (async () => {
    for (let k = 0; k < kills; k++) {
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 1_200));
      await herald.kill9();
      herald = await spawnHerald(args, env);
    }
  })();
  await Promise.all([client, killer]);

  try {
    assert.equal(accepted.size, messages);
    const ids = [...accepted.values()];
    const [stored] = await db.sql<{ n: number }[]>`select count(*)::int as n from messages where id = any(${ids}::uuid[])`;
    assert.equal(stored?.n, messages, 'every accepted message is stored');
    const [all] = await db.sql<{ n: number }[]>`select count(*)::int as n from messages`;
    assert.equal(all?.n, messages, 'no retried call made a second message');

    await eventually(async () => {
      const [sent] = await db.sql<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'sent'`;
      return sent?.n === messages ? true : undefined;
    }, 180_000, `all ${messages} deliveries sent`).catch(async (err: Error) => {
      // The evidence for a failure: where the rest of the work is.
      const deliveries = await db.sql`select status, reason, attempts, count(*)::int as n from deliveries
                                      group by 1, 2, 3 order by 4 desc limit 10`;
      const jobs = await db.sql`select topic, attempts, last_error, run_at > now() as later, count(*)::int as n from jobs
                                group by 1, 2, 3, 4 order by 5 desc limit 10`;
      const outbox = await db.sql`select topic, count(*)::int as n from job_outbox group by 1`;
      const dead = await db.sql`select topic, attempts, last_error, count(*)::int as n from dead_jobs group by 1, 2, 3 limit 10`;
      const [unfanned] = await db.sql`select count(*)::int as n from messages where fanned_out_at is null`;
      throw new Error(`${err.message}\ndeliveries: ${JSON.stringify(deliveries)}\njobs: ${JSON.stringify(jobs)}\n` +
        `outbox: ${JSON.stringify(outbox)}\ndead jobs: ${JSON.stringify(dead)}\n` +
        `messages not fanned out: ${unfanned?.n}\nlast Herald output:\n${herald.output().slice(-3000)}`);
    });

    const res = await fetch(`${sandbox.inspectionUrl}/_sandbox/deliveries?channel=apns&limit=10000`);
    const records = (await res.json()) as { target: string; headers: Record<string, string> }[];
    const byToken = new Map<string, { apnsIds: Set<string>; collapseIds: Set<string>; copies: number }>();
    for (const r of records) {
      const e = byToken.get(r.target) ?? { apnsIds: new Set(), collapseIds: new Set(), copies: 0 };
      e.apnsIds.add(r.headers['apns-id']!);
      e.collapseIds.add(r.headers['apns-collapse-id']!);
      e.copies++;
      byToken.set(r.target, e);
    }
    let resent = 0;
    for (let i = 0; i < messages; i++) {
      const e = byToken.get(tokenOf(i));
      assert.ok(e, `message ${i} (accepted as ${accepted.get(i)}) never reached the simulator`);
      assert.equal(e.apnsIds.size, 1, `message ${i} was sent under ${e.apnsIds.size} apns-ids`);
      assert.equal(e.collapseIds.size, 1, `message ${i} was sent under ${e.collapseIds.size} collapse ids`);
      resent += e.copies - 1;
    }
    assert.equal(byToken.size, messages, 'nothing unexpected reached the simulator');
    t.diagnostic(`${kills} kills, ${failedCalls} failed calls retried, ${resent} re-sends after a crash (same apns-id)`);
  } finally {
    await herald.stop();
    await sandbox.close();
    await db.close();
    if (process.env.NATS_URL) await deleteStreams(process.env.NATS_URL, testStreamPrefix);
  }
});
