import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { silentLogger } from '../observability/logger.js';
import { createPostgresQueue } from '../queue/postgres/queue.js';
import { createProject } from '../store/projects.js';
import { insertMessages, type NewMessage } from '../store/messages.js';
import { uuidv7 } from '../domain/ids.js';
import { fanoutHandler } from './fanout.js';
import { topics } from './topics.js';

const claimNow = { max: 100, leaseMs: 30_000, waitMs: 0 };

test('a batch of fan-outs is one transaction, and a message that fails on its data fails alone', async (t) => {
  const db = await testDatabase();
  t.after(() => db.close());
  const queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 5 });
  t.after(() => queue.close());
  const { keyring } = testMasterKey();
  const a = await createProject(db.sql, 'a', keyring);
  const b = await createProject(db.sql, 'b', keyring);
  // A data error the API could not foresee, on project B's one message only.
  await db.sql.unsafe(`create function poison() returns trigger language plpgsql as $$
    begin if new.target = 'poison@example.com' then raise exception 'poisoned row'; end if; return new; end $$;
    create trigger poison before insert on deliveries for each row execute function poison()`);
  const message = (projectId: string, emails: string[]): NewMessage => ({
    id: uuidv7(), projectId, groupId: 'g', recipients: { emails }, content: { email: { subject: 's', text: 't' } },
    createdAt: new Date(), expiresAt: null,
  });
  const good = Array.from({ length: 6 }, (_, i) => message(a.project_id, [`a${i}@example.com`, `b${i}@example.com`]));
  const bad = message(b.project_id, ['poison@example.com', 'fine@example.com']);
  await db.sql.begin(async (tx) => {
    await insertMessages(tx, [...good.slice(0, 3), bad, ...good.slice(3)]);
    await queue.enqueue(tx, [...good.slice(0, 3), bad, ...good.slice(3)].map((m) => ({ topic: topics.fanout, payload: { message_id: m.id } })));
  });
  const jobs = await queue.claim(topics.fanout, claimNow);
  assert.equal(jobs.length, 7);
  await fanoutHandler({ sql: db.sql, queue, log: silentLogger() })(jobs);

  const rows = await db.sql<{ message_id: string; n: number }[]>`select message_id, count(*)::int as n from deliveries group by message_id`;
  const counts = new Map(rows.map((r) => [r.message_id, r.n]));
  for (const m of good) assert.equal(counts.get(m.id), 2, 'every good message fanned out');
  assert.equal(counts.get(bad.id), undefined, 'the poisoned message created nothing');
  const [stamped] = await db.sql<{ n: number }[]>`select count(*)::int as n from messages where fanned_out_at is not null`;
  assert.equal(stamped!.n, 6);
  // Its job alone is left, for a retry; the good ones were acked, and their delivery jobs enqueued.
  const [left] = await db.sql<{ n: number }[]>`select count(*)::int as n from jobs where topic = ${topics.fanout}`;
  assert.equal(left!.n, 1);
  const [deliveryJobs] = await db.sql<{ n: number }[]>`select count(*)::int as n from jobs where topic <> ${topics.fanout}`;
  assert.equal(deliveryJobs!.n, 12);
});
