/**
 * The targeting language has two implementations, the in-memory evaluator (domain/targeting/
 * evaluate.ts) and the SQL it compiles to (domain/targeting/sql.ts). These tests hold them to the
 * same answer on random profiles and random queries, on a real PostgreSQL, with values chosen to
 * fall on every edge: absent, JSON null, another type, equal bounds, window edges, version prefixes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Sql } from 'postgres';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { createProject } from './projects.js';
import { countMatching, loadSubjects, matchingPage } from './targeting.js';
import { matches, type TargetingSubject } from '../domain/targeting/evaluate.js';
import { parseQuery, type Query } from '../domain/targeting/query.js';
import { uuidv7 } from '../domain/ids.js';

const { keyring } = testMasterKey();
const day = 86_400_000;
const now = Date.parse('2026-06-15T12:00:00.000Z');

// Values on the edges of each condition: window bounds exactly, a year-0 date, equal numbers.
const instants = [now, now - day, now - 10 * day, now - 30 * day, now - 30 * day - 1, now + 2 * day, now + 40 * day, Date.parse('1990-04-01T00:00:00Z'), Date.parse('0000-01-01T00:00:00Z')];
const numbers = [-2, 0, 1, 2.5, 10, 1e21];
const strings = ['x', 'y', '', 'X'];
const tags = ['x', 'y', 'z'];
// Few names, so that queries and profiles meet often.
const attributeNames = ['a', 'b', 'tags'];
const versions = ['1.2', '1.10', '1.2.0', '2', '2.0 (87)', 'beta', '01.2'];
const audienceIds = ['aud1', 'aud2'];

const storedValue = fc.oneof(
  fc.constantFrom(...numbers),
  fc.constantFrom(...strings),
  fc.boolean(),
  fc.uniqueArray(fc.constantFrom(...tags), { minLength: 1 }),
  fc.constantFrom(...instants).map((ms) => ({ $date: new Date(ms).toISOString() })),
);

interface Generated {
  customId: string;
  subject: TargetingSubject;
}

const profile = (customId: string) =>
  fc.record({
    language: fc.constantFrom('fr', 'en', null),
    region: fc.constantFrom('FR', 'US', null),
    timezone: fc.constantFrom('Europe/Paris', null),
    email: fc.constantFrom('a@example.com', null),
    phone: fc.constantFrom('+33612345678', null),
    email_subscription: fc.constantFrom('subscribed', 'unsubscribed', null),
    sms_subscription: fc.constantFrom('subscribed', 'unsubscribed', null),
    attributes: fc.dictionary(fc.constantFrom(...attributeNames), storedValue, { maxKeys: 3 }),
    events: fc.array(fc.record({
      name: fc.constantFrom('buy', 'open'),
      time: fc.constantFrom(now - day / 2, now - 5 * day, now - 10 * day, now - 20 * day, now - 60 * day, now + day / 2, Date.parse('2000-01-01T00:00:00Z')),
      attributes: fc.dictionary(fc.constantFrom('amount', 'kind'), fc.oneof(fc.constantFrom(...numbers), fc.constantFrom(...strings), fc.constant(null), fc.uniqueArray(fc.constantFrom(...tags)), fc.constant({ nested: 1 })), { maxKeys: 2 }),
    }), { maxLength: 4 }),
    installations: fc.array(fc.record({
      platform: fc.constantFrom('ios', 'android', 'web'),
      pushToken: fc.constantFrom('tok', null),
      appVersion: fc.constantFrom(...versions, null),
      sdkVersion: fc.constantFrom(...versions, null),
    }), { maxLength: 3 }),
    audiences: fc.subarray(audienceIds),
  }).map(({ attributes, events, installations, audiences, ...native }): Generated => ({
    customId,
    subject: { native, attributes, events, installations: installations.map((i, n) => ({ ...i, pushToken: i.pushToken && `${i.pushToken}-${customId}-${n}` })), audiences: new Set(audiences) },
  }));

const dataset = fc.integer({ min: 3, max: 14 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => profile(`u${i}`))));

const isoOf = (ms: number) => new Date(ms).toISOString();
const jsonCondition = fc.oneof(
  fc.record({ eq: fc.oneof(fc.constantFrom(...numbers), fc.constantFrom(...strings), fc.boolean()) }),
  fc.record({ neq: fc.oneof(fc.constantFrom(...numbers), fc.constantFrom(...strings), fc.boolean()) }),
  fc.record({ in: fc.array(fc.oneof(fc.constantFrom(...numbers), fc.constantFrom(...strings)), { minLength: 1, maxLength: 3 }) }),
  fc.record({ gt: fc.constantFrom(...numbers) }),
  fc.record({ gte: fc.oneof(fc.constantFrom(...numbers), fc.constantFrom(...instants).map(isoOf)) }),
  fc.record({ lt: fc.oneof(fc.constantFrom(...numbers), fc.constantFrom(...instants).map(isoOf)) }),
  fc.record({ lte: fc.constantFrom(...numbers) }),
  fc.tuple(fc.constantFrom(...numbers), fc.constantFrom(...numbers)).map(([a, b]) => ({ between: [Math.min(a, b), Math.max(a, b)] })),
  fc.tuple(fc.constantFrom(...instants), fc.constantFrom(...instants)).map(([a, b]) => ({ between: [isoOf(Math.min(a, b)), isoOf(Math.max(a, b))] })),
  fc.record({ exists: fc.boolean() }),
  fc.record({ contains: fc.constantFrom(...tags) }),
  fc.record({ contains_any: fc.uniqueArray(fc.constantFrom(...tags), { minLength: 1 }) }),
  fc.record({ within_last_days: fc.constantFrom(1, 10, 30) }),
  fc.record({ more_than_days_ago: fc.constantFrom(1, 30) }),
  fc.record({ within_next_days: fc.constantFrom(2, 40) }),
);
const eventCondition = fc.oneof(
  fc.record({ eq: fc.oneof(fc.constantFrom(...numbers), fc.constantFrom(...strings)) }),
  fc.record({ neq: fc.constantFrom(...strings) }),
  fc.record({ gte: fc.constantFrom(...numbers) }),
  fc.record({ exists: fc.boolean() }),
  fc.record({ contains: fc.constantFrom(...tags) }),
);
const textCondition = (values: readonly string[]) => fc.oneof(
  fc.record({ eq: fc.constantFrom(...values) }),
  fc.record({ neq: fc.constantFrom(...values) }),
  fc.record({ in: fc.uniqueArray(fc.constantFrom(...values), { minLength: 1 }) }),
  fc.record({ exists: fc.boolean() }),
);
const versionCondition = fc.oneof(
  textCondition(versions),
  fc.record({ gte: fc.constantFrom('1.2', '1.10', '2', '1.2.0') }),
  fc.record({ lt: fc.constantFrom('1.10', '2') }),
  fc.record({ between: fc.constant(['1.2', '1.10']) }),
);

const leaf = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...attributeNames, 'missing'), jsonCondition).map(([attribute, c]) => ({ attribute, ...c })) },
  fc.oneof(
    fc.tuple(fc.constantFrom('language', 'region'), textCondition(['fr', 'en', 'FR', 'US'])),
    fc.tuple(fc.constantFrom('email_subscription', 'sms_subscription'), textCondition(['subscribed', 'unsubscribed'])),
  ).map(([field, c]) => ({ field, ...c })),
  fc.record({
    event: fc.constantFrom('buy', 'open'),
    count: fc.option(fc.oneof(fc.record({ gte: fc.constantFrom(0, 1, 2) }), fc.record({ lte: fc.constantFrom(0, 1) }), fc.constant({ gte: 1, lte: 2 })), { nil: undefined }),
    within_days: fc.option(fc.constantFrom(1, 10, 20), { nil: undefined }),
    where: fc.option(fc.array(fc.tuple(fc.constantFrom('amount', 'kind'), eventCondition).map(([attribute, c]) => ({ attribute, ...c })), { maxLength: 2 }), { nil: undefined }),
  }, { requiredKeys: ['event'] }),
  fc.record({ event: fc.constantFrom('buy'), since: fc.constantFrom(now - 10 * day, Date.parse('0000-01-01T00:00:00Z')).map(isoOf) }),
  fc.record({
    platform: fc.option(textCondition(['ios', 'android', 'web']), { nil: undefined }),
    push_enabled: fc.option(fc.boolean(), { nil: undefined }),
    app_version: fc.option(versionCondition, { nil: undefined }),
    sdk_version: fc.option(versionCondition, { nil: undefined }),
  }, { requiredKeys: [] }).map((installation) => ({ installation })),
  fc.record({ app_version: versionCondition }).map((installation) => ({ installation })),
  fc.record({ sdk_version: versionCondition }).map((installation) => ({ installation })),
  fc.constantFrom(...audienceIds, 'aud-none').map((audience) => ({ audience })),
);

const queryJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('all'), tie('any'), tie('not')),
  all: fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
  any: fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
  not: tie('node').map((not) => ({ not })),
})).node;

async function store(sql: Sql, projectId: string, profiles: Generated[]): Promise<void> {
  await sql`delete from profiles where project_id = ${projectId}`;
  await sql`delete from events where project_id = ${projectId}`;
  await sql`delete from installations where project_id = ${projectId}`;
  await sql`delete from audience_members where project_id = ${projectId}`;
  for (const { customId, subject: s } of profiles) {
    await sql`insert into profiles ${sql({ project_id: projectId, custom_id: customId, ...s.native, attributes: sql.json(s.attributes as never) })}`;
    for (const e of s.events) {
      await sql`insert into events (project_id, id, custom_id, name, time, attributes) values (${projectId}, ${uuidv7()}, ${customId}, ${e.name}, ${new Date(e.time)}, ${sql.json(e.attributes as never)})`;
    }
    for (const [n, i] of s.installations.entries()) {
      await sql`insert into installations (project_id, install_id, platform, push_token, custom_id, app_version, sdk_version) values (${projectId}, ${`${customId}-${n}`}, ${i.platform}, ${i.pushToken}, ${customId}, ${i.appVersion}, ${i.sdkVersion})`;
    }
    for (const a of s.audiences) await sql`insert into audience_members (project_id, audience_id, custom_id) values (${projectId}, ${a}, ${customId})`;
  }
}

test('the SQL a query compiles to selects exactly the profiles the evaluator matches', async () => {
  const db = await testDatabase();
  try {
    const { project_id } = await createProject(db.sql, 't', keyring);
    for (const id of audienceIds) await db.sql`insert into audiences (project_id, id, name) values (${project_id}, ${id}, ${id})`;
    let compared = 0;
    let nonTrivial = 0;
    await fc.assert(
      fc.asyncProperty(dataset, fc.array(queryJson, { minLength: 1, maxLength: 12 }), async (profiles, queries) => {
        await store(db.sql, project_id, profiles);
        const loaded = await loadSubjects(db.sql, project_id, profiles.map((p) => p.customId), parseQuery({ any: [{ event: 'buy' }, { event: 'open' }] }));
        for (const json of queries) {
          const query: Query = parseQuery(json);
          const expected = profiles.filter((p) => matches(query, p.subject, now)).map((p) => p.customId).sort();
          const selected = await matchingPage(db.sql, project_id, query, now, { limit: 100 });
          assert.deepEqual(selected, expected, JSON.stringify(json));
          assert.equal(await countMatching(db.sql, project_id, query, now), expected.length);
          // What loadSubjects reads back decides the same as what was stored.
          const fromStore = profiles.filter((p) => matches(query, loaded.get(p.customId)!, now)).map((p) => p.customId).sort();
          assert.deepEqual(fromStore, expected, JSON.stringify(json));
          compared++;
          if (expected.length > 0 && expected.length < profiles.length) nonTrivial++;
        }
      }),
      { numRuns: 100 },
    );
    // The generators must reach both answers: most comparisons split their dataset.
    assert.ok(nonTrivial > compared / 4, `${nonTrivial} of ${compared} queries split their profiles`);
  } finally {
    await db.close();
  }
});

test('keyset pages walk every matching profile once, in order', async () => {
  const db = await testDatabase();
  try {
    const { project_id } = await createProject(db.sql, 't', keyring);
    await db.sql`insert into profiles (project_id, custom_id, attributes)
      select ${project_id}, 'p' || lpad(g::text, 4, '0'), jsonb_build_object('n', g) from generate_series(1, 1000) g`;
    const query = parseQuery({ attribute: 'n', gt: 500 });
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await matchingPage(db.sql, project_id, query, now, { after, limit: 128 });
      if (!page.length) break;
      seen.push(...page);
      after = page.at(-1);
    }
    assert.equal(seen.length, 500);
    assert.deepEqual(seen, [...seen].sort());
    assert.equal(new Set(seen).size, 500);
    assert.equal(seen[0], 'p0501');
  } finally {
    await db.close();
  }
});
