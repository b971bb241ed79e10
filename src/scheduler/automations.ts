/**
 * The automation loop (docs/automations.md): in each pass it acts on the events kept for the
 * automations (store/automation-journeys.ts#takeInbox: exits, waits for an event, entries, in the
 * order the events were stored), then runs the due journeys, one step per transaction, each
 * claimed with FOR UPDATE SKIP LOCKED so several processes share them and none runs one twice.
 * Every timer is a journey's due_at: the claim reads one partial index, however many wait. With
 * nothing to do it sleeps on Herald's clock (a test moving its clock wakes it).
 */
import type { Sql, TransactionSql } from 'postgres';
import type { Logger } from 'pino';
import type { WorkQueue } from '../queue/queue.js';
import type { Clock } from '../domain/clock.js';
import { addCounts, claimDueJourneys, listeners, runningJourneys, takeInbox, type CountDelta, type InboxEvent } from '../store/automation-journeys.js';
import { enterAutomation } from './automation-entry.js';
import { eventPasses, loadAutomationModel } from './automation-model.js';
import { endWaitOnEvent, exitJourney, runJourneyStep, type StepRun } from './automation-steps.js';
import { lookAtSegment, segmentSweepMs, sweepSegments } from './automation-segments.js';
import { every } from './every.js';

/** Kept events acted on per transaction. */
const inboxBatch = 200;
/** How long an idle loop sleeps before it looks again: the latency of an entry and of a due step. */
export const automationIdleMs = 250;
/** A step whose transaction failed runs again after this long. */
const failedStepRetryMs = 60_000;

export interface AutomationDeps {
  sql: Sql;
  queue: WorkQueue;
  clock: Clock;
  log: Logger;
}

/** Acts on one kept event: the profile's journeys it exits or wakes, then the entries it makes. */
export async function handleEvent(tx: TransactionSql, e: InboxEvent, now: number): Promise<void> {
  const event = { name: e.name, time: e.time.getTime(), attributes: e.attributes };
  for (const l of await listeners(tx, e.project_id, e.name)) {
    for (const j of await runningJourneys(tx, l.id, e.project_id, e.custom_id)) {
      const model = await loadAutomationModel(tx, j.automation_id, j.version);
      if (!model) continue;
      if (model.exitOn.some((q) => eventPasses(q, event, now))) {
        await exitJourney(tx, j, 'exit_event', now);
        continue;
      }
      const step = model.steps.get(j.step);
      if (j.waiting && j.waits_for === e.name && step?.type === 'wait_for_event' && eventPasses(step.filter, event, now)) {
        await endWaitOnEvent(tx, j, step, now);
      }
    }
    if (l.state !== 'live') continue;
    const model = await loadAutomationModel(tx, l.id, l.version);
    // A segment trigger looks at the profile a write or an event touched (automation-segments.ts).
    if (model?.trigger.type === 'segment') {
      await lookAtSegment(tx, { id: l.id, projectId: e.project_id, version: l.version, model }, e.custom_id, now);
      continue;
    }
    if (!model || model.trigger.type !== 'event' || model.trigger.event !== e.name || !eventPasses(model.trigger.filter, event, now)) continue;
    await enterAutomation(tx, { id: l.id, projectId: e.project_id, version: l.version, model }, {
      customId: e.custom_id, entryKey: `event:${e.event_id}`, now,
      trigger: { name: e.name, time: e.time.toISOString(), attributes: e.attributes },
    });
  }
}

/** Takes a batch of kept events and acts on them in one transaction; how many it took. */
export async function processInbox(deps: AutomationDeps): Promise<number> {
  return deps.sql.begin(async (tx) => {
    const events = await takeInbox(tx, inboxBatch);
    const now = deps.clock.now();
    for (const e of events) await handleEvent(tx, e, now);
    return events.length;
  });
}

/** Runs one due journey's step in its own transaction; undefined when none is due. */
export async function runOneDue(deps: AutomationDeps): Promise<StepRun | undefined> {
  let claimed: string | undefined;
  try {
    return await deps.sql.begin(async (tx) => {
      const now = deps.clock.now();
      const [j] = await claimDueJourneys(tx, new Date(now), 1);
      if (!j) return undefined;
      claimed = j.id;
      const [a] = await tx<{ state: string }[]>`select state from automations where id = ${j.automation_id}`;
      const model = await loadAutomationModel(tx, j.automation_id, j.version);
      return runJourneyStep(tx, deps, j, model, a?.state ?? 'stopped', now);
    });
  } catch (err) {
    // The step rolled back whole; it runs again later rather than at once, so one journey that
    // keeps failing does not hold the loop.
    if (claimed) {
      await deps.sql`update automation_journeys set due_at = ${new Date(deps.clock.now() + failedStepRetryMs)} where id = ${claimed} and state = 'active'`
        .catch(() => undefined);
    }
    throw err;
  }
}

/** Due journeys one transaction takes: one step of each. */
export const stepBatch = 100;

/**
 * Runs one step of each of up to `limit` due journeys in one transaction: each journey's step is
 * whole in it (its effect, its move, its counts), and the counters are written once at the end,
 * each row once, so transactions running side by side do not queue on a hot counter row. If the
 * transaction fails, its journeys are run one per transaction, so one bad journey is set aside
 * alone (runOneDue). How many journeys it ran.
 */
export async function runDueBatch(deps: AutomationDeps, limit = stepBatch): Promise<number> {
  try {
    return await deps.sql.begin(async (tx) => {
      const now = deps.clock.now();
      const due = await claimDueJourneys(tx, new Date(now), limit);
      if (!due.length) return 0;
      const states = new Map((await tx<{ id: string; state: string }[]>`
        select id, state from automations where id = any(${[...new Set(due.map((j) => j.automation_id))]})`).map((a) => [a.id, a.state]));
      const pending = new Map<string, { automationId: string; version: number; deltas: CountDelta[] }>();
      const count = async (_tx: TransactionSql, automationId: string, version: number, deltas: CountDelta[]) => {
        const key = `${automationId}@${version}`;
        const p = pending.get(key) ?? { automationId, version, deltas: [] };
        p.deltas.push(...deltas);
        pending.set(key, p);
      };
      for (const j of due) {
        const model = await loadAutomationModel(tx, j.automation_id, j.version);
        await runJourneyStep(tx, { queue: deps.queue, count }, j, model, states.get(j.automation_id) ?? 'stopped', now);
      }
      for (const key of [...pending.keys()].sort()) {
        const p = pending.get(key)!;
        await addCounts(tx, p.automationId, p.version, p.deltas);
      }
      return due.length;
    });
  } catch (err) {
    deps.log.warn({ err }, 'a batch of automation steps failed; running them one at a time');
    let n = 0;
    for (let i = 0; i < limit; i++) {
      try {
        if ((await runOneDue(deps)) === undefined) break;
        n++;
      } catch (e) {
        deps.log.warn({ err: e }, 'automation step failed; it runs again later');
      }
    }
    return n;
  }
}

/** One pass: the kept events, then up to `maxSteps` due steps. How much it did. */
export async function automationPass(deps: AutomationDeps, maxSteps = 1_000): Promise<{ events: number; steps: number }> {
  let events = 0;
  for (let n = -1; n !== 0;) events += n = await processInbox(deps);
  let steps = 0;
  for (let n = -1; n !== 0 && steps < maxSteps;) steps += n = await runDueBatch(deps);
  return { events, steps };
}

/** Runs passes until stopped, `lanes` of due steps at once, sleeping when there is nothing to do. */
export function startAutomations(deps: AutomationDeps, o: { lanes?: number } = {}): { stop(): Promise<void> } {
  const stopped = new AbortController();
  const lane = async (inbox: boolean) => {
    while (!stopped.signal.aborted) {
      let busy = false;
      try {
        if (inbox) busy = (await processInbox(deps)) > 0;
        busy = (await runDueBatch(deps)) > 0 || busy;
      } catch (err) {
        deps.log.warn({ err }, 'automation step failed; will try again');
      }
      if (!busy) await deps.clock.sleep(automationIdleMs, stopped.signal);
    }
  };
  const lanes = Array.from({ length: o.lanes ?? 4 }, (_, i) => lane(i === 0));
  // Segment conditions that change with time alone: swept, compiled to SQL.
  const sweep = every(deps.clock, segmentSweepMs, async () => {
    await sweepSegments(deps).catch((err: unknown) => deps.log.warn({ err }, 'segment sweep failed; will try again'));
  });
  return {
    stop: async () => {
      stopped.abort();
      await Promise.all([...lanes, sweep.stop()]);
    },
  };
}
