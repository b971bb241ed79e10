import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { createProject } from './projects.js';
import { deleteExpiredEventIds, eventIdRetentionDays, storeEvents } from './events.js';

const { keyring } = testMasterKey();

test('event ids are kept at least 7 days, even when their events are gone, then pruned', async () => {
  assert.ok(eventIdRetentionDays >= 7);
  const db = await testDatabase();
  try {
    const { project_id } = await createProject(db.sql, 't', keyring);
    const ev = (clientId: string) => ({ projectId: project_id, clientId, customId: null, installId: 'i', name: 'e', time: new Date().toISOString(), attributes: {} });
    await db.sql.begin((tx) => storeEvents(tx, [ev('old'), ev('recent')]));
    await db.sql`delete from events`;
    await db.sql`update event_ids set seen_at = now() - interval '7 days' - interval '1 hour' where client_id = 'recent'`;
    await db.sql`update event_ids set seen_at = now() - make_interval(days => ${eventIdRetentionDays}) - interval '1 hour' where client_id = 'old'`;
    assert.equal(await deleteExpiredEventIds(db.sql, new Date()), 1);
    assert.deepEqual(await db.sql.begin((tx) => storeEvents(tx, [ev('recent'), ev('old')])), [false, true]);
  } finally {
    await db.close();
  }
});
