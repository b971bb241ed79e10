/**
 * Campaigns across real Herald processes, each role its own `herald start --role …` child on one
 * database, the sandbox's FCM simulator as the provider:
 *
 * 1. A 100,000-recipient campaign while the worker, the API and the scheduler are killed with
 *    SIGKILL during its fan-out and started again: afterwards the ledger holds every profile exactly
 *    once, every recipient was sent, the simulator received each device token once, and the
 *    campaign's counts (GET /v1/campaigns/{id}) say the same.
 * 2. A campaign with a send_rate over two worker processes: the ledger's timestamps of the sent
 *    rows never exceed the bucket's allowance in any window (src/worker/campaign-send.ts, bucket()),
 *    and the send took at least what the rate implies.
 *
 * The processes run on the queue the environment names: PostgreSQL's, or JetStream when NATS_URL is
 * set (as in CI), where the API process is also the outbox relay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sql } from 'postgres';
import { testDatabase, type TestDatabase } from './support/database.js';
import { freePort, spawnHerald, testStreamPrefix, type HeraldProcess } from './support/process.js';
import { deleteStreams } from './support/jetstream/nats.js';
import { eventually } from './support/eventually.js';
import { testMasterKey } from './support/keyring.js';
import { startSandbox, type Sandbox } from '../src/sandbox/index.js';
import { silentLogger } from '../src/observability/logger.js';
import { createProject, type CreatedProject } from '../src/store/projects.js';

/** An FCM registration token (/^[A-Za-z0-9_:-]{32,1024}$/) per profile number, and its custom_id. */
const tokenOf = (i: number) => `fcm-kill9-${String(i).padStart(8, '0')}-${'x'.repeat(24)}`;
/** The worker's default concurrency (--worker-concurrency): the most provider calls one kill can cut off. */
const workerConcurrency = 500;
const customIdOf = (i: number) => `p${String(i).padStart(8, '0')}`;

/** `n` profiles, each with one android installation: two set-based inserts. */
async function seed(sql: Sql, projectId: string, n: number): Promise<void> {
  await sql`
    insert into profiles (project_id, custom_id)
    select ${projectId}, 'p' || lpad(i::text, 8, '0') from generate_series(0, ${n - 1}) as i`;
  await sql`
    insert into installations (project_id, install_id, platform, push_token, custom_id)
    select ${projectId}, 'i' || lpad(i::text, 8, '0'), 'android',
           'fcm-kill9-' || lpad(i::text, 8, '0') || '-' || repeat('x', 24), 'p' || lpad(i::text, 8, '0')
      from generate_series(0, ${n - 1}) as i`;
}

interface Deployment {
  db: TestDatabase;
  sandbox: Sandbox;
  project: CreatedProject;
  api: HeraldProcess;
  workers: HeraldProcess[];
  scheduler: HeraldProcess;
  startApi(): Promise<HeraldProcess>;
  startWorker(): Promise<HeraldProcess>;
  startScheduler(): Promise<HeraldProcess>;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** The warnings and errors the running processes logged (pino levels 40 and up), for the diagnostics. */
  problems(): string[];
  close(): Promise<void>;
}

async function deploy(o: { profiles: number; workers: number }): Promise<Deployment> {
  const db = await testDatabase();
  const sandbox = await startSandbox({ port: 0, log: silentLogger() });
  const masterKey = testMasterKey();
  const project = await createProject(db.sql, 'campaign-kill9', masterKey.keyring);
  await seed(db.sql, project.project_id, o.profiles);
  const common = ['--database-url', db.url, '--sandbox-url', sandbox.inspectionUrl];
  const env = { HERALD_MASTER_KEY: masterKey.text };
  const port = await freePort();
  // A restart lands on two busy cores with PostgreSQL under the fan-out: /readyz gives each of its
  // checks a second, so readiness may take longer than an idle start's 30 s.
  const readyTimeoutMs = 120_000;
  const startApi = () => spawnHerald(['--role', 'api', '--port', String(port), ...common], env, { readyTimeoutMs });
  // Logged just before the worker's consumers start (src/server.ts).
  const startWorker = () => spawnHerald(['--role', 'worker', ...common], env, { readyLog: 'using an external sandbox', readyTimeoutMs });
  const startScheduler = () => spawnHerald(['--role', 'scheduler', ...common], env, { readyLog: 'scheduler running', readyTimeoutMs });
  const d: Deployment = {
    db, sandbox, project,
    api: await startApi(),
    workers: [],
    scheduler: await startScheduler(),
    startApi, startWorker, startScheduler,
    async call(method, path, body) {
      const res = await fetch(d.api.url + path, {
        method,
        headers: { authorization: `Bearer ${project.rest_key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      return { status: res.status, body: await res.json() };
    },
    problems: () => ([['api', d.api], ['scheduler', d.scheduler], ...d.workers.map((w, i) => [`worker ${i + 1}`, w] as const)] as const).flatMap(([role, p]) =>
      p.output().split('\n').filter((l) => /"level":(4|5|6)0/.test(l)).map((l) => {
        try {
          const e = JSON.parse(l) as { msg: string; topic?: string; err?: { message?: string; stack?: string; where?: string } };
          const frames = e.err?.stack?.split('\n').filter((f) => f.includes('/dist/src/')).slice(0, 4).map((f) => f.trim().replace(/^at /, '')).join(' < ');
          return `${role}: ${e.msg}${e.topic ? ` [${e.topic}]` : ''}${e.err ? `: ${e.err.message}${e.err.where ? ` (${e.err.where})` : ''} at ${frames}` : ''}`;
        } catch {
          return `${role}: ${l.slice(0, 400)}`;
        }
      })),
    async close() {
      await Promise.all([d.api, d.scheduler, ...d.workers].map((p) => p.stop()));
      await sandbox.close();
      await db.close();
      if (process.env.NATS_URL) await deleteStreams(process.env.NATS_URL, testStreamPrefix);
    },
  };
  for (let i = 0; i < o.workers; i++) d.workers.push(await startWorker());
  return d;
}

/** Every record of the FCM simulator, paged through GET /_sandbox/deliveries by `since` (exclusive, in ms). */
interface FcmRecord { id: string; target: string; status: number | null; authorization: string; body_base64: string }
async function fcmRecords(sandbox: Sandbox): Promise<FcmRecord[]> {
  const byId = new Map<string, FcmRecord>();
  const limit = 10_000;
  let since: number | undefined;
  for (;;) {
    const url = `${sandbox.inspectionUrl}/_sandbox/deliveries?channel=fcm&include=rejected&limit=${limit}${since === undefined ? '' : `&since=${new Date(since).toISOString()}`}`;
    const res = await fetch(url);
    assert.equal(res.status, 200);
    const page = (await res.json()) as (FcmRecord & { received_at: string; headers: Record<string, string> })[];
    for (const r of page) byId.set(r.id, { id: r.id, target: r.target, status: r.status, authorization: r.headers.authorization ?? '', body_base64: r.body_base64 });
    if (page.length < limit) break;
    // The last millisecond of a full page may continue on the next: read it again (ids dedupe).
    const last = Date.parse(page.at(-1)!.received_at);
    assert.ok(last - 1 > (since ?? -Infinity), 'a page of the listing spans more than one millisecond');
    since = last - 1;
  }
  return [...byId.values()];
}

const ledgerCount = async (sql: Sql, campaignId: string) =>
  Number((await sql<{ n: number }[]>`select count(*)::int as n from campaign_recipients where campaign_id = ${campaignId}`)[0]!.n);

/** Once a second, the occurrence's progress: read when a run is slow, to see where it waited. */
function sampleTimeline(sql: Sql, campaignId: string, t0: number): { stop(): string } {
  const points: string[] = [];
  let on = true;
  void (async () => {
    while (on) {
      const [r] = await sql<{ targeted: number; sent: number; chain: number; outbox: number }[]>`
        select o.targeted, o.chain,
               (select count(*)::int from campaign_recipients where campaign_id = ${campaignId} and status = 'sent') as sent,
               (select count(*)::int from job_outbox where topic like 'campaign.%') as outbox
          from campaign_occurrences o where o.campaign_id = ${campaignId}`.catch(() => []);
      if (r) points.push(`${Math.round((Date.now() - t0) / 1000)}: ${r.targeted}/${r.sent} c${r.chain} j${r.outbox}`);
      await new Promise((res) => setTimeout(res, 1_000));
    }
  })();
  return { stop: () => { on = false; return points.join(', '); } };
}

/** Waits until every message is fanned out and none of its deliveries is still queued. */
const deliveriesFinal = (sql: Sql) => eventually(async () => {
  const [r] = await sql<{ unfanned: number; queued: number }[]>`
    select (select count(*)::int from messages where fanned_out_at is null) as unfanned,
           (select count(*)::int from deliveries where status = 'queued') as queued`;
  return r!.unfanned === 0 && r!.queued === 0;
}, 300_000, 'every message fanned out and every delivery final');

const sentCount = async (sql: Sql, campaignId: string) =>
  Number((await sql<{ n: number }[]>`select count(*)::int as n from campaign_recipients where campaign_id = ${campaignId} and status = 'sent'`)[0]!.n);

const campaignBody = (name: string, extra: Record<string, unknown> = {}) => ({
  name, when: { type: 'now' }, channels: ['push'],
  // Constant content: every send batch is one message.
  content: { push: { title: 'Big news', body: 'the same words for everyone' } },
  start: true, ...extra,
});

test('a 100,000-recipient campaign survives kill -9 of its worker, its API and its scheduler during the fan-out: every profile once, each device shown it once', { timeout: 600_000 }, async (t) => {
  const n = 100_000;
  const started = Date.now();
  const d = await deploy({ profiles: n, workers: 1 });
  t.diagnostic(`seeded ${n} profiles and started api, worker and scheduler in ${Date.now() - started} ms`);
  let timeline: { stop(): string } | undefined;
  try {
    const created = await d.call('POST', '/v1/campaigns', campaignBody('kill -9'));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const t0 = Date.now();
    timeline = sampleTimeline(d.db.sql, id, t0);

    // The worker, while the ledger is partly written.
    await eventually(async () => (await ledgerCount(d.db.sql, id)) >= 10_000, 120_000, 'the fan-out wrote 10,000 ledger rows');
    await d.workers[0]!.kill9();
    const atWorkerKill = await ledgerCount(d.db.sql, id);
    t.diagnostic(`worker killed with ${atWorkerKill} ledger rows written (${Date.now() - t0} ms after the start)`);
    assert.ok(atWorkerKill < n, `the worker was killed after the fan-out had ended (${atWorkerKill} rows): nothing was proved`);
    d.workers[0] = await d.startWorker();

    // The API (the outbox relay on JetStream) and the scheduler, while the fan-out goes on.
    await eventually(async () => (await ledgerCount(d.db.sql, id)) >= atWorkerKill + 10_000, 120_000, 'the new worker went on with the fan-out');
    await Promise.all([d.api.kill9(), d.scheduler.kill9()]);
    const atApiKill = await ledgerCount(d.db.sql, id);
    t.diagnostic(`api and scheduler killed with ${atApiKill} ledger rows written (${Date.now() - t0} ms)`);
    assert.ok(atApiKill < n, `the API was killed after the fan-out had ended (${atApiKill} rows)`);
    [d.api, d.scheduler] = await Promise.all([d.startApi(), d.startScheduler()]);

    // The worker again, while it sends: send links and provider calls in flight.
    await eventually(async () => (await sentCount(d.db.sql, id)) >= 20_000, 180_000, '20,000 recipients sent');
    await d.workers[0]!.kill9();
    const atSendKill = { rows: await ledgerCount(d.db.sql, id), sent: await sentCount(d.db.sql, id) };
    t.diagnostic(`worker killed again with ${atSendKill.rows} ledger rows, ${atSendKill.sent} sent (${Date.now() - t0} ms)`);
    assert.ok(atSendKill.sent < n, 'the worker was killed after every recipient was sent');
    d.workers[0] = await d.startWorker();

    await eventually(async () => {
      const [o] = await d.db.sql<{ state: string }[]>`select state from campaign_occurrences where campaign_id = ${id}`;
      return o?.state === 'done';
    }, 300_000, 'the occurrence is done');
    const fannedOut = Date.now() - t0;
    await deliveriesFinal(d.db.sql);
    const delivered = Date.now() - t0;
    t.diagnostic(`ledger done ${fannedOut} ms after the start, every delivery final after ${delivered} ms`);

    // The ledger: each profile exactly once, every one sent.
    const ledger = await d.db.sql<{ custom_id: string; status: string; n: number }[]>`
      select custom_id, min(status) as status, count(*)::int as n from campaign_recipients where campaign_id = ${id} group by custom_id`;
    assert.equal(ledger.length, n, 'one ledger row per profile');
    assert.deepEqual(ledger.filter((r) => r.n !== 1).slice(0, 5), [], 'no profile in the ledger twice');
    assert.equal(await ledgerCount(d.db.sql, id), n, 'exactly 100,000 ledger rows');
    const byStatus = new Map<string, number>();
    for (const r of ledger) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(byStatus), { sent: n }, 'every recipient sent');

    // The messages: one per send batch, each recipient in exactly one, one delivery each.
    const [msgs] = await d.db.sql<{ messages: number; recipients: number; distinct_recipients: number }[]>`
      select count(distinct m.id)::int as messages, count(*)::int as recipients, count(distinct x.custom_id)::int as distinct_recipients
        from messages m cross join lateral jsonb_array_elements_text(m.recipients->'custom_ids') as x(custom_id)`;
    assert.equal(msgs?.recipients, n, 'the messages name 100,000 recipients');
    assert.equal(msgs?.distinct_recipients, n, 'no recipient in two messages');
    const deliveries = await d.db.sql<{ status: string; n: number }[]>`select status, count(*)::int as n from deliveries group by status`;
    assert.deepEqual(Object.fromEntries(deliveries.map((r) => [r.status, r.n])), { sent: n }, 'one delivery per recipient, each sent');

    // The simulator: each token once. A worker killed during a provider call loses its outcome, so
    // that delivery is sent again (deliver.ts: FCM re-sends are safe) under the same notification
    // tag, its message id: a second copy replaces the first on the device
    // (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#androidnotification).
    // Those are the only copies allowed, at most one per call the kill cut off.
    const records = await fcmRecords(d.sandbox);
    const accepted = new Map<string, FcmRecord[]>();
    for (const r of records) if (r.status === 200) accepted.set(r.target, [...(accepted.get(r.target) ?? []), r]);
    const tagOf = (r: FcmRecord) => (JSON.parse(Buffer.from(r.body_base64, 'base64').toString('utf8')) as { message: { android?: { notification?: { tag?: string } } } }).message.android?.notification?.tag;
    const missing: string[] = [];
    const copied: string[] = [];
    const differing: string[] = [];
    for (let i = 0; i < n; i++) {
      const copies = accepted.get(tokenOf(i)) ?? [];
      if (copies.length === 0) missing.push(customIdOf(i));
      if (copies.length > 1) {
        copied.push(customIdOf(i));
        if (new Set(copies.map(tagOf)).size !== 1 || tagOf(copies[0]!) === undefined) differing.push(customIdOf(i));
      }
    }
    t.diagnostic(`${records.length} requests at the simulator, ${accepted.size} tokens accepted, ${copied.length} sent twice after the kill (same tag), ${msgs?.messages} messages`);
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} tokens never reached the simulator`);
    assert.deepEqual(differing.slice(0, 5), [], `${differing.length} tokens got two different notifications`);
    assert.ok(copied.length <= workerConcurrency, `${copied.length} tokens reached the simulator twice: more than the calls one kill can cut off`);
    assert.equal(accepted.size, n, 'nothing else reached the simulator');

    // No step failed on its own locks (a fan-out page and a send link once took the campaign's and
    // the occurrence's rows in opposite orders): the processes alive now logged no deadlock.
    assert.deepEqual(d.problems().filter((l) => l.includes('deadlock')), []);

    // The API's counts agree.
    const got = await d.call('GET', `/v1/campaigns/${id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.state, 'finished');
    assert.deepEqual(got.body.counts.recipients, {
      targeted: n, pending: 0, sent: n, awaiting: 0, delivered: n, failed: 0, retryable: 0, skipped: 0, skipped_by_reason: {}, control: 0,
    });
    assert.deepEqual(got.body.counts.occurrences.map((x: { state: string; targeted: number }) => [x.state, x.targeted]), [['done', n]]);
    assert.deepEqual(got.body.counts.deliveries, { sent: n });
  } finally {
    // Read when a run is slow or fails: where it waited, and what the processes complained of.
    if (timeline) t.diagnostic(`timeline (s: targeted/sent chain outbox): ${timeline.stop()}`);
    for (const line of d.problems()) t.diagnostic(`logged: ${line}`);
    await d.close();
  }
});

test('send_rate is held across two worker processes: no window of the ledger\'s send times exceeds the bucket', { timeout: 300_000 }, async (t) => {
  const n = 3_000;
  const sendRate = 12_000; // per minute: 200 a second, a burst of 200
  const d = await deploy({ profiles: n, workers: 2 });
  try {
    const created = await d.call('POST', '/v1/campaigns', campaignBody('rated', { send_rate: sendRate }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    await eventually(async () => {
      const [c] = await d.db.sql<{ state: string }[]>`select state from campaigns where id = ${id}`;
      return c?.state === 'finished';
    }, 240_000, 'the campaign finished');
    await deliveriesFinal(d.db.sql);

    // The bucket of campaign-send.ts: `burst` at most at once, refilled at `perMs`.
    const perMs = sendRate / 60_000;
    const burst = Math.max(1, sendRate / 60);
    // A link's time is its messages' created_at (the ledger row's updated_at moves again when the
    // recipient's delivery outcome is written onto it).
    const links = await d.db.sql<{ at: Date; n: number }[]>`
      select m.created_at as at, count(*)::int as n from campaign_recipients r join messages m on m.id = r.message_id
       where r.campaign_id = ${id} and r.status = 'sent' group by m.created_at order by m.created_at`;
    const sent = links.reduce((s, l) => s + l.n, 0);
    assert.equal(sent, n, 'every recipient sent');
    let worst = { excess: -Infinity, from: 0, to: 0, count: 0 };
    for (let i = 0; i < links.length; i++) {
      let count = 0;
      for (let j = i; j < links.length; j++) {
        count += links[j]!.n;
        const window = links[j]!.at.getTime() - links[i]!.at.getTime();
        const excess = count - (burst + perMs * window);
        if (excess > worst.excess) worst = { excess, from: i, to: j, count };
      }
    }
    const span = links.at(-1)!.at.getTime() - links[0]!.at.getTime();
    t.diagnostic(`${n} sent in ${links.length} links over ${span} ms; the tightest window is ${worst.count} sends against an allowance of ${(worst.count - worst.excess).toFixed(1)}`);
    assert.ok(worst.excess <= 1e-6, `links ${worst.from}..${worst.to} sent ${worst.count}, more than the bucket allows (${(worst.count - worst.excess).toFixed(1)})`);
    const least = (n - burst) / perMs;
    assert.ok(span >= least, `the send took ${span} ms, less than the ${least} ms the rate implies`);
    assert.ok(span < least * 2 + 10_000, `the send took ${span} ms, far slower than the ${least} ms the rate allows`);

    // Both workers took part: each process asks the simulator for its own access token.
    const records = await fcmRecords(d.sandbox);
    const byProcess = new Map<string, number>();
    for (const r of records) byProcess.set(r.authorization, (byProcess.get(r.authorization) ?? 0) + 1);
    t.diagnostic(`deliveries per worker process (by FCM access token): ${[...byProcess.values()].join(', ')}`);
    assert.equal(records.length, n, 'one request per recipient at the simulator');
    assert.equal(byProcess.size, 2, 'both worker processes delivered');
  } finally {
    await d.close();
  }
});
