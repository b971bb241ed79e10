/**
 * A profile entering an automation, in the caller's transaction: from a kept event (the automation
 * loop, scheduler/automations.ts) or from POST /v1/automations/{id}/entries. Under the lock of the
 * profile's entry history: an entry key seen before is a duplicate (an event, or the caller's id,
 * enters once); the audience must hold; domain/automations/entry.ts decides between entering,
 * restarting the running journey (before its first send) and refusing. The journey is written
 * with its counts, due at once: its first step runs in the loop's next transaction.
 */
import type { TransactionSql } from 'postgres';
import { uuidv7 } from '../domain/ids.js';
import { activeRefusal, decideEntry, type EntryRefusal } from '../domain/automations/entry.js';
import type { AutomationModel } from '../domain/automations/definition.js';
import {
  addCounts, entryKeyTaken, insertJourney, lockEntryHistory, moveJourney, runningJourneys, type Journey,
} from '../store/automation-journeys.js';
import { profileMatches } from './automation-model.js';

export type EntryResult =
  | { entered: true; journeyId: string; restarted: boolean }
  | { entered: false; reason: EntryRefusal | 'duplicate' | 'not_in_audience' | 'no_profile'; journeyId?: string | undefined };

export async function enterAutomation(tx: TransactionSql, a: { id: string; projectId: string; version: number; model: AutomationModel }, entry: {
  customId: string; entryKey: string; trigger: Journey['trigger']; now: number;
}): Promise<EntryResult> {
  const at = new Date(entry.now);
  const history = await lockEntryHistory(tx, a.id, entry.customId);
  const seen = await entryKeyTaken(tx, a.id, entry.entryKey);
  if (seen) return { entered: false, reason: 'duplicate', journeyId: seen };
  const refuse = async (reason: EntryRefusal | 'not_in_audience' | 'no_profile'): Promise<EntryResult> => {
    await addCounts(tx, a.id, a.version, [{ step: '', metric: 'not_entered', reason }]);
    return { entered: false, reason };
  };
  const inactive = activeRefusal(a.model.active, entry.now);
  if (inactive) return refuse(inactive);
  const fits = await profileMatches(tx, a.projectId, entry.customId, a.model.audience, entry.now);
  if (fits === 'no_profile') return refuse('no_profile');
  if (!fits) return refuse('not_in_audience');
  const running = (await runningJourneys(tx, a.id, a.projectId, entry.customId))[0];
  const decision = decideEntry(a.model.entry, { entries: history.entries, lastEndedAt: history.last_ended_at?.getTime() ?? null }, running, entry.now);
  if (decision.kind === 'refuse') return refuse(decision.reason);
  if (decision.kind === 'restart' && running) {
    await moveJourney(tx, running, { step: running.step, dueAt: null, waiting: false, waitsFor: null, sent: running.sent, ended: { state: 'exited', reason: 'restarted', at } });
    await addCounts(tx, a.id, running.version, [
      { step: '', metric: 'exited', reason: 'restarted' },
      ...(running.waiting ? [{ step: running.step, metric: 'waiting', n: -1 }] : []),
    ]);
  }
  const journeyId = uuidv7(entry.now);
  await insertJourney(tx, {
    id: journeyId, projectId: a.projectId, automationId: a.id, version: a.version, customId: entry.customId, entryKey: entry.entryKey,
    step: a.model.first, trigger: entry.trigger, now: at, countsAsEntry: decision.kind === 'enter',
  });
  await addCounts(tx, a.id, a.version, [{ step: '', metric: 'entered' }]);
  return { entered: true, journeyId, restarted: decision.kind === 'restart' };
}
