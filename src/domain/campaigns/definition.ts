/**
 * A campaign's definition as stored (the API's normalized body) and the model the workers run:
 * its `when` parsed, its audience as one query with saved segments expanded, its channels in
 * priority order, its variants' content compiled, its A/B split. Parsing again where it is used
 * (rather than storing the parsed form) keeps the stored JSON exactly what the caller sent.
 */
import type { ContentPart } from '../channels.js';
import { parseQuery, type Query } from '../targeting/query.js';
import { expandSegments } from '../targeting/segments.js';
import { audienceQuery } from './audience.js';
import { compileCampaignContent, type CompiledCampaignContent, type ContentInput } from './content.js';
import type { Split } from './variants.js';
import { parseWhen, type When } from './when.js';

export interface CampaignDefinition {
  when: unknown;
  targeting: { segment_id?: string | undefined; query?: unknown; audience_ids?: string[] | undefined; languages?: string[] | undefined; regions?: string[] | undefined };
  /** Content parts in priority order: a profile gets the first it can be reached on. */
  channels: ContentPart[];
  /** One variant when the campaign is not an A/B test. */
  variants: { name: string; percent: number; content: ContentInput }[];
  control_percent: number;
}

export interface CampaignModel {
  when: When;
  /** null: every profile of the project. */
  query: Query | null;
  priority: ContentPart[];
  variants: CompiledCampaignContent[];
  split: Split;
}

/** The definition's parts as the workers use them; throws on a definition the API would refuse. */
export function campaignModel(def: CampaignDefinition, segment: (id: string) => Query | undefined): CampaignModel {
  const query = audienceQuery({
    ...def.targeting,
    query: def.targeting.query === undefined ? undefined : parseQuery(def.targeting.query, 'targeting.query'),
  });
  const variants = def.variants.map((v, i) => {
    const r = compileCampaignContent(v.content, `variants[${i}].content`);
    if (!r.ok) throw new Error(`${r.errors[0]!.path}: ${r.errors[0]!.message}`);
    return r.compiled;
  });
  return {
    when: parseWhen(def.when),
    query: query && expandSegments(query, segment, 'targeting'),
    priority: def.channels,
    variants,
    split: { variants: def.variants.map((v) => v.percent), control: def.control_percent },
  };
}
