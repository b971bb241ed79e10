/**
 * Whom a campaign targets, as one targeting query (domain/targeting/): its saved segment, its
 * inline query, its custom audiences (a member of any) and its languages and regions (any of
 * each), all of which must hold. No part at all targets every profile of the project: `null`.
 */
import type { Query } from '../targeting/query.js';

export interface CampaignTargeting {
  segment_id?: string | undefined;
  query?: Query | undefined;
  audience_ids?: readonly string[] | undefined;
  languages?: readonly string[] | undefined;
  regions?: readonly string[] | undefined;
}

export function audienceQuery(t: CampaignTargeting): Query | null {
  const parts: Query[] = [];
  if (t.segment_id) parts.push({ kind: 'segment', id: t.segment_id });
  if (t.query) parts.push(t.query);
  if (t.audience_ids?.length) parts.push({ kind: 'any', of: t.audience_ids.map((id): Query => ({ kind: 'audience', id })) });
  if (t.languages?.length) parts.push({ kind: 'field', name: 'language', condition: { op: 'in', values: [...t.languages] } });
  if (t.regions?.length) parts.push({ kind: 'field', name: 'region', condition: { op: 'in', values: [...t.regions] } });
  if (!parts.length) return null;
  return parts.length === 1 ? parts[0]! : { kind: 'all', of: parts };
}
