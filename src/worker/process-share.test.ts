import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { silentLogger } from '../observability/logger.js';
import { startProcessShare } from './process-share.js';

let db: TestDatabase;
before(async () => { db = await testDatabase(); });
after(async () => { await db.close(); });

const log = silentLogger();
const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(check(), what);
};

test('worker processes share each account: a second halves the first\'s share, a stopped one gives it back', async () => {
  const first = await startProcessShare({ sql: db.sql, log, everyMs: 100 });
  assert.equal(first.share(), 1, 'alone, a process has the whole account');
  const second = await startProcessShare({ sql: db.sql, log, everyMs: 100 });
  assert.equal(second.share(), 0.5, 'the newcomer counts the one already there at once');
  await until(() => first.share() === 0.5, 'the first learns of the second at its next heartbeat');
  await second.stop();
  await until(() => first.share() === 1, 'a stopped process leaves at once');
  await first.stop();
  assert.equal((await db.sql`select 1 from worker_processes`).length, 0);
});

test('a killed process (no heartbeat, never unregistered) stops counting once its row is stale', async () => {
  // A row as a process killed -9 leaves it: seen 10 s ago, never deleted.
  await db.sql`insert into worker_processes (id, host, pid, seen_at) values (gen_random_uuid(), 'gone', 1, now() - interval '10 seconds')`;
  const live = await startProcessShare({ sql: db.sql, log, everyMs: 100 }); // live = 300 ms
  assert.equal(live.share(), 1, 'a row 10 s stale does not count');
  await db.sql`insert into worker_processes (id, host, pid) values (gen_random_uuid(), 'fresh', 2)`;
  await until(() => live.share() === 0.5, 'a fresh row counts');
  await until(() => live.share() === 1, 'and stops counting when it goes stale');
  await live.stop();
  const left = await db.sql<{ host: string }[]>`select host from worker_processes order by host`;
  assert.deepEqual(left.map((r) => r.host), ['fresh'], 'the row dead for over ten live periods was removed; the recent one kept');
});
