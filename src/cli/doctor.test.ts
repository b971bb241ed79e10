/** `herald doctor` on a healthy deployment, and on broken ones: each problem is one FAIL line and exit 1. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { smsInput } from '../../test/support/provider-inputs.js';
import { silentLogger } from '../observability/logger.js';
import { createProject } from '../store/projects.js';
import { saveCredentials } from '../store/provider-credentials.js';
import { createKeyring } from '../store/sealed.js';
import { doctor } from './doctor.js';

async function runDoctor(env: Record<string, string | undefined>, values: Record<string, string | undefined> = {}) {
  const lines: string[] = [];
  const code = await doctor(values, { HERALD_DATA_DIR: '/nonexistent-herald-test-dir', ...env }, silentLogger(), (l) => lines.push(l));
  for (const l of lines) assert.match(l, /^(ok {2}|warn|FAIL) [^:]+: /, 'one clear line per check');
  return { code, lines, text: lines.join('\n'), line: (check: string) => lines.find((l) => l.slice(5).startsWith(check + ':')) };
}

test('a healthy deployment: every check ok (or a warning), exit 0', async () => {
  const db = await testDatabase();
  const master = testMasterKey();
  try {
    const project = await createProject(db.sql, 'healthy', master.keyring);
    await saveCredentials(db.sql, master.keyring, project.project_id, 'sms', { ...smsInput(), base_url: 'https://api.twilio.com' });
    const r = await runDoctor({ DATABASE_URL: db.url, HERALD_MASTER_KEY: master.text });
    assert.equal(r.code, 0, r.text);
    assert.match(r.line('configuration')!, /^ok /);
    assert.match(r.line('master key')!, /^ok {3}master key: HERALD_MASTER_KEY, key id [0-9a-f]{16}$/);
    assert.match(r.line('postgres')!, /^ok {3}postgres: PostgreSQL \d+/);
    for (const s of ['fsync', 'synchronous_commit', 'full_page_writes', 'wal_level']) assert.ok(r.line(`postgres ${s}`), `${s} reported`);
    assert.match(r.line('migrations')!, /^ok {3}migrations: (\d+) of \1 applied/);
    assert.match(r.line('provider credentials')!, /^ok {3}provider credentials: all 2 open/, 'the VAPID pair and the SMS account');
    assert.match(r.line('clock skew')!, /^ok {3}clock skew: [+-]0\.\d{3} s/);
    assert.match(r.line('nats')!, /^ok {3}nats: not configured/);
    assert.ok(!r.text.includes(db.url), 'the database URL is not printed');
  } finally {
    await db.close();
  }
});

test('a credential sealed under another master key is a FAIL naming its project, never its secret', async () => {
  const db = await testDatabase();
  const master = testMasterKey();
  const other = createKeyring(randomBytes(32));
  try {
    const good = await createProject(db.sql, 'good', master.keyring);
    const bad = await createProject(db.sql, 'bad', master.keyring);
    const secret = { ...smsInput(), base_url: 'https://api.twilio.com' };
    await saveCredentials(db.sql, other, bad.project_id, 'sms', secret);
    const r = await runDoctor({ DATABASE_URL: db.url, HERALD_MASTER_KEY: master.text });
    assert.equal(r.code, 1, r.text);
    const line = r.line('provider credentials')!;
    assert.match(line, /^FAIL provider credentials: 1 of 3 do not open with this master key/);
    assert.ok(line.includes(`project ${bad.project_id} (sms)`), line);
    assert.ok(!line.includes(good.project_id), 'only the failing project is named');
    assert.ok(!r.text.includes(secret.auth_token), 'the secret is never printed');
  } finally {
    await db.close();
  }
});

test('an unreachable NATS, an unreachable PostgreSQL, a missing master key and a bad configuration are each a FAIL', async () => {
  const db = await testDatabase();
  const master = testMasterKey();
  try {
    const nats = await runDoctor({ DATABASE_URL: db.url, HERALD_MASTER_KEY: master.text, NATS_URL: 'nats://127.0.0.1:1' });
    assert.equal(nats.code, 1);
    assert.match(nats.line('nats')!, /^FAIL nats: 127\.0\.0\.1:1 does not answer/);
    assert.match(nats.line('postgres')!, /^ok /, 'the other checks still run');

    const pg = await runDoctor({ DATABASE_URL: 'postgres://herald:hunter2@127.0.0.1:1/x', HERALD_MASTER_KEY: master.text });
    assert.equal(pg.code, 1);
    assert.match(pg.line('postgres')!, /^FAIL postgres: 127\.0\.0\.1:1 does not answer/);
    assert.ok(!pg.text.includes('hunter2'), 'the password in DATABASE_URL is never printed');

    const key = await runDoctor({ DATABASE_URL: db.url });
    assert.equal(key.code, 1);
    assert.match(key.line('master key')!, /^FAIL master key: none: HERALD_MASTER_KEY is not set/);

    const bound = await runDoctor({ DATABASE_URL: db.url, HERALD_MASTER_KEY: master.text });
    assert.equal(bound.code, 0, bound.text);
    await db.sql`insert into settings (name, value) values ('master_key_check', 'another key') on conflict (name) do update set value = excluded.value`;
    const wrong = await runDoctor({ DATABASE_URL: db.url, HERALD_MASTER_KEY: master.text });
    assert.equal(wrong.code, 1);
    assert.match(wrong.line('master key of the database')!, /^FAIL /);

    const config = await runDoctor({ HERALD_PORT: 'eighty' });
    assert.equal(config.code, 1);
    assert.deepEqual(config.lines, ['FAIL configuration: --port must be an integer from 0 to 65535, got "eighty"']);
  } finally {
    await db.close();
  }
});

test('the job stream on a reachable NATS: reported with its replicas', // Skipped only on a machine without NATS; CI sets NATS_URL (.ci/run starts one), so there it always runs.
  { skip: process.env.NATS_URL || process.env.CI ? false : 'NATS_URL is not set' }, async () => {
  const db = await testDatabase();
  const master = testMasterKey();
  try {
    const r = await runDoctor({ DATABASE_URL: db.url, HERALD_MASTER_KEY: master.text, NATS_URL: process.env.NATS_URL,
      HERALD_NATS_STREAM_PREFIX: `doctor_${randomBytes(4).toString('hex')}` });
    assert.match(r.line('nats')!, /^ok {3}nats: nats-server \d+\.\d+/);
    assert.match(r.line('nats job stream')!, /^warn nats job stream: doctor_[0-9a-f]+_jobs does not exist yet/);
    assert.equal(r.code, 0, r.text);
  } finally {
    await db.close();
  }
});
