/**
 * Counts and caps under kill -9. 400 profiles under a transactional rule of one push a day; each
 * is sent two messages (two idempotency keys, 800 calls retried until answered) while the Herald
 * process is killed at random moments, so some are killed between the provider's acceptance of a
 * push and the commit of its outcome. Afterwards, for every profile: one push reached the device
 * (the copies a crash re-sent carry one apns-id), one delivery `sent` and one `skipped` by the
 * rule, one counted send; and the analytics counters equal those rows exactly: a crash moved no
 * count without its outcome, and no outcome without its count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase } from '../support/database.js';
import { freePort, spawnHerald, testStreamPrefix, type HeraldProcess } from '../support/process.js';
import { deleteStreams } from '../support/jetstream/nats.js';
import { eventually } from '../support/eventually.js';
import { testMasterKey } from '../support/keyring.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createProject } from '../../src/store/projects.js';

const profiles = 400;
const kills = 4;
const customIdOf = (i: number) => `p${String(i).padStart(6, '0')}`;
const tokenOf = (i: number) => i.toString(16).padStart(64, '0');

test('kill -9 during capped sends: every profile gets one push, and the counters and caps equal the outcomes', { timeout: 300_000 }, async (t) => {
  const db = await testDatabase();
  const sandbox = await startSandbox({ port: 0, log: silentLogger() });
  const masterKey = testMasterKey();
  const args = ['--port', String(await freePort()), '--database-url', db.url, '--sandbox-url', sandbox.inspectionUrl];
  const env = { HERALD_MASTER_KEY: masterKey.text };
  let herald: HeraldProcess = await spawnHerald(args, env);
  try {
    const project = await createProject(db.sql, 'kill9-counts', masterKey.keyring);
    await db.sql`
      insert into profiles (project_id, custom_id)
      select ${project.project_id}, 'p' || lpad(i::text, 6, '0') from generate_series(0, ${profiles - 1}) as i`;
    await db.sql`
      insert into installations (project_id, install_id, platform, push_token, custom_id)
      select ${project.project_id}, 'i' || i, 'ios', lpad(to_hex(i), 64, '0'), 'p' || lpad(i::text, 6, '0')
        from generate_series(0, ${profiles - 1}) as i`;
    const call = async (path: string, body: unknown, key?: string) => {
      for (let failed = 0; ; failed++) {
        try {
          const res = await fetch(herald.url + path, {
            method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000),
            headers: { authorization: `Bearer ${project.rest_key}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
          });
          if (res.status < 500) return { status: res.status, body: await res.json() as Record<string, unknown> };
        } catch { /* killed mid-call: retry, as a client does */ }
        if (failed > 200) throw new Error(`${path} never answered`);
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    };
    const rule = await call('/v1/cappings', { name: 'one push a day', scope: 'transactional', channels: ['apns'], max_sends: 1, window_amount: 1, window_unit: 'days', action: 'skip' });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));

    const sends = Array.from({ length: profiles * 2 }, (_, n) => n);
    let next = 0;
    const client = Promise.all(Array.from({ length: 16 }, async () => {
      while (next < sends.length) {
        const n = sends[next++]!;
        const i = n % profiles;
        const r = await call('/v1/transactional/send', {
          group_id: 'capped', recipients: { custom_ids: [customIdOf(i)] }, push: { title: `n${n}`, body: 'kill -9 and caps' },
        }, `k${n}`);
        assert.equal(r.status, 202, JSON.stringify(r.body));
      }
    }));
    const killer = (async () => {
      for (let k = 0; k < kills; k++) {
        await new Promise((r) => setTimeout(r, 400 + Math.random() * 1_200));
        await herald.kill9();
        herald = await spawnHerald(args, env);
      }
    })();
    await Promise.all([client, killer]);

    await eventually(async () => {
      const [left] = await db.sql<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'queued'`;
      const [unfanned] = await db.sql<{ n: number }[]>`select count(*)::int as n from messages where fanned_out_at is null`;
      return left!.n === 0 && unfanned!.n === 0 ? true : undefined;
    }, 180_000, 'every message fanned out and every delivery final');

    const [messages] = await db.sql<{ n: number }[]>`select count(*)::int as n from messages`;
    assert.equal(messages!.n, profiles * 2, 'one message per logical call');
    const perProfile = await db.sql<{ custom_id: string; sent: number; skipped: number; counted: number }[]>`
      select p.custom_id,
             (select count(*)::int from deliveries d where d.project_id = p.project_id and d.target = i.push_token and d.status = 'sent') as sent,
             (select count(*)::int from deliveries d where d.project_id = p.project_id and d.target = i.push_token and d.status = 'skipped' and d.reason like 'capped:%') as skipped,
             (select count(*)::int from capping_sends c where c.project_id = p.project_id and c.custom_id = p.custom_id) as counted
        from profiles p join installations i on i.project_id = p.project_id and i.custom_id = p.custom_id
       where p.project_id = ${project.project_id}`;
    assert.equal(perProfile.length, profiles);
    for (const p of perProfile) assert.deepEqual([p.sent, p.skipped, p.counted], [1, 1, 1], p.custom_id);

    // The device's view: one apns-id per token, whatever a crash re-sent.
    const records = await (await fetch(`${sandbox.inspectionUrl}/_sandbox/deliveries?channel=apns&limit=10000`)).json() as { target: string; headers: Record<string, string> }[];
    const ids = new Map<string, Set<string>>();
    for (const r of records) ids.set(r.target, (ids.get(r.target) ?? new Set()).add(r.headers['apns-id']!));
    assert.equal(ids.size, profiles, 'every profile reached, nobody else');
    for (let i = 0; i < profiles; i++) assert.equal(ids.get(tokenOf(i))?.size, 1, `profile ${i}: one push on the device`);

    // The counters are the rows, exactly.
    const [counters] = await db.sql<{ sent: number; skipped: number }[]>`
      select coalesce(sum(sent), 0)::int as sent, coalesce(sum(skipped), 0)::int as skipped from stats_hourly where project_id = ${project.project_id}`;
    const [byReason] = await db.sql<{ n: number }[]>`
      select coalesce(sum(skipped), 0)::int as n from stats_skips_hourly where project_id = ${project.project_id} and reason like 'capped:%'`;
    assert.deepEqual({ sent: counters!.sent, skipped: counters!.skipped, capped: byReason!.n }, { sent: profiles, skipped: profiles, capped: profiles });
    t.diagnostic(`${kills} kills; ${records.length - profiles} re-sends after a crash (same apns-id)`);
  } finally {
    await herald.stop();
    await sandbox.close();
    await db.close();
    if (process.env.NATS_URL) await deleteStreams(process.env.NATS_URL, testStreamPrefix);
  }
});
