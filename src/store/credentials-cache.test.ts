import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { smsInput } from '../../test/support/provider-inputs.js';
import { checkSms } from '../domain/credential-checks.js';
import { createCredentialsCache } from './credentials-cache.js';
import { createProject } from './projects.js';
import { deleteCredentials, saveCredentials } from './provider-credentials.js';
import { SealedValueError } from './sealed.js';

test('the worker cache reads once per TTL and sees a change after it', async () => {
  const db = await testDatabase();
  try {
    const { keyring } = testMasterKey();
    const { project_id } = await createProject(db.sql, 'cache', keyring);
    let now = 1_000_000;
    const cache = createCredentialsCache({ sql: db.sql, keyring, ttlMs: 5_000, clock: () => now });
    assert.equal(await cache.get(project_id, 'sms'), undefined, 'not configured');

    await saveCredentials(db.sql, keyring, project_id, 'sms', checkSms({ ...smsInput(), auth_token: 'first-token' }));
    assert.equal(await cache.get(project_id, 'sms'), undefined, 'the absence is cached for the TTL too');
    now += 5_001;
    const [a, b] = await Promise.all([cache.get(project_id, 'sms'), cache.get(project_id, 'sms')]);
    assert.equal(a?.auth_token, 'first-token');
    assert.equal(a, b, 'concurrent callers share one read');

    await saveCredentials(db.sql, keyring, project_id, 'sms', checkSms({ ...smsInput(), auth_token: 'second-token' }));
    now += 4_000;
    assert.equal((await cache.get(project_id, 'sms'))?.auth_token, 'first-token', 'within the TTL: no read');
    now += 1_001;
    assert.equal((await cache.get(project_id, 'sms'))?.auth_token, 'second-token', 'after it: the change');

    await deleteCredentials(db.sql, project_id, 'sms');
    now += 5_001;
    assert.equal(await cache.get(project_id, 'sms'), undefined, 'a deletion too');
    assert.equal((await cache.get(project_id, 'webpush'))?.public_key.length, 87);
  } finally {
    await db.close();
  }
});

test('a row sealed under another key or moved to another project does not open', async () => {
  const db = await testDatabase();
  try {
    const { keyring } = testMasterKey();
    const a = await createProject(db.sql, 'a', keyring);
    const b = await createProject(db.sql, 'b', keyring);
    await saveCredentials(db.sql, keyring, a.project_id, 'sms', checkSms(smsInput()));
    const other = createCredentialsCache({ sql: db.sql, keyring: testMasterKey().keyring });
    await assert.rejects(other.get(a.project_id, 'sms'), SealedValueError);
    // Copying A's sealed secret into B's row does not give B the secret.
    await db.sql`insert into provider_credentials (project_id, provider, sealed, summary)
                 select ${b.project_id}, provider, sealed, summary from provider_credentials
                 where project_id = ${a.project_id} and provider = 'sms'`;
    await assert.rejects(createCredentialsCache({ sql: db.sql, keyring }).get(b.project_id, 'sms'), SealedValueError);
  } finally {
    await db.close();
  }
});
