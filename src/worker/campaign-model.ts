/** A campaign's model (domain/campaigns/definition.ts) with the saved segments it names loaded, kept per version of the campaign. */
import type { Sql, TransactionSql } from 'postgres';
import { campaignModel, type CampaignModel } from '../domain/campaigns/definition.js';
import { audienceQuery } from '../domain/campaigns/audience.js';
import { parseQuery } from '../domain/targeting/query.js';
import { segmentQueries } from '../store/segments.js';
import type { Campaign } from '../store/campaigns.js';

const kept = new Map<string, CampaignModel>();
const keep = 200;

export async function loadCampaignModel(sql: Sql | TransactionSql, c: Campaign): Promise<CampaignModel> {
  // A changed segment changes the campaign's audience: the model is kept for a campaign's version
  // only while its segments are unchanged, which the key cannot see, so segments are always read.
  const t = c.definition.targeting;
  const raw = audienceQuery({ ...t, query: t.query === undefined ? undefined : parseQuery(t.query, 'targeting.query') });
  const saved = raw ? await segmentQueries(sql, c.project_id, raw) : new Map();
  const key = `${c.id}@${c.updated_at.getTime()}@${JSON.stringify([...saved])}`;
  let model = kept.get(key);
  if (!model) {
    model = campaignModel(c.definition, (id) => saved.get(id));
    if (kept.size >= keep) kept.delete(kept.keys().next().value!);
    kept.set(key, model);
  }
  return model;
}
