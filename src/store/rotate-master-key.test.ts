import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Sql } from 'postgres';
import { ConfigError } from '../config.js';
import { silentLogger } from '../observability/logger.js';
import { testDatabase } from '../../test/support/database.js';
import { smsInput } from '../../test/support/provider-inputs.js';
import { openKeyring } from './master-key.js';
import { createProject } from './projects.js';
import { credentialsContext, listCredentials, saveCredentials } from './provider-credentials.js';
import { identitySecretContext, identitySecrets, rotateIdentitySecret } from './identity-secrets.js';
import { createEndpoint, rotateSecret as rotateWebhookSecret, webhookSecretContext } from './webhook-endpoints.js';
import { rotateMasterKey } from './rotate-master-key.js';
import { createKeyring, SealedValueError, type Keyring } from './sealed.js';

const key = () => randomBytes(32).toString('base64');
const keyringOf = (sql: Sql, masterKey: string, previousMasterKey?: string) =>
  openKeyring({ masterKey, previousMasterKey, dataDir: '/nonexistent', sql, log: silentLogger(), shared: true });

/** Every sealed value in the database, opened: what a rotation must keep exactly. */
async function openAll(sql: Sql, keyring: Keyring): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const r of await sql<{ project_id: string; provider: 'webpush'; sealed: Buffer }[]>`select * from provider_credentials`) {
    out.set(`c/${r.project_id}/${r.provider}`, keyring.open(r.sealed, credentialsContext(r.project_id, r.provider)).toString());
  }
  for (const r of await sql<{ project_id: string; sealed: Buffer; previous_sealed: Buffer | null }[]>`select * from project_identity_secrets`) {
    out.set(`i/${r.project_id}`, keyring.open(r.sealed, identitySecretContext(r.project_id)).toString());
    if (r.previous_sealed) out.set(`i/${r.project_id}/previous`, keyring.open(r.previous_sealed, identitySecretContext(r.project_id)).toString());
  }
  for (const r of await sql<{ id: string; project_id: string; sealed: Buffer; previous_sealed: Buffer | null }[]>`select * from webhook_endpoints`) {
    out.set(`w/${r.id}`, keyring.open(r.sealed, webhookSecretContext(r.project_id, r.id)).toString());
    if (r.previous_sealed) out.set(`w/${r.id}/previous`, keyring.open(r.previous_sealed, webhookSecretContext(r.project_id, r.id)).toString());
  }
  return out;
}

/** Three projects, each with VAPID keys, SMS credentials and an identity secret, two with a previous one too. */
async function fill(sql: Sql, keyring: Keyring): Promise<string[]> {
  const ids: string[] = [];
  for (const name of ['a', 'b', 'c']) {
    const p = await createProject(sql, name, keyring);
    await saveCredentials(sql, keyring, p.project_id, 'sms', { ...smsInput(), base_url: 'https://sms.example.net' });
    if (name !== 'c') await rotateIdentitySecret(sql, keyring, p.project_id, 3600);
    if (name === 'a') {
      const hook = await createEndpoint(sql, keyring, p.project_id, { id: randomUUID(), url: 'https://hooks.example.com/', description: null, eventTypes: [], enabled: true, now: new Date() });
      await rotateWebhookSecret(sql, keyring, p.project_id, hook.id, new Date());
    }
    ids.push(p.project_id);
  }
  return ids;
}

test('a rotation re-seals every secret under the new key, unchanged; the old key alone is refused after it', async () => {
  const db = await testDatabase();
  try {
    const oldKey = key();
    const newKey = key();
    const before = await keyringOf(db.sql, oldKey);
    const projects = await fill(db.sql, before);
    const plain = await openAll(db.sql, before);
    assert.equal(plain.size, 3 * 2 + 3 + 2 + 2);
    const unsubscribe = before.secret('unsubscribe links');
    const summaries = await listCredentials(db.sql, projects[0]!);

    const rotating = await keyringOf(db.sql, newKey, oldKey);
    const { resealed } = await rotateMasterKey(db.sql, rotating);
    assert.equal(resealed, 3 * 2 + 3 + 1 + 1, 'every credentials row, every identity row, the webhook endpoint, and the derived keys');

    const after = await keyringOf(db.sql, newKey);
    assert.deepEqual(await openAll(db.sql, after), plain, 'the new key alone opens every secret, equal to what it was');
    assert.deepEqual(await identitySecrets(db.sql, after, projects[0]!), [plain.get(`i/${projects[0]}`), plain.get(`i/${projects[0]}/previous`)]);
    // Derived keys outlive the old key: links already sent still verify, fingerprints still match.
    assert.deepEqual(after.secret('unsubscribe links'), unsubscribe);
    assert.equal(after.fingerprint(smsInput().auth_token), before.fingerprint(smsInput().auth_token));
    await saveCredentials(db.sql, after, projects[0]!, 'sms', { ...smsInput(), base_url: 'https://sms.example.net' });
    assert.deepEqual((await listCredentials(db.sql, projects[0]!)).map((c) => c.summary), summaries.map((c) => c.summary));

    await assert.rejects(keyringOf(db.sql, oldKey), (err: unknown) =>
      err instanceof ConfigError && /is not the master key this database/.test(err.message) && !err.message.includes(oldKey));
    await assert.rejects(openAll(db.sql, createKeyring(Buffer.from(oldKey, 'base64'))), SealedValueError);
    assert.deepEqual((await rotateMasterKey(db.sql, after)).resealed, 0, 'run again, nothing is left to do');
  } finally {
    await db.close();
  }
});

test('an interrupted rotation resumes; meanwhile both keys open everything and a process with only the old key is refused', async () => {
  const db = await testDatabase();
  try {
    const oldKey = key();
    const newKey = key();
    const before = await keyringOf(db.sql, oldKey);
    await fill(db.sql, before);
    const plain = await openAll(db.sql, before);

    const rotating = await keyringOf(db.sql, newKey, oldKey);
    let batches = 0;
    await assert.rejects(rotateMasterKey(db.sql, rotating, {
      batchSize: 2, afterBatch: () => { batches++; throw new Error('killed'); },
    }), /killed/);
    assert.equal(batches, 1);
    const [moved] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from provider_credentials where substring(sealed from 2 for 8) = ${rotating.keyId}`;
    assert.equal(moved!.n, 2, 'one batch of two rows was committed under the new key');

    // Half done: a process given both keys opens every row; one with only the old key is refused at
    // start, and one that was already running with it fails on the moved rows, saying why.
    assert.deepEqual(await openAll(db.sql, await keyringOf(db.sql, newKey, oldKey)), plain);
    await assert.rejects(keyringOf(db.sql, oldKey), /rotation under way/);
    await assert.rejects(keyringOf(db.sql, newKey), /is not the master key this database/, 'the new key alone cannot open the rest yet');
    await assert.rejects(openAll(db.sql, before), /sealed under master key [0-9a-f]{16}, which this process does not hold.*restart/);

    await rotateMasterKey(db.sql, rotating, { batchSize: 2 });
    assert.deepEqual(await openAll(db.sql, await keyringOf(db.sql, newKey)), plain);
    await assert.rejects(keyringOf(db.sql, oldKey), /is not the master key this database/);
  } finally {
    await db.close();
  }
});

const cli = join(import.meta.dirname, '../cli/main.js');
const run = promisify(execFile);

test('herald keys rotate-master on a data folder: a new master.key, the old one retired, every secret kept', async () => {
  const db = await testDatabase();
  const dir = await mkdtemp(join(tmpdir(), 'herald-rotate-'));
  try {
    const env = { ...process.env, DATABASE_URL: db.url, HERALD_DATA_DIR: dir, HERALD_MASTER_KEY: '', HERALD_LOG_LEVEL: 'warn' };
    delete (env as Record<string, string | undefined>).HERALD_MASTER_KEY;
    const created = JSON.parse((await run(process.execPath, [cli, 'project', 'create', '--name', 'p'], { env })).stdout) as { project_id: string; identity_secret: string };
    const oldText = await readFile(join(dir, 'master.key'), 'utf8');
    const before = await openKeyring({ masterKey: undefined, dataDir: dir, sql: db.sql, log: silentLogger(), shared: false });
    const plain = await openAll(db.sql, before);

    const { stdout, stderr } = await run(process.execPath, [cli, 'keys', 'rotate-master'], { env });
    const out = JSON.parse(stdout) as { resealed: number; master_key_id: string; retired_key_file: string };
    assert.equal(out.resealed, 3);
    const newText = await readFile(join(dir, 'master.key'), 'utf8');
    assert.notEqual(newText, oldText);
    assert.equal(await readFile(out.retired_key_file, 'utf8'), oldText, 'the old key is kept aside, for older backups');
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('master.key')).sort(), ['master.key', out.retired_key_file.slice(dir.length + 1)]);
    for (const text of [oldText, newText]) assert.ok(!(stdout + stderr).includes(text.trim()), 'no key is printed');

    const after = await openKeyring({ masterKey: undefined, dataDir: dir, sql: db.sql, log: silentLogger(), shared: false });
    assert.equal(after.keyId.toString('hex'), out.master_key_id);
    assert.deepEqual(await openAll(db.sql, after), plain);
    assert.deepEqual(await identitySecrets(db.sql, after, created.project_id), [created.identity_secret]);
    await assert.rejects(keyringOf(db.sql, oldText.trim()), /is not the master key this database/);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await db.close();
  }
});
