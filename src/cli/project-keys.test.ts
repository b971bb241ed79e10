/** `herald project create` prints the identity secret; `herald project keys` lists, creates and revokes keys. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../paths.js';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { findKey } from '../store/projects.js';
import { identitySecrets } from '../store/identity-secrets.js';
import { createKeyring } from '../store/sealed.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

test('project create prints the keys and identity secret once; project keys list, create and revoke', async () => {
  const db = await testDatabase();
  const master = testMasterKey();
  const herald = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [cli, ...args, '--database-url', db.url], {
      env: { ...process.env, HERALD_MASTER_KEY: master.text, HERALD_DATA_DIR: '/nonexistent-herald-test-dir' },
    });
    return JSON.parse(stdout);
  };
  const fails = (...args: string[]) => assert.rejects(herald(...args), (err: { code?: number; stderr?: string }) => err.code === 2 && !!err.stderr);
  try {
    const created = await herald('project', 'create', '--name', 'cli');
    assert.match(created.identity_secret, /^hrld_ident_/);
    const keyring = createKeyring(Buffer.from(master.text, 'base64'));
    assert.deepEqual(await identitySecrets(db.sql, keyring, created.project_id), [created.identity_secret], 'stored sealed, opens to what was printed');

    const listed = await herald('project', 'keys', 'list', '--project', created.project_id);
    assert.equal(listed.keys.length, 2);
    assert.ok(!JSON.stringify(listed).includes(created.rest_key.slice(10)), 'never the key');

    const extra = await herald('project', 'keys', 'create', '--project', created.project_id, '--kind', 'rest');
    assert.match(extra.key, /^hrld_rest_/);
    assert.equal((await findKey(db.sql, extra.key))?.kind, 'rest');

    const first = listed.keys.find((k: { kind: string }) => k.kind === 'rest');
    const revoked = await herald('project', 'keys', 'revoke', '--project', created.project_id, '--id', first.id);
    assert.ok(revoked.revoked_at);
    assert.equal(await findKey(db.sql, created.rest_key), undefined);
    await fails('project', 'keys', 'revoke', '--project', created.project_id, '--id', extra.id); // the last REST key
    assert.ok(await findKey(db.sql, extra.key));
    await fails('project', 'keys', 'create', '--project', created.project_id, '--kind', 'admin');
    await fails('project', 'keys', 'list', '--project', 'nope');
  } finally {
    await db.close();
  }
});
