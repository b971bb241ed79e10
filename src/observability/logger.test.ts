import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { createLogger } from './logger.js';

let db: TestDatabase;
before(async () => { db = await testDatabase({ migrate: false }); });
after(async () => { await db.close(); });

/** A logger whose lines are kept, to read what it wrote. */
function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  return { log: createLogger('info', { destination }), lines };
}

const secret = 'sk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0';

test('a PostgreSQL error is logged with its code, never with the parameters or values it quotes', async () => {
  const { log, lines } = capturingLogger();
  // 22P02: the message itself quotes the value ("invalid input syntax for type uuid: "sk_live…"").
  const syntax = await db.sql`select ${secret}::uuid`.catch((e: unknown) => e);
  // 23505: the DETAIL quotes the row ("Key (v)=(sk_live…) already exists.").
  await db.sql`create table vault (v text unique)`;
  await db.sql`insert into vault values (${secret})`;
  const duplicate = await db.sql`insert into vault values (${secret})`.catch((e: unknown) => e);
  // A wrapped one: the value sits in the cause.
  const wrapped = new Error('storing failed', { cause: duplicate });
  for (const err of [syntax, duplicate, wrapped]) log.error({ err }, 'statement failed');
  log.flush();

  assert.equal(lines.length, 3);
  for (const line of lines) assert.ok(!line.includes(secret) && !line.includes(secret.slice(0, 12)), line);
  const [a, b, c] = lines.map((l) => JSON.parse(l));
  assert.equal(a.err.code, '22P02');
  assert.equal(a.err.type, 'PostgresError');
  assert.match(a.err.message, /^invalid input syntax for type uuid/);
  assert.equal(b.err.code, '23505');
  assert.equal(b.err.constraint_name, 'vault_v_key', 'the object names stay, for diagnosis');
  assert.match(b.err.message, /duplicate key value violates unique constraint "vault_v_key"/);
  assert.equal(c.err.cause.code, '23505');
});
