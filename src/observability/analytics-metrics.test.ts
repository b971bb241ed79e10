/**
 * The herald_analytics_* counters on real PostgreSQL with the test clock: they equal the rollups
 * summed over every project, follow new hours, keep settled hours without reading them again,
 * class skip reasons, and are left out (not zero) while the database does not answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { testClock } from '../../test/support/clock.js';
import { createProject } from '../store/projects.js';
import { postgresStats, type StatsStore } from '../store/stats.js';
import { analyticsTotals, registerAnalyticsMetrics } from './analytics-metrics.js';

const hour = 3_600_000;

test('the analytics counters are the rollups of every project, new hours read on each scrape and settled ones kept', async (t) => {
  const db = await testDatabase();
  t.after(() => db.close());
  const { keyring } = testMasterKey();
  const a = await createProject(db.sql, 'a', keyring);
  const b = await createProject(db.sql, 'b', keyring);
  const clock = testClock();
  const hourStart = (ms: number) => new Date(Math.floor(ms / hour) * hour);
  const row = (project: string, kind: string, channel: string, at: Date, sent: number, opens = 0) => db.sql`
    insert into stats_hourly (project_id, source_kind, source_id, channel, hour, sent, opens_unique)
    values (${project}, ${kind}, 'g', ${channel}, ${at}, ${sent}, ${opens})`;
  const skip = (project: string, at: Date, reason: string, n: number) => db.sql`
    insert into stats_skips_hourly (project_id, source_kind, source_id, channel, hour, reason, skipped)
    values (${project}, 'campaign', 'g', 'apns', ${at}, ${reason}, ${n})`;

  const old = hourStart(clock.now() - 30 * 24 * hour);
  const now = hourStart(clock.now());
  await row(a.project_id, 'campaign', 'apns', old, 100, 40);
  await row(b.project_id, 'campaign', 'apns', old, 10, 1);
  await row(a.project_id, 'transactional', 'email', now, 7);
  await skip(a.project_id, old, 'capped: one a day', 3);
  await skip(b.project_id, now, 'capped: weekly', 2);
  await skip(a.project_id, now, 'suppressed', 5);

  let reads = 0;
  const store = postgresStats(db.sql);
  const counting: StatsStore = { buckets: (q) => store.buckets(q), totals: (r) => { reads++; return store.totals(r); } };
  const registry = new Registry();
  registerAnalyticsMetrics(registry, analyticsTotals(counting, clock));
  const scrape = async () => {
    const out = new Map<string, number>();
    for (const m of await registry.getMetricsAsJSON()) {
      for (const v of m.values) out.set(`${m.name}${JSON.stringify(v.labels)}`, v.value);
    }
    return out;
  };

  let s = await scrape();
  assert.equal(s.get('herald_analytics_sent_total{"source":"campaign","channel":"apns"}'), 110);
  assert.equal(s.get('herald_analytics_opens_unique_total{"source":"campaign","channel":"apns"}'), 41);
  assert.equal(s.get('herald_analytics_sent_total{"source":"transactional","channel":"email"}'), 7);
  assert.equal(s.get('herald_analytics_skipped_by_reason_total{"source":"campaign","channel":"apns","reason":"capped"}'), 5);
  assert.equal(s.get('herald_analytics_skipped_by_reason_total{"source":"campaign","channel":"apns","reason":"suppressed"}'), 5);
  // Every counter of one scrape shared one read: the settled hours once and the recent ones once.
  assert.equal(reads, 2);

  // A new fact in the current hour shows at the next scrape (after the shared read's few seconds).
  await db.sql`update stats_hourly set sent = sent + 5 where project_id = ${a.project_id} and hour = ${now}`;
  clock.advance(10_000);
  s = await scrape();
  assert.equal(s.get('herald_analytics_sent_total{"source":"transactional","channel":"email"}'), 12);
  assert.equal(reads, 3, 'the settled hours were not read again');

  // Three hours on, the hour that was current has settled into the kept totals; still exact.
  clock.advance(3 * hour);
  await row(a.project_id, 'transactional', 'email', hourStart(clock.now()), 1);
  s = await scrape();
  assert.equal(s.get('herald_analytics_sent_total{"source":"transactional","channel":"email"}'), 13);
  assert.equal(reads, 5, 'the newly settled hours read once, then the recent ones');
  // Kept, not re-read: a settled row changed behind its back does not move the total.
  await db.sql`update stats_hourly set sent = 0 where hour = ${old}`;
  clock.advance(10_000);
  s = await scrape();
  assert.equal(s.get('herald_analytics_sent_total{"source":"campaign","channel":"apns"}'), 110);

  // The database away: the series are left out, then come back.
  const failing = new Registry();
  registerAnalyticsMetrics(failing, analyticsTotals({ buckets: store.buckets, totals: () => Promise.reject(new Error('down')) }, clock));
  const down = (await failing.getMetricsAsJSON()).find((m) => m.name === 'herald_analytics_sent_total')!;
  assert.deepEqual(down.values, []);
});
