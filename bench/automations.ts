/**
 * `npm run bench -- automations`: the automation loop (src/scheduler/automations.ts) in this
 * process over a fresh database of the shared PostgreSQL, the PostgreSQL queue, the system clock.
 *
 * (a) Timers: N journeys (100,000) already waiting in a wait step, their due times spread evenly
 *     over S seconds from a start a few seconds ahead; the loop runs with its default lanes. Each
 *     journey's wait ends, and its next step sends one email message into the pipeline (a
 *     message row and its fan-out job). Reported: the lateness of each message (created_at minus
 *     the journey's due time) p50 / p99 / max, and the steps per second the loop kept up.
 * (b) Steps: M journeys (20,000) entered at once, two steps each (a send, then a profile update),
 *     run as fast as the loop goes: steps per second.
 * Baselines of the same run: the queue's own throughput, one job claimed and acked per
 *     transaction by as many lanes (the cost floor of "one unit of work per transaction"); and a
 *     bare SELECT by primary key, one per round trip, on the same pool.
 *
 * Options: --journeys N (100000) --spread S (seconds, 300) --steps M (20000) --lanes L (4)
 *          --database-url URL (postgres://postgres@127.0.0.1:5432/postgres)
 */
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { createScratchDatabase } from './support/databases.js';
import { printTable, saveResult, type Row } from './support/report.js';
import { pool, summarize } from './support/stats.js';
import { migrate } from '../src/store/migrate.js';
import { silentLogger } from '../src/observability/logger.js';
import { createPostgresQueue } from '../src/queue/postgres/queue.js';
import { systemClock } from '../src/domain/clock.js';
import { uuidv7 } from '../src/domain/ids.js';
import { insertAutomation } from '../src/store/automations.js';
import { startAutomations } from '../src/scheduler/automations.js';
import { parseDefinition, eventNamesOf } from '../src/domain/automations/definition.js';

const { values } = parseArgs({
  options: {
    journeys: { type: 'string', default: '100000' },
    spread: { type: 'string', default: '300' },
    steps: { type: 'string', default: '20000' },
    lanes: { type: 'string', default: '4' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const journeys = Number(values.journeys);
const spreadMs = Number(values.spread) * 1000;
const stepJourneys = Number(values.steps);
const lanes = Number(values.lanes);
const log = silentLogger();

const db = await createScratchDatabase(values['database-url'], 'automations');
const sql = postgres(db.url, { max: 20, onnotice: () => {} });
const rows: Row[] = [];
const result: Record<string, unknown> = { journeys, spread_s: spreadMs / 1000, step_journeys: stepJourneys, lanes };
try {
  await migrate(sql);
  const queue = createPostgresQueue({ sql, log, maxAttempts: 5, clock: systemClock });
  const [project] = await sql<{ id: string }[]>`insert into projects (id, name) values (${uuidv7()}, 'bench') returning id`;
  const projectId = project!.id;
  const n = Math.max(journeys, stepJourneys);
  await sql`insert into profiles (project_id, custom_id, email)
            select ${projectId}, 'p' || i, 'p' || i || '@example.com' from generate_series(0, ${n - 1}) as i`;
  const create = async (definition: unknown) => {
    const id = uuidv7();
    await sql.begin((tx) => insertAutomation(tx, { id, projectId, name: 'bench', live: true, definition, eventNames: eventNamesOf(parseDefinition(definition)), now: new Date() }));
    return id;
  };
  const email = { email: { subject: 'Hello {{ profile.custom_id }}', text: 'bench' } };

  // Baselines first, on an idle database.
  const baseJobs = 20_000;
  await queue.enqueue(sql, Array.from({ length: baseJobs }, (_, i) => ({ topic: 'bench.base', payload: { i } })));
  let t0 = performance.now();
  await pool(baseJobs, lanes, async () => {
    const jobs = await queue.claim('bench.base', { max: 1, leaseMs: 30_000, waitMs: 0 });
    await queue.ack(jobs);
  });
  const queuePerS = baseJobs / ((performance.now() - t0) / 1000);
  const probes = 20_000;
  t0 = performance.now();
  await pool(probes, lanes, async (i) => { await sql`select custom_id from profiles where project_id = ${projectId} and custom_id = ${'p' + (i % n)}`; });
  const selectPerS = probes / ((performance.now() - t0) / 1000);
  rows.push({ measure: 'baseline: queue claim + ack, 1 job per transaction', value: Math.round(queuePerS), unit: 'jobs/s' });
  rows.push({ measure: 'baseline: SELECT by primary key, 1 per round trip', value: Math.round(selectPerS), unit: 'queries/s' });
  result.queue_jobs_per_s = queuePerS;
  result.select_per_s = selectPerS;

  // (b) Steps as fast as they go.
  const fast = await create({ trigger: { type: 'api' }, steps: [
    { id: 'send', type: 'send', channels: ['email'], content: email },
    { id: 'mark', type: 'update_profile', set: { benched: true } },
  ] });
  await sql`insert into automation_journeys (id, project_id, automation_id, version, custom_id, entry_key, state, step, due_at, trigger, entered_at)
            select gen_random_uuid(), ${projectId}, ${fast}, 1, 'p' || i, 'bench:' || i, 'active', 'send', now(), '{"name":"api","time":"2026-01-01T00:00:00Z","attributes":{}}', now()
              from generate_series(0, ${stepJourneys - 1}) as i`;
  t0 = performance.now();
  let loop = startAutomations({ sql, queue, clock: systemClock, log }, { lanes });
  for (;;) {
    const [r] = await sql<{ n: number }[]>`select count(*)::int as n from automation_journeys where automation_id = ${fast} and state = 'active'`;
    if (r!.n === 0) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const stepsPerS = (2 * stepJourneys) / ((performance.now() - t0) / 1000);
  await loop.stop();
  rows.push({ measure: `steps: ${stepJourneys} journeys × 2 steps (send, update)`, value: Math.round(stepsPerS), unit: 'steps/s' });
  result.steps_per_s = stepsPerS;

  // (a) Timers: N journeys waiting, due evenly over the spread.
  const timed = await create({ trigger: { type: 'api' }, steps: [
    { id: 'wait', type: 'wait', duration: { days: 1 } },
    { id: 'send', type: 'send', channels: ['email'], content: email },
  ] });
  const start = Date.now() + 5_000;
  await sql`insert into automation_journeys (id, project_id, automation_id, version, custom_id, entry_key, state, step, due_at, waiting, trigger, entered_at)
            select gen_random_uuid(), ${projectId}, ${timed}, 1, 'p' || i, 'timer:' || i, 'active', 'wait',
                   ${new Date(start)}::timestamptz + make_interval(secs => (i::float8 * ${spreadMs / 1000} / ${journeys})), true,
                   '{"name":"api","time":"2026-01-01T00:00:00Z","attributes":{}}', now()
              from generate_series(0, ${journeys - 1}) as i`;
  await sql`analyze automation_journeys`;
  loop = startAutomations({ sql, queue, clock: systemClock, log }, { lanes });
  for (;;) {
    const [r] = await sql<{ n: number }[]>`select count(*)::int as n from automation_journeys where automation_id = ${timed} and state = 'active'`;
    if (r!.n === 0) break;
    await new Promise((res) => setTimeout(res, 1_000));
  }
  await loop.stop();
  const late = await sql<{ ms: number }[]>`
    select extract(epoch from (m.created_at - (${new Date(start)}::timestamptz + make_interval(secs => (substr(j.custom_id, 2)::int::float8 * ${spreadMs / 1000} / ${journeys}))))) * 1000 as ms
      from automation_journeys j
      join automation_sends s on s.journey_id = j.id
      join messages m on m.id = s.message_id
     where j.automation_id = ${timed}`;
  const lateness = summarize(late.map((r) => Number(r.ms)));
  rows.push({ measure: `timers: ${journeys} waiting, due over ${spreadMs / 1000} s: messages`, value: lateness.n, unit: 'messages' });
  rows.push({ measure: 'timers: lateness p50 (due → message)', value: Math.round(lateness.p50), unit: 'ms' });
  rows.push({ measure: 'timers: lateness p99', value: Math.round(lateness.p99), unit: 'ms' });
  rows.push({ measure: 'timers: lateness max', value: Math.round(lateness.max), unit: 'ms' });
  result.lateness_ms = lateness;
  result.required_steps_per_s = (2 * journeys) / (spreadMs / 1000);
  printTable(rows);
  console.log(`# written to ${await saveResult('automations', result)}`);
  await queue.close();
} finally {
  await sql.end({ timeout: 5 });
  await db.drop();
}
