import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase } from '../../test/support/database.js';
import { migrate } from './migrate.js';

test('migrations apply once and are recorded, so a second run applies nothing', async () => {
  const db = await testDatabase({ migrate: false });
  try {
    const first = await migrate(db.sql);
    assert.ok(first.length >= 1);
    assert.deepEqual(await migrate(db.sql), []);
    const [row] = await db.sql`select count(*)::int as n from herald_migrations`;
    assert.equal(row!.n, first.length);
  } finally {
    await db.close();
  }
});

test('concurrent starts apply each migration exactly once', async () => {
  const db = await testDatabase({ migrate: false });
  try {
    const results = await Promise.all([migrate(db.sql), migrate(db.sql), migrate(db.sql)]);
    assert.equal(results.flat().length, results.find((r) => r.length)!.length);
  } finally {
    await db.close();
  }
});
