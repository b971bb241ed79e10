import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase } from '../../test/support/database.js';
import { randomUUID } from 'node:crypto';
import { applyMigrations, migrate, migrationVersions } from './migrate.js';

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

test('0014 moves each message\'s content parts into one document and names what each delivery targets, losing nothing', async () => {
  const db = await testDatabase({ migrate: false });
  try {
    const before = (await migrationVersions()).filter((v) => v < '0014');
    await db.sql.begin((tx) => applyMigrations(tx, before));
    const p = randomUUID();
    const [push, email, sms] = [randomUUID(), randomUUID(), randomUUID()];
    // A null inside a part, and a part stored as JSON null, as an older build could have written.
    const pushContent = { title: 't', body: 'b', data: { kept: null, n: 1 }, ios: { badge: 2 } };
    await db.sql`insert into projects (id, name) values (${p}, 'p')`;
    await db.sql`insert into messages (id, project_id, group_id, recipients, push, email, sms) values
      (${push}, ${p}, 'g', '{}', ${db.sql.json(pushContent)}, null, null),
      (${email}, ${p}, 'g', '{}', null, ${db.sql.json({ subject: 's', text: 'x' })}, 'null'::jsonb),
      (${sms}, ${p}, 'g', '{}', ${db.sql.json(pushContent)}, ${db.sql.json({ subject: 's', html: '<p>x</p>' })}, ${db.sql.json({ text: 'hi' })})`;
    const kinds = { ios: 'aa', android: 'bb', web: 'https://push.example/1', email: 'a@example.com', sms: '+15550001' };
    for (const [platform, token] of Object.entries(kinds)) {
      await db.sql`insert into deliveries (id, message_id, project_id, platform, token) values (${randomUUID()}, ${sms}, ${p}, ${platform}, ${token})`;
    }

    assert.deepEqual(await migrate(db.sql), (await migrationVersions()).filter((v) => v >= '0014'));
    const content = Object.fromEntries((await db.sql<{ id: string; content: unknown }[]>`select id, content from messages`).map((m) => [m.id, m.content]));
    assert.deepEqual(content, {
      [push]: { push: pushContent },
      [email]: { email: { subject: 's', text: 'x' } },
      [sms]: { push: pushContent, email: { subject: 's', html: '<p>x</p>' }, sms: { text: 'hi' } },
    });
    const rows = await db.sql<{ platform: string; target: string; target_kind: string }[]>`
      select platform, target, target_kind from deliveries order by platform`;
    assert.deepEqual(rows.map((r) => [r.platform, r.target, r.target_kind]), [
      ['android', 'bb', 'token'], ['email', 'a@example.com', 'address'], ['ios', 'aa', 'token'],
      ['sms', '+15550001', 'number'], ['web', 'https://push.example/1', 'subscription'],
    ]);
    const columns = await db.sql<{ table_name: string; column_name: string }[]>`
      select table_name, column_name from information_schema.columns
      where table_name in ('messages', 'deliveries') and column_name in ('push', 'email', 'sms', 'token')`;
    assert.deepEqual([...columns], []);
    // The one-target-per-message rule holds under its new name.
    await assert.rejects(db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind)
      values (${randomUUID()}, ${sms}, ${p}, 'ios', 'aa', 'token')`, /deliveries_message_id_platform_target_key/);
  } finally {
    await db.close();
  }
});
