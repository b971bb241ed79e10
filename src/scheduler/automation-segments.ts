/**
 * Segment triggers (docs/automations.md, "Entry on entering a segment"): a profile enters when it
 * starts matching the automation's segment. Whether it matched when last looked at is kept on its
 * entry-history row (automation_profiles.in_segment); a look takes that row's lock, evaluates the
 * segment on the profile as it is now (domain/targeting/evaluate.ts), and only a false -> true
 * change enters, under the entry rules, in the same transaction. So a change is acted on once
 * however many processes look at once, and a look killed midway leaves nothing.
 *
 * Two kinds of look: prompt, for each profile a write touched (the `$profile` rows the profile
 * trigger keeps, and events the segment names, taken by the automation loop in the order stored);
 * and a sweep every `segmentSweepMs`, compiled to SQL, for conditions that change with time alone.
 */
import type { TransactionSql } from 'postgres';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { uuidv7 } from '../domain/ids.js';
import type { AutomationModel } from '../domain/automations/definition.js';
import { QueryError, type Query } from '../domain/targeting/query.js';
import { lockSegmentMembership, setInSegment } from '../store/automation-journeys.js';
import { enteringPage, leavingPage, liveAutomations } from '../store/automation-segments.js';
import type { Clock } from '../domain/clock.js';
import { enterAutomation, type EntryResult } from './automation-entry.js';
import { expanded, loadAutomationModel, profileMatches } from './automation-model.js';

/** How often segments are swept for changes time alone makes. */
export const segmentSweepMs = 60_000;
/** Profiles looked at per transaction by the sweep. */
const sweepBatch = 100;

export type SegmentLook = 'unchanged' | 'left' | 'segment_missing' | EntryResult;

/** Looks at one profile against a live automation's segment, under its entry-history lock. */
export async function lookAtSegment(tx: TransactionSql, a: { id: string; projectId: string; version: number; model: AutomationModel }, customId: string, now: number): Promise<SegmentLook> {
  if (a.model.trigger.type !== 'segment') return 'unchanged';
  const inside = await lockSegmentMembership(tx, a.id, customId);
  let fits: boolean | 'no_profile';
  try {
    fits = await profileMatches(tx, a.projectId, customId, a.model.trigger.query, now);
  } catch (e) {
    // The saved segment was deleted: nobody enters until the definition changes.
    if (e instanceof QueryError) return 'segment_missing';
    throw e;
  }
  const matchesNow = fits === true;
  if (matchesNow === inside) return 'unchanged';
  await setInSegment(tx, a.id, customId, matchesNow);
  if (!matchesNow) return 'left';
  return enterAutomation(tx, a, {
    // Each entry into the segment is a new entry; the lock above makes it once.
    customId, entryKey: `segment:${uuidv7(now)}`, now,
    trigger: { name: 'segment', time: new Date(now).toISOString(), attributes: {} },
  });
}

export interface SweepDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
}

/** One sweep of every live segment automation; how many profiles changed side. */
export async function sweepSegments(deps: SweepDeps): Promise<number> {
  let changed = 0;
  for (const row of await liveAutomations(deps.sql)) {
    const model = await loadAutomationModel(deps.sql, row.id, row.version);
    if (model?.trigger.type !== 'segment') continue;
    const a = { id: row.id, projectId: row.project_id, version: row.version, model };
    const now = deps.clock.now();
    let query: Query;
    try {
      query = await expanded(deps.sql, row.project_id, model.trigger.query);
    } catch (e) {
      if (e instanceof QueryError) continue;
      throw e;
    }
    for (const pageOf of [enteringPage, leavingPage]) {
      for (let after = ''; ;) {
        const ids = await pageOf(deps.sql, a, query, now, { after, limit: sweepBatch });
        if (!ids.length) break;
        changed += await deps.sql.begin(async (tx) => {
          let n = 0;
          for (const id of ids) if ((await lookAtSegment(tx, a, id, now)) !== 'unchanged') n++;
          return n;
        });
        after = ids[ids.length - 1]!;
      }
    }
  }
  return changed;
}
