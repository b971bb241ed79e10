import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { FastifyRequest } from 'fastify';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { createProject } from '../store/projects.js';
import { authenticator, defaultAuthCacheLimits } from './auth.js';

const request = (key: string) =>
  ({ routeOptions: { config: { auth: 'sdk' } }, headers: { authorization: `Bearer ${key}` } }) as unknown as FastifyRequest;

test('a flood of unknown keys does not evict the known ones: their requests still skip the database', async () => {
  const db = await testDatabase();
  // The same database, through a client that counts the key lookups it runs.
  let lookups = 0;
  const counted = postgres(db.url, { max: 8, onnotice: () => {}, debug: (_c, query) => { if (/from api_keys/.test(query)) lookups++; } });
  try {
    const project = await createProject(db.sql, 'p', testMasterKey().keyring);
    const auth = authenticator(counted);
    const req = request(project.sdk_key);
    await auth.hook(req);
    assert.equal(req.caller.projectId, project.project_id);
    assert.equal(lookups, 1);

    // More random keys than the whole cache holds, as an attacker would spray them.
    const spray = defaultAuthCacheLimits.maxKnown + 1;
    for (let done = 0; done < spray; done += 200) {
      await Promise.all(Array.from({ length: Math.min(200, spray - done) }, () =>
        auth.hook(request('hrld_sdk_' + randomBytes(16).toString('hex'))).then(
          () => assert.fail('an unknown key was accepted'),
          (err: { code?: string }) => assert.equal(err.code, 'unauthorized'))));
    }
    const before = lookups;
    await auth.hook(request(project.sdk_key));
    await auth.hook(request(project.rest_key));
    assert.equal(lookups - before, 1, 'the SDK key was still cached; only the REST key, never used before, was looked up');
  } finally {
    await counted.end();
    await db.close();
  }
});
