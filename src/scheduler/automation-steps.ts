/**
 * One step of one journey, in the caller's transaction, the journey row locked (scheduler/automations.ts
 * claims it): gather the facts the step needs, let domain/automations/journey.ts decide, perform
 * the step's side effect (a message handed to the delivery pipeline, a profile change) claimed
 * once per (journey, step, attempt), move the journey on, and count it, all in that transaction.
 * So a worker killed mid-step leaves nothing (the transaction rolls back and the step runs again),
 * and a step run twice sends nothing twice.
 *
 * A send step goes through the normal message pipeline: a message with group `automation:<id>`
 * (capping counts it as an automation's, marketing; the analytics roll it up under the
 * automation), its content rendered with the profile and the trigger event (`{{ event.attributes.sku }}`),
 * its channel the first of the step's channels the profile can be reached on. A profile that
 * cannot be reached, or whose template fails, is counted (skipped, failed) and moves on.
 */
import type { TransactionSql } from 'postgres';
import type { WorkQueue } from '../queue/queue.js';
import type { ContentPart, MessageContent } from '../domain/channels.js';
import { uuidv7 } from '../domain/ids.js';
import { chooseChannel } from '../domain/campaigns/channel-choice.js';
import { renderPart } from '../domain/campaigns/content.js';
import { renderContent } from '../domain/personalization/template.js';
import { personalizationScope } from '../domain/personalization/scope.js';
import { decideStep, type StepResult } from '../domain/automations/journey.js';
import type { AutomationModel, Step } from '../domain/automations/definition.js';
import { QueryError, type Query } from '../domain/targeting/query.js';
import { insertMessages } from '../store/messages.js';
import { changeProfiles } from '../store/profiles.js';
import { projectTimezone } from '../store/campaigns.js';
import { addCounts, claimStepEffect, moveJourney, recordStepMessage, type CountDelta, type Journey } from '../store/automation-journeys.js';
import { endpointUrl, insertCall, setWaitingDue } from '../store/automation-calls.js';
import { topics, type FanoutPayload } from '../worker/topics.js';
import { profileMatches, subjectOf } from './automation-model.js';

export const automationGroup = (automationId: string) => `automation:${automationId}`;

export interface StepDeps {
  queue: WorkQueue;
  /**
   * Where a step's counts go: by default written at once; a batch of steps in one transaction
   * collects them and writes each counter row once, at its end (scheduler/automations.ts).
   */
  count?: ((tx: TransactionSql, automationId: string, version: number, deltas: CountDelta[]) => Promise<void>) | undefined;
}

const write = (deps: StepDeps) => deps.count ?? addCounts;

/** What one run did, for the loop's metrics and the tests. */
export type StepRun = { kind: 'moved'; to: string | null } | { kind: 'waiting'; until: number } | { kind: 'exited'; reason: string } | { kind: 'stale' };

/**
 * Runs the journey's current step. `automationState` is its automation's: a stopped one exits the
 * journey. Returns `stale` when the journey had moved past this attempt (nothing was done).
 */
export async function runJourneyStep(tx: TransactionSql, deps: StepDeps, j: Journey, model: AutomationModel | undefined, automationState: string, now: number): Promise<StepRun> {
  const at = new Date(now);
  const counts: CountDelta[] = [];
  const exit = async (reason: string): Promise<StepRun> => (await exitJourney(tx, j, reason, now, counts, deps) ? { kind: 'exited', reason } : { kind: 'stale' });
  // The fence, before any side effect: a journey that has moved past this attempt (another worker
  // ran it) is left alone. The claim of the step's effect below holds even without it.
  const [current] = await tx<{ seq: number; state: string }[]>`select seq, state from automation_journeys where id = ${j.id} for update`;
  if (!current || current.seq !== j.seq || current.state !== 'active') return { kind: 'stale' };
  if (automationState === 'stopped') return exit('automation_stopped');
  // A saved segment the version names may have been deleted since: the journey cannot decide, and exits.
  const condition = async (q: Query) => {
    try {
      return await profileMatches(tx, j.project_id, j.custom_id, q, now);
    } catch (e) {
      if (e instanceof QueryError) return 'segment_missing' as const;
      throw e;
    }
  };
  const step = model?.steps.get(j.step);
  if (!model || !step) return exit('step_missing');
  // The journey's lifetime: every wait is cut at its deadline, so the journey is due then and ends here.
  const deadline = model.maxDurationMs === null ? null : j.entered_at.getTime() + model.maxDurationMs;
  if (deadline !== null && now >= deadline) return exit('max_duration');
  // A webhook step waits on its call, which the worker role finishes (store/automation-calls.ts):
  // the journey is due here only if a failed run put it off; it goes back to waiting, at its attempt.
  if (j.waiting && step.type === 'webhook') {
    await setWaitingDue(tx, j.id, j.seq, deadline === null ? null : new Date(deadline));
    return { kind: 'waiting', until: deadline ?? Infinity };
  }

  // Targeting is checked again once a wait is over (by default): who left the audience exits.
  if (j.waiting && model.recheckAfterWait && model.audience) {
    const fits = await condition(model.audience);
    if (fits === 'segment_missing') return exit('segment_missing');
    if (fits === 'no_profile') return exit('profile_deleted');
    if (!fits) return exit('left_audience');
  }

  let sent = j.sent;
  let result: StepResult;
  if (!j.waiting) counts.push({ step: step.id, metric: 'entered' });
  switch (step.type) {
    case 'branch': {
      const fits = await condition(step.condition);
      if (fits === 'segment_missing') return exit('segment_missing');
      if (fits === 'no_profile') return exit('profile_deleted');
      result = decideStep(step, { now, waiting: j.waiting, condition: fits, journeyId: j.id, zone: 'UTC' });
      break;
    }
    case 'wait': {
      const zone = !j.waiting && step.wait.kind === 'local_time' ? await zoneOf(tx, j) : 'UTC';
      result = decideStep(step, { now, waiting: j.waiting, journeyId: j.id, zone });
      break;
    }
    case 'send': {
      const outcome = await send(tx, deps, j, step, now);
      if (outcome === 'no_profile') return exit('profile_deleted');
      counts.push(outcome);
      if (outcome.metric === 'sent') sent += 1;
      result = decideStep(step, { now, waiting: false, journeyId: j.id, zone: 'UTC' });
      break;
    }
    case 'webhook': {
      const outcome = await startCall(tx, j, step, now);
      if (outcome === 'no_profile') return exit('profile_deleted');
      if (outcome !== 'calling') {
        counts.push({ step: step.id, metric: 'failed', reason: outcome }, { step: step.id, metric: 'path', reason: 'failed' });
        if (step.onFailure === 'exit') return exit('webhook_failed');
        result = { kind: 'move', next: step.next };
        break;
      }
      // Waiting on the call: no due time (the call's end moves the journey), or the journey's deadline.
      const ok = await moveJourney(tx, j, { step: step.id, dueAt: deadline === null ? null : new Date(deadline), waiting: true, waitsFor: null, sent });
      if (!ok) return { kind: 'stale' };
      counts.push({ step: step.id, metric: 'waiting', n: 1 });
      await write(deps)(tx, j.automation_id, j.version, counts);
      return { kind: 'waiting', until: deadline ?? Infinity };
    }
    case 'update_profile': {
      if (await claimStepEffect(tx, j.id, step.id, j.seq)) {
        await changeProfiles(tx, j.project_id, [{ customId: j.custom_id, native: {}, attributes: step.changes }]);
      }
      result = decideStep(step, { now, waiting: false, journeyId: j.id, zone: 'UTC' });
      break;
    }
    default:
      result = decideStep(step, { now, waiting: j.waiting, journeyId: j.id, zone: 'UTC' });
  }

  switch (result.kind) {
    case 'exit':
      return exit(result.reason);
    case 'wait': {
      const until = deadline === null ? result.until : Math.min(result.until, deadline);
      const ok = await moveJourney(tx, j, { step: step.id, dueAt: new Date(until), waiting: true, waitsFor: result.event ?? null, sent });
      if (!ok) return { kind: 'stale' };
      counts.push({ step: step.id, metric: 'waiting', n: 1 });
      await write(deps)(tx, j.automation_id, j.version, counts);
      return { kind: 'waiting', until };
    }
    case 'move': {
      if (result.endsWait) counts.push({ step: step.id, metric: 'waiting', n: -1 });
      if (result.path !== undefined) counts.push({ step: step.id, metric: 'path', reason: result.path });
      const done = result.next === null;
      const ok = await moveJourney(tx, j, {
        step: result.next ?? step.id, dueAt: at, waiting: false, waitsFor: null, sent,
        ended: done ? { state: 'completed', reason: null, at } : undefined,
      });
      if (!ok) return { kind: 'stale' };
      if (done) counts.push({ step: '', metric: 'completed' });
      await write(deps)(tx, j.automation_id, j.version, counts);
      return { kind: 'moved', to: result.next };
    }
  }
}

/** Ends a journey where it is (an exit event, a stop, a step's exit), with its counts and `extra` ones. */
export async function exitJourney(tx: TransactionSql, j: Journey, reason: string, now: number, extra: CountDelta[] = [], deps: Pick<StepDeps, 'count'> = {}): Promise<boolean> {
  const ok = await moveJourney(tx, j, { step: j.step, dueAt: null, waiting: false, waitsFor: null, sent: j.sent, ended: { state: 'exited', reason, at: new Date(now) } });
  if (!ok) return false;
  await (deps.count ?? addCounts)(tx, j.automation_id, j.version, [
    ...extra, { step: '', metric: 'exited', reason }, ...(j.waiting ? [{ step: j.step, metric: 'waiting', n: -1 }] : []),
  ]);
  return true;
}

/**
 * A wait for an event ended by the event: the journey moves to the step's `next` at once (the
 * loop runs it in its next pass). False when the journey was not waiting for it.
 */
export async function endWaitOnEvent(tx: TransactionSql, j: Journey, step: Extract<Step, { type: 'wait_for_event' }>, now: number): Promise<boolean> {
  const at = new Date(now);
  const done = step.next === null;
  const ok = await moveJourney(tx, j, {
    step: step.next ?? step.id, dueAt: at, waiting: false, waitsFor: null, sent: j.sent,
    ended: done ? { state: 'completed', reason: null, at } : undefined,
  });
  if (!ok) return false;
  await addCounts(tx, j.automation_id, j.version, [
    { step: step.id, metric: 'waiting', n: -1 }, { step: step.id, metric: 'path', reason: 'event' },
    ...(done ? [{ step: '', metric: 'completed' }] : []),
  ]);
  return true;
}

/** The profile's zone, else the project's. */
async function zoneOf(tx: TransactionSql, j: Journey): Promise<string> {
  const s = await subjectOf(tx, j.project_id, j.custom_id, null);
  return s?.native.timezone ?? await projectTimezone(tx, j.project_id);
}

async function send(tx: TransactionSql, deps: StepDeps, j: Journey, step: Extract<Step, { type: 'send' }>, now: number): Promise<CountDelta | 'no_profile'> {
  const s = await subjectOf(tx, j.project_id, j.custom_id, null);
  if (!s) return 'no_profile';
  const choice = chooseChannel(step.channels, {
    pushTokens: s.installations.filter((i) => i.pushToken).length,
    email: s.native.email ?? null, emailSubscription: s.native.email_subscription ?? null,
    phone: s.native.phone ?? null, smsSubscription: s.native.sms_subscription ?? null,
  });
  if (choice.part === null) return { step: step.id, metric: 'skipped', reason: `unreachable: ${choice.reason}` };
  const scope = personalizationScope({
    customId: j.custom_id, language: s.native.language, region: s.native.region, timezone: s.native.timezone,
    email: s.native.email, phone: s.native.phone, attributes: s.attributes,
  }, j.trigger);
  const rendered = renderPart(step.content, choice.part, s.native.language ?? null, scope);
  if (!rendered.ok) return { step: step.id, metric: 'failed', reason: 'template' };
  // Once per (journey, step, attempt): a step run again finds the claim and sends nothing.
  if (!(await claimStepEffect(tx, j.id, step.id, j.seq))) return { step: step.id, metric: 'duplicate' };
  const id = uuidv7(now);
  await insertMessages(tx, [{
    id, projectId: j.project_id, groupId: automationGroup(j.automation_id), recipients: { custom_ids: [j.custom_id] },
    content: { [choice.part as ContentPart]: rendered.content } as MessageContent, createdAt: new Date(now), expiresAt: null,
  }]);
  await Promise.all([
    deps.queue.enqueue(tx, [{ topic: topics.fanout, payload: { message_id: id } satisfies FanoutPayload }]),
    recordStepMessage(tx, j.id, step.id, j.seq, id),
  ]);
  return { step: step.id, metric: 'sent' };
}


/**
 * A webhook step's call, made once per (journey, step, attempt): its body rendered now with the
 * profile and the trigger, so every try sends the same bytes. The worker role POSTs it. Returns
 * why it cannot be made (a count reason) when it cannot.
 */
async function startCall(tx: TransactionSql, j: Journey, step: Extract<Step, { type: 'webhook' }>, now: number): Promise<'calling' | 'no_profile' | 'template' | 'endpoint_missing'> {
  const s = await subjectOf(tx, j.project_id, j.custom_id, null);
  if (!s) return 'no_profile';
  const scope = personalizationScope({
    customId: j.custom_id, language: s.native.language, region: s.native.region, timezone: s.native.timezone,
    email: s.native.email, phone: s.native.phone, attributes: s.attributes,
  }, j.trigger);
  const rendered = renderContent(step.body, scope, 'body');
  if (!rendered.ok) return 'template';
  const url = step.url ?? await endpointUrl(tx, j.project_id, step.endpointId);
  if (url === undefined) return 'endpoint_missing';
  if (await claimStepEffect(tx, j.id, step.id, j.seq)) {
    await insertCall(tx, {
      id: uuidv7(now), projectId: j.project_id, journeyId: j.id, step: step.id, attempt: j.seq, endpointId: step.endpointId, url,
      body: JSON.stringify(rendered.content), maxTries: step.maxTries, next: step.next, exitOnFailure: step.onFailure === 'exit', now: new Date(now),
    });
  }
  return 'calling';
}
