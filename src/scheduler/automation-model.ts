/**
 * An automation version's model (domain/automations/definition.ts), parsed once per version: a
 * version never changes, so it is kept for good (bounded). Saved segments are expanded where a
 * query is evaluated, read each time, so a changed segment reaches running journeys.
 */
import type { Sql, TransactionSql } from 'postgres';
import { parseDefinition, type AutomationModel } from '../domain/automations/definition.js';
import { matches, type TargetingSubject } from '../domain/targeting/evaluate.js';
import type { Query } from '../domain/targeting/query.js';
import { expandSegments, segmentIds } from '../domain/targeting/segments.js';
import { automationVersion } from '../store/automations.js';
import { segmentQueries } from '../store/segments.js';
import { loadSubjects } from '../store/targeting.js';

type Db = Sql | TransactionSql;

const kept = new Map<string, AutomationModel>();
const keep = 500;

export async function loadAutomationModel(sql: Db, automationId: string, version: number): Promise<AutomationModel | undefined> {
  const key = `${automationId}@${version}`;
  let model = kept.get(key);
  if (model) return model;
  const definition = await automationVersion(sql, automationId, version);
  if (definition === undefined) return undefined;
  model = parseDefinition(definition);
  if (kept.size >= keep) kept.delete(kept.keys().next().value!);
  kept.set(key, model);
  return model;
}

/** `query` with the project's saved segments in place (a query naming none is returned as is). */
export async function expanded(sql: Db, projectId: string, query: Query): Promise<Query> {
  if (!segmentIds(query).length) return query;
  const saved = await segmentQueries(sql, projectId, query);
  return expandSegments(query, (id) => saved.get(id));
}

/** The profile as targeting sees it, with the events `query` looks at; undefined when it does not exist. */
export async function subjectOf(sql: Db, projectId: string, customId: string, query: Query | null): Promise<TargetingSubject | undefined> {
  return (await loadSubjects(sql, projectId, [customId], query ?? { kind: 'all', of: [] })).get(customId);
}

/** Whether the profile matches `query` now (a null query: every existing profile). */
export async function profileMatches(sql: Db, projectId: string, customId: string, query: Query | null, now: number): Promise<boolean | 'no_profile'> {
  const q = query && await expanded(sql, projectId, query);
  const s = await subjectOf(sql, projectId, customId, q);
  if (!s) return 'no_profile';
  return q === null || matches(q, s, now);
}

/** Whether one event passes an event filter (an event node of the targeting language, no count or window). */
export function eventPasses(filter: Query, e: { name: string; time: number; attributes: Record<string, unknown> }, now: number): boolean {
  return matches(filter, { native: {}, attributes: {}, events: [e], installations: [], audiences: new Set() }, now);
}
