import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { uuidv7 } from '../domain/ids.js';
import { createProject } from './projects.js';
import { createEndpoint } from './webhook-endpoints.js';
import { claimDueWebhooks, recordAttempts, type AttemptResult } from './webhook-deliveries.js';

// The outbox's claims and batched attempt records, on a real database.
const { keyring } = testMasterKey();
let db: TestDatabase;
before(async () => { db = await testDatabase(); });
after(async () => { await db.close(); });

const t0 = Date.UTC(2026, 11, 1);
const at = (s: number) => new Date(t0 + s * 1000);

async function endpointWith(n: number): Promise<{ project: string; endpoint: string }> {
  const project = (await createProject(db.sql, `p${Math.random()}`, keyring)).project_id;
  const endpoint = (await createEndpoint(db.sql, keyring, project, { id: uuidv7(), url: 'https://hooks.example.com/h', description: null, eventTypes: [], enabled: true, now: at(0) })).id;
  await db.sql`
    with e as (
      insert into webhook_events (id, project_id, type, data, created_at)
      select gen_random_uuid(), ${project}, 'message.sent', jsonb_build_object('n', g), ${at(0)}::timestamptz + g * interval '1 second' from generate_series(1, ${n}) g
      returning id, created_at)
    insert into webhook_deliveries (event_id, endpoint_id, project_id, next_attempt_at, created_at, updated_at)
    select id, ${endpoint}, ${project}, created_at, created_at, created_at from e`;
  return { project, endpoint };
}
const result = (ok: boolean): AttemptResult => ({ ok, statusCode: ok ? 204 : 500, latencyMs: 3, error: ok ? null : 'HTTP 500', nextAttemptAt: ok ? null : at(3_600) });
const failingSince = async (endpoint: string) =>
  (await db.sql<{ f: Date | null }[]>`select failing_since as f from webhook_endpoints where id = ${endpoint}`)[0]!.f;

test('a batch of attempts is recorded in one statement: the streak follows their order, a claim no longer held records nothing', async () => {
  const { endpoint } = await endpointWith(6);
  const claimed = await claimDueWebhooks(db.sql, { now: at(100), leaseMs: 60_000, limit: 10, perEndpoint: 4 });
  assert.equal(claimed.length, 4, 'at most 4 in flight to one endpoint');
  assert.deepEqual(claimed.map((c) => (c.data as { n: number }).n), [1, 2, 3, 4], 'oldest first');
  assert.equal((await claimDueWebhooks(db.sql, { now: at(101), leaseMs: 60_000, limit: 10, perEndpoint: 4 })).length, 0, 'no room left');

  // A failure, a success, a failure: the streak runs from the last failure, not the first.
  const [a, b, c, d] = claimed as [typeof claimed[0], typeof claimed[0], typeof claimed[0], typeof claimed[0]];
  const first = await recordAttempts(db.sql, [
    { claim: a, result: result(false), now: at(110) },
    { claim: b, result: result(true), now: at(111) },
    { claim: c, result: result(false), now: at(112) },
    { claim: { id: d.id, leased_until: at(1) }, result: result(true), now: at(113) }, // another claim's lease
  ]);
  assert.deepEqual(first, [{ failingSince: at(110) }, { failingSince: null }, { failingSince: at(112) }, undefined]);
  assert.deepEqual(await failingSince(endpoint), at(112));
  const states = await db.sql<{ status: string; attempts: number; leased: boolean }[]>`
    select status, attempts, leased_until is not null as leased from webhook_deliveries where endpoint_id = ${endpoint} order by next_attempt_at, created_at`;
  assert.deepEqual(states.map((s) => s.status).sort(), ['pending', 'pending', 'pending', 'pending', 'pending', 'succeeded']);
  assert.equal((await db.sql`select count(*)::int as n from webhook_attempts where endpoint_id = ${endpoint}`)[0]!.n, 3, 'one log row per recorded attempt');

  // Another failure continues the streak from its start; a success ends it.
  const more = await claimDueWebhooks(db.sql, { now: at(120), leaseMs: 60_000, limit: 10, perEndpoint: 4 });
  assert.equal(more.length, 2, 'two slots were freed (d still holds its lease)');
  assert.deepEqual(await recordAttempts(db.sql, [{ claim: more[0]!, result: result(false), now: at(130) }]), [{ failingSince: at(112) }]);
  assert.deepEqual(await failingSince(endpoint), at(112));
  assert.deepEqual(await recordAttempts(db.sql, [{ claim: more[1]!, result: result(true), now: at(131) }]), [{ failingSince: null }]);
  assert.equal(await failingSince(endpoint), null);
});
