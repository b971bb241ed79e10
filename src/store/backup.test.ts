import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Sql } from 'postgres';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { silentLogger } from '../observability/logger.js';
import { createPostgresQueue } from '../queue/postgres/queue.js';
import { acceptMessages } from './accept-messages.js';
import { writeInboxItems } from './inbox.js';
import { insertOccurrence } from './campaign-ledger.js';
import { BackupReader, BackupWriter } from './backup-format.js';
import { backupDatabase, BackupError, openBackup, processStateTables, restoreDatabase, type BackupOptions } from './backup.js';
import { addSuppressions } from './email-suppressions.js';
import { storeEvents } from './events.js';
import { createImport, sealImport, storeChunk } from './import-jobs.js';
import { upsertInstallation } from './installations.js';
import { verifyMasterKey } from './master-key.js';
import { migrate, migrationVersions } from './migrate.js';
import { createProject } from './projects.js';
import { createEndpoint } from './webhook-endpoints.js';
import { loadCredentials } from './provider-credentials.js';
import type { Keyring } from './sealed.js';

/** Text COPY must carry exactly: tabs, newlines, backslashes, COPY's own end marker, non-ASCII. */
const awkward = 'tab\there\nnew line \\ back\\slash\n\\.\n\r ünïcödé 🚀 "quoted" \'single\'';

/** Rows in every table, through Herald's own code where that is cheap, plain inserts for the rest. */
async function seed(sql: Sql, keyring: Keyring): Promise<string> {
  const { project_id: p } = await createProject(sql, awkward, keyring); // projects, api_keys, provider_credentials
  await createProject(sql, 'second', keyring);
  await verifyMasterKey(sql, keyring, { source: 'env', created: false }); // settings
  await upsertInstallation(sql, p, { install_id: 'i1', platform: 'ios', push_token: 'aa11', custom_id: 'alice', timezone: 'Europe/Paris' });
  await upsertInstallation(sql, p, { install_id: 'i2', platform: 'android', push_token: 'fcm-2', language: 'fr' });
  const queue = createPostgresQueue({ sql, log: silentLogger(), maxAttempts: 8 });
  const messageId = randomUUID();
  await sql.begin((tx) => acceptMessages(tx, queue, (id) => ({ topic: 'fanout', payload: { message_id: id } }), [{
    message: { id: messageId, projectId: p, groupId: awkward, recipients: { custom_ids: ['alice'] },
      content: { push: { title: awkward, body: 'b' } } as never, createdAt: new Date(), expiresAt: null },
    idempotency: { key: 'idem-1', hash: Buffer.from('0123456789abcdef') },
  }])); // messages, jobs, idempotency_keys
  const deliveryId = randomUUID();
  await sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind, install_id, status, attempts, segments, encoding, custom_id)
            values (${deliveryId}, ${messageId}, ${p}, 'ios', 'aa11', 'token', 'i1', 'sent', 1, null, null, 'alice'),
                   (${randomUUID()}, ${messageId}, ${p}, 'sms', '+15550001', 'number', null, 'queued', 0, 2, 'UCS-2', null)`;
  await sql`insert into invalidated_tokens (project_id, platform, token, reason) values (${p}, 'ios', 'dead', 'Unregistered')`;
  await sql`insert into dead_jobs (id, topic, payload, attempts, last_error, created_at)
            values (${randomUUID()}, 'deliver', ${sql.json({ delivery_id: 'x', note: awkward })}, 8, ${awkward}, now() - interval '1 day')`;
  await sql`insert into job_outbox (id, topic, payload, run_at) values (${randomUUID()}, 'fanout', '{"message_id":"m"}', now() + interval '1 hour')`;
  await sql`insert into profiles (project_id, custom_id, email, phone, email_subscription, attributes)
            values (${p}, 'alice', 'alice@example.com', '+15550001', 'subscribed',
                    ${sql.json({ plan: awkward, score: 1.1, big: 1234567.125, tags: ['a', 'b'], when: { $date: '2024-01-02T03:04:05.678Z' } })})`;
  await storeEvents(sql, [
    { projectId: p, clientId: 'c1', customId: 'alice', installId: 'i1', name: 'purchase', time: new Date().toISOString(), attributes: { note: awkward } },
    { projectId: p, clientId: null, customId: null, installId: null, name: 'anonymous', time: '2020-02-29T12:00:00.123456Z', attributes: {} },
  ]); // events, event_ids
  const endpoint = await createEndpoint(sql, keyring, p, { id: randomUUID(), url: 'https://hooks.example.com/h', description: awkward, eventTypes: [], enabled: true, now: new Date() });
  // webhook_events, webhook_deliveries: the suppression's email.bounced event, for the endpoint
  await addSuppressions(sql, p, [{ address: 'Bounce@Example.com', reason: 'hard_bounce', detail: '550 5.1.1 no such user' }]);
  await sql`insert into webhook_attempts (endpoint_id, project_id, event_id, attempt, status_code, latency_ms, error, created_at)
            select ${endpoint.id}, ${p}, id, 1, 500, 12, ${awkward}, now() from webhook_events`;
  await sql`insert into sms_opt_outs (project_id, phone, source) values (${p}, '+15550002', 'inbound STOP')`;
  const importId = randomUUID();
  await createImport(sql, p, importId);
  await storeChunk(sql, importId, { chunkNo: 0, firstLine: 1, lines: ['{"custom_id":"bob"}', awkward] });
  await sql.begin((tx) => sealImport(tx, importId, 2, 1)); // import_jobs, import_chunks
  await sql`insert into import_errors (import_id, line, field, message) values (${importId}, 2, 'custom_id', 'is required')`;
  await sql`insert into worker_processes (id, host, pid) values (${randomUUID()}, 'old-host', 4242)`;
  const operator = randomUUID();
  await sql`insert into operators (id, email, name, password_hash, instance_owner, created_at, updated_at)
            values (${operator}, 'owner@example.com', ${awkward}, 'scrypt$17$8$1$c2FsdA$aGFzaA', true, now(), now())`;
  await sql`insert into operator_roles (operator_id, project_id, role) values (${operator}, ${p}, 'admin')`;
  await sql`insert into operator_sessions (token_hash, operator_id, csrf_token, created_at, expires_at, last_seen_at)
            values (${Buffer.from('0123456789abcdef0123456789abcdef')}, ${operator}, 'csrf', now(), now() + interval '1 hour', now())`;
  await sql`insert into login_failures (email, ip, at) values ('owner@example.com', '127.0.0.1', now())`;
  await sql`insert into audit_log (at, operator_id, operator_email, project_id, action, target, before, after, ip)
            values (now(), ${operator}, 'owner@example.com', ${p}, 'role set', ${operator}, ${sql.json({ role: 'viewer' })}, ${sql.json({ role: awkward })}, '127.0.0.1')`;
  await sql`insert into segments (project_id, id, name, query) values (${p}, 'seg1', ${awkward}, ${sql.json({ audience: 'aud1' })})`;
  await sql`insert into audiences (project_id, id, name, description) values (${p}, 'aud1', ${awkward}, ${awkward})`;
  await sql`insert into audience_members (project_id, audience_id, custom_id, kept_by) values (${p}, 'aud1', 'alice', 7), (${p}, 'aud1', ${awkward}, null)`;
  await sql`insert into audience_changes (id, project_id, audience_id, kind, custom_ids, id_count, created_at)
            values (${randomUUID()}, ${p}, 'aud1', 'add', ${['bob', awkward]}, 2, now())`;
  await sql`insert into audience_changes (id, project_id, audience_id, kind, upload_id, id_count, created_at, applied_at)
            values (${randomUUID()}, ${p}, 'aud1', 'replace', ${importId}, 2, now(), now())`;
  const campaign = randomUUID();
  await sql`insert into campaigns (id, project_id, name, state, definition, labels, created_at, updated_at)
            values (${campaign}, ${p}, ${awkward}, 'running', ${sql.json({ when: { type: 'now' }, note: awkward })}, ${['a', awkward]}, now(), now())`;
  const planned = new Date('2026-11-15T10:00:00Z');
  await sql.begin((tx) => insertOccurrence(tx, { campaignId: campaign, projectId: p, occurrence: 1, plannedAt: planned, localDate: null }));
  await sql`insert into campaign_recipients (campaign_id, occurrence, planned_at, custom_id, variant, due_at, status, reason, updated_at)
            values (${campaign}, 1, ${planned}, ${awkward}, 0, now(), 'skipped', ${awkward}, now())`;
  await sql`insert into campaign_targets (campaign_id, occurrence, target, custom_id) values (${campaign}, 1, ${'email:' + awkward}, ${awkward})`;
  await sql`insert into campaign_messages (message_id, campaign_id, occurrence, planned_at) values (${messageId}, ${campaign}, 1, ${planned})`;
  await sql`insert into capping_rules (id, project_id, name, scope, label, channels, max_sends, window_amount, window_unit, action, max_delay_minutes, created_at, updated_at)
            values (${randomUUID()}, ${p}, ${awkward}, 'label', ${awkward}, ${['push']}, 1, 1, 'days', 'defer', 60, now(), now())`;
  await sql`insert into capping_sends (project_id, custom_id, message_id, sent_at, kind, labels, channels)
            values (${p}, ${awkward}, ${messageId}, now(), 'campaign', ${[awkward]}, ${['push']})`;
  await sql`insert into capping_deferrals (message_id, custom_id, release_at, reason) values (${messageId}, ${awkward}, now(), ${awkward})`;
  await sql`update projects set quiet_hours = ${sql.json({ start: '22:00', end: '08:00', action: 'defer' })} where id = ${p}`;
  await sql`insert into exports (id, project_id, kind, format, params, state, total, rows, bytes, cursor, page, created_at, expires_at)
            values (${randomUUID()}, ${p}, 'profiles', 'csv', ${sql.json({ kind: 'profiles', query: null, attributes: [awkward], as_of: 0 })}, 'done', 1, 1, 10,
                    ${sql.json(awkward)}, 1, now(), now() + interval '7 days')`;
  const automation = randomUUID();
  const journey = randomUUID();
  await sql`insert into automations (id, project_id, name, state, version, created_at, updated_at, started_at)
            values (${automation}, ${p}, ${awkward}, 'live', 1, now(), now(), now())`;
  await sql`insert into automation_versions (automation_id, version, definition, created_at)
            values (${automation}, 1, ${sql.json({ trigger: { event: 'purchase' }, note: awkward })}, now())`;
  await sql`insert into automation_event_names (project_id, name, automation_id) values (${p}, ${awkward}, ${automation})`;
  // A segment trigger listens to profile changes: the profile trigger (migration 0032) keeps a row
  // for this write, and must keep none for the rows a restore copies.
  await sql`insert into automation_event_names (project_id, name, automation_id) values (${p}, '$profile', ${automation})`;
  const [touched] = await sql`update profiles set updated_at = now() where project_id = ${p} returning 1`;
  assert.ok(touched, 'the seed has a profile in this project');
  await sql`insert into automation_inbox (project_id, event_id, custom_id, name, time, attributes)
            values (${p}, ${randomUUID()}, ${awkward}, 'purchase', now(), ${sql.json({ note: awkward })})`;
  await sql`insert into automation_journeys (id, project_id, automation_id, version, custom_id, entry_key, state, step, due_at, seq, waiting, waits_for, trigger, entered_at)
            values (${journey}, ${p}, ${automation}, 1, ${awkward}, ${'api:' + awkward}, 'active', 's1', now() + interval '30 days', 2, true, 'purchase',
                    ${sql.json({ name: 'purchase', attributes: { note: awkward } })}, now())`;
  await sql`insert into automation_profiles (automation_id, custom_id, entries, last_entered_at, in_segment) values (${automation}, ${awkward}, 1, now(), true)`;
  await sql`insert into automation_counts (automation_id, version, step, metric, reason, n) values (${automation}, 1, '', 'exited', ${awkward}, 3)`;
  await sql`insert into automation_sends (journey_id, step, attempt, message_id) values (${journey}, 's0', 1, ${messageId})`;
  await sql`insert into automation_calls (id, project_id, journey_id, step, attempt, endpoint_id, url, body, tries, max_tries, next_step, exit_on_failure, due_at, last_error, created_at)
            values (${randomUUID()}, ${p}, ${journey}, 's1', 1, ${randomUUID()}, 'https://example.com/hook', ${JSON.stringify({ note: awkward })}, 1, 5, null, true,
                    now() + interval '10 seconds', ${awkward}, now())`;
  await sql`insert into engagements (project_id, delivery_id, kind, link, machine, count, first_at, last_at)
            values (${p}, ${deliveryId}, 'click', 2, false, 3, now() - interval '1 hour', now())`;
  await sql`insert into stats_hourly (project_id, source_kind, source_id, variant, channel, hour, sent, delivered, opens_unique)
            values (${p}, 'transactional', ${awkward}, '', 'push', date_trunc('hour', now()), 5, 4, 1)
            on conflict do nothing`;
  // inbox_items and its week partition, made as the fan-out makes them (store/inbox.ts).
  await sql.begin((tx) => writeInboxItems(tx, [{ projectId: p, messageId, createdAt: new Date(), owner: { kind: 'profile', id: 'alice' } }]));
  await sql`update inbox_items set read_at = now(), data = ${sql.json({ note: awkward })} where message_id = ${messageId}`;
  // In-app messages: a version, an event with its display and stats counters (store/in-app.ts).
  const inApp = randomUUID();
  await sql`insert into in_app_messages (id, project_id, status, version, created_at, updated_at, started_at)
            values (${inApp}, ${p}, 'running', 1, now(), now(), now())`;
  await sql`insert into in_app_message_versions (message_id, version, definition, created_at)
            values (${inApp}, 1, ${sql.json({ name: awkward, format: 'modal', content: { title: awkward }, trigger: { type: 'asap' } })}, now())`;
  await sql`insert into in_app_events (project_id, install_id, client_id, message_id, version, type, button_id, owner_kind, owner, time, received_at)
            values (${p}, ${awkward}, ${awkward}, ${inApp}, 1, 'click', ${awkward}, 'installation', ${awkward}, now(), now())`;
  await sql`insert into in_app_displays (project_id, message_id, owner_kind, owner, displays, clicks, last_display)
            values (${p}, ${inApp}, 'profile', ${awkward}, 2, 1, now())`;
  await sql`insert into in_app_stats (project_id, message_id, day, impressions, unique_impressions, clicks, unique_clicks, dismissals)
            values (${p}, ${inApp}, current_date, 3, 2, 1, 1, 1)`;
  await sql`insert into stats_skips_hourly (project_id, source_kind, source_id, variant, channel, hour, reason, skipped)
            values (${p}, 'campaign', ${campaign}, 'A', 'email', date_trunc('hour', now()), ${awkward}, 2)
            on conflict do nothing`;
  return p;
}

/** Every table of the schema (partition roots, not partitions), with its row count and a digest of its rows. */
async function fingerprint(sql: Sql): Promise<Map<string, { rows: number; md5: string }>> {
  const tables = await sql<{ name: string }[]>`
    select relname::text as name from pg_class
    where relnamespace = current_schema()::regnamespace and relkind in ('r', 'p') and not relispartition order by relname`;
  const out = new Map<string, { rows: number; md5: string }>();
  for (const { name } of tables) {
    const [r] = await sql.unsafe<{ rows: number; md5: string }[]>(
      `select count(*)::int as rows, md5(coalesce(string_agg(t::text, ',' order by t::text), '')) as md5 from "${name}" t`);
    out.set(name, r!);
  }
  return out;
}

async function backupToBuffer(sql: Sql, opts?: BackupOptions): Promise<Buffer> {
  const out = new PassThrough();
  const [, data] = await Promise.all([backupDatabase(sql, out, opts), buffer(out)]);
  return data;
}

const restoreFrom = async (sql: Sql, data: Buffer) => restoreDatabase(sql, await openBackup(Readable.from([data])));

test('a backup restored into an empty database has every table row for row, and the same master key opens its secrets', async () => {
  const source = await testDatabase();
  const target = await testDatabase({ migrate: false });
  try {
    const { keyring } = testMasterKey();
    const projectId = await seed(source.sql, keyring);
    const before = await fingerprint(source.sql);
    for (const [table, { rows }] of before) {
      if (table !== 'herald_migrations') assert.ok(rows > 0, `seed() leaves ${table} empty: add a row for it, so the round trip covers it`);
    }

    const summary = await restoreFrom(target.sql, await backupToBuffer(source.sql));
    assert.equal(summary.migration, (await migrationVersions()).at(-1));

    const after = await fingerprint(target.sql);
    assert.deepEqual([...after.keys()], [...before.keys()], 'the same tables');
    for (const [table, f] of before) {
      if (table === 'herald_migrations') continue; // recreated by the restore's migrations, at its time
      if (processStateTables.has(table)) assert.equal(after.get(table)!.rows, 0, `${table} is not restored`);
      else assert.deepEqual(after.get(table), f, `${table} restored row for row`);
    }
    assert.deepEqual(await target.sql`select version from herald_migrations order by version`,
      await source.sql`select version from herald_migrations order by version`);
    assert.deepEqual(await migrate(target.sql), [], 'the restored schema is complete');
    // The sealed VAPID key opens under the key of the source, and the check value lets Herald start.
    assert.ok((await loadCredentials(target.sql, keyring, projectId, 'webpush'))?.private_key_pem);
    await verifyMasterKey(target.sql, keyring, { source: 'env', created: false });
  } finally {
    await source.close();
    await target.close();
  }
});

test('a backup taken while transactions commit holds each of them entirely or not at all', async () => {
  const source = await testDatabase();
  const target = await testDatabase({ migrate: false });
  const { project_id: p } = await createProject(source.sql, 'p', testMasterKey().keyring);
  const jobs = 300;
  await source.sql`insert into jobs (id, topic, payload) select gen_random_uuid(), 'deliver', '{}' from generate_series(1, ${jobs})`;
  let commits = 0;
  let stop = false;
  let onCommit = () => {};
  // Each transaction moves a job to dead_jobs (a transfer: the two tables always hold `jobs` rows
  // between them) and stores a message with its three deliveries.
  const writer = (async () => {
    while (!stop) {
      await source.sql.begin(async (tx) => {
        // Visibility and atomicity are what is tested, not durability: spare the busy disk a flush.
        await tx`set local synchronous_commit = off`;
        await tx`with gone as (delete from jobs where id = (select id from jobs order by id limit 1) returning *)
                 insert into dead_jobs (id, topic, payload, attempts, last_error, created_at)
                 select id, topic, payload, attempts, 'moved', created_at from gone`;
        const m = randomUUID();
        await tx`insert into messages (id, project_id, group_id, recipients, content) values (${m}, ${p}, 'g', '{}', '{"push": {}}')`;
        await tx`insert into deliveries (id, message_id, project_id, platform, target, target_kind)
                 select gen_random_uuid(), ${m}, ${p}, 'ios', 't' || n, 'token' from generate_series(1, 3) n`;
      });
      commits++;
      onCommit();
    }
  })();
  try {
    // One commit before the snapshot (so the backup holds some of them), and after each table
    // another: the backup certainly spans concurrent writes.
    await new Promise<void>((r) => { onCommit = r; });
    const data = await backupToBuffer(source.sql, { onTable: () => new Promise<void>((r) => { onCommit = r; }) });
    stop = true;
    await writer;
    await restoreFrom(target.sql, data);
    const [t] = await target.sql<[{ jobs: number; dead: number; messages: number; deliveries: number }]>`
      select (select count(*)::int from jobs) as jobs, (select count(*)::int from dead_jobs) as dead,
             (select count(*)::int from messages) as messages, (select count(*)::int from deliveries) as deliveries`;
    assert.equal(t.jobs + t.dead, jobs, 'no job lost or doubled between the two tables');
    assert.ok(t.dead > 0 && t.messages > 0, 'the backup holds some of the concurrent transactions');
    assert.ok(t.messages < commits, 'and not the ones that committed after its snapshot');
    assert.equal(t.deliveries, 3 * t.messages, 'each message with all its deliveries');
    assert.equal(t.dead, t.messages, 'each transaction with both its halves');
  } finally {
    stop = true;
    await writer;
    await source.close();
    await target.close();
  }
});

test('a restore into a database that is not empty is refused and changes nothing', async () => {
  const source = await testDatabase();
  const target = await testDatabase();
  try {
    const { keyring } = testMasterKey();
    await seed(source.sql, keyring);
    await createProject(target.sql, 'already here', keyring);
    const before = await fingerprint(target.sql);
    const data = await backupToBuffer(source.sql);
    await assert.rejects(restoreFrom(target.sql, data), (err: Error) => err instanceof BackupError && /not empty/.test(err.message));
    assert.deepEqual(await fingerprint(target.sql), before);
  } finally {
    await source.close();
    await target.close();
  }
});

test('a damaged or cut backup fails its restore and leaves the target empty', async () => {
  const source = await testDatabase();
  const target = await testDatabase({ migrate: false });
  try {
    await seed(source.sql, testMasterKey().keyring);
    const data = await backupToBuffer(source.sql);
    await assert.rejects(restoreFrom(target.sql, data.subarray(0, Math.floor(data.length * 0.7))));
    const [{ n }] = await target.sql<[{ n: number }]>`
      select count(*)::int as n from pg_class where relnamespace = current_schema()::regnamespace`;
    assert.equal(n, 0, 'the restore rolled back, schema included');
    await assert.rejects(openBackup(Readable.from([Buffer.from('not a backup')])), /not a Herald backup/);
  } finally {
    await source.close();
    await target.close();
  }
});

test('a backup from a newer Herald (a migration this build lacks) is refused', async () => {
  const out = new PassThrough();
  const writer = new BackupWriter(out);
  const data = buffer(out);
  await writer.header({ migrations: [...await migrationVersions(), '9999_from_the_future'], created_at: new Date().toISOString(),
    postgres_version: '18', master_key_check: null, partitions: [] });
  await writer.end({ rows: {}, sequences: [] });
  await assert.rejects(openBackup(Readable.from([await data])), (err: Error) => err instanceof BackupError && /newer Herald.*9999_from_the_future/.test(err.message));
});

test('a partitioned table is backed up through its root, its partitions and sequences recorded', async () => {
  const source = await testDatabase();
  try {
    await source.sql.unsafe(`
      create table backup_demo (id bigint generated always as identity, at date not null, note text) partition by range (at);
      create table backup_demo_2024 partition of backup_demo for values from ('2024-01-01') to ('2025-01-01');
      create table backup_demo_rest partition of backup_demo default;
      insert into backup_demo (at, note) values ('2024-06-01', 'a'), ('2030-01-01', 'b'), ('2024-07-01', 'c');`);
    const data = await backupToBuffer(source.sql);
    const reader = new BackupReader(Readable.from([data]));
    const header = await reader.header();
    assert.deepEqual(header.partitions.map((p) => [p.name, p.parent, p.bound]).sort(), [
      ['backup_demo_2024', 'backup_demo', "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"],
      ['backup_demo_rest', 'backup_demo', 'DEFAULT'],
    ]);
    const tables = new Map<string, number>();
    for (;;) {
      const s = await reader.next();
      if ('end' in s) {
        // The schema's own sequences (audience_changes.seq) are recorded too.
        assert.deepEqual(s.sequences.filter((q) => q.sequence.startsWith('backup_demo')).map((q) => [q.sequence, q.last_value]), [['backup_demo_id_seq', '3']]);
        break;
      }
      for await (const chunk of reader.rows(s.table, (n) => tables.set(s.table, n))) void chunk;
    }
    assert.equal(tables.get('backup_demo'), 3, 'all rows, read through the root');
    assert.ok(!tables.has('backup_demo_2024') && !tables.has('backup_demo_rest'), 'partitions are not dumped twice');
  } finally {
    await source.close();
  }
});
