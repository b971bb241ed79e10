import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { uuidv7 } from '../domain/ids.js';
import { createProject } from './projects.js';
import { deleteOldCappingSends, longestWindowMs } from './capping.js';

test('counted sends older than the longest window a rule may have are forgotten, the others kept', async (t) => {
  const db = await testDatabase();
  t.after(() => db.close());
  const { project_id } = await createProject(db.sql, 'capping', testMasterKey().keyring);
  const now = new Date('2026-12-03T12:00:00Z');
  const at = (ms: number) => new Date(now.getTime() - ms);
  await db.sql`insert into capping_sends (project_id, custom_id, message_id, sent_at, kind, channels)
    select ${project_id}, 'u', m, s, 'campaign', '{email}'
    from unnest(${[uuidv7(), uuidv7(), uuidv7()]}::uuid[], ${[at(longestWindowMs + 1), at(longestWindowMs + 86_400_000), at(longestWindowMs - 1)].map((d) => d.toISOString())}::timestamptz[]) as u(m, s)`;
  assert.equal(await deleteOldCappingSends(db.sql, now), 2);
  const left = await db.sql<{ sent_at: Date }[]>`select sent_at from capping_sends`;
  assert.deepEqual(left.map((r) => r.sent_at.getTime()), [at(longestWindowMs - 1).getTime()]);
});
