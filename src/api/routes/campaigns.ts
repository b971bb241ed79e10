/**
 * Campaigns (/v1/campaigns): create (a draft, or scheduled at once with `start`), change while
 * not started, read with its counts from the ledger, list, and the lifecycle: start, pause,
 * resume, stop, and retry of the failed recipients. Everything a campaign would fail on later is
 * refused here with the path of the field: its `when`, its targeting query and the segments and
 * audiences it names, its channels' content (the same checks as a send) and its Liquid templates.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql, TransactionSql } from 'postgres';
import { systemClock, type Clock } from '../../domain/clock.js';
import { uuidv7 } from '../../domain/ids.js';
import { contentParts, type MessageContent } from '../../domain/channels.js';
import { checkWhen } from '../../domain/campaigns/when.js';
import { compileCampaignContent, type ContentInput } from '../../domain/campaigns/content.js';
import type { CampaignDefinition } from '../../domain/campaigns/definition.js';
import { audienceQuery } from '../../domain/campaigns/audience.js';
import { parseQuery, QueryError } from '../../domain/targeting/query.js';
import { expandSegments } from '../../domain/targeting/segments.js';
import { languageTagPattern, maxLocalizedVariants } from '../../domain/personalization/localized.js';
import { contentSchemas } from '../../channels/registry.js';
import type { WorkQueue } from '../../queue/queue.js';
import { getCampaign, insertCampaign, listCampaigns, transitionCampaign, updateCampaign, campaignStates, type Campaign, type CampaignState } from '../../store/campaigns.js';
import { campaignCounts } from '../../store/campaign-ledger.js';
import { segmentQueries } from '../../store/segments.js';
import { audienceExists } from '../../store/audiences.js';
import { enqueueSendLink, retryFailedRecipients } from '../../worker/campaign-send.js';
import { ApiError } from '../errors.js';
import { checkContent } from '../content-check.js';
import { DateTime, errorResponses, inputErrors, Nullable, OpenObject, restKeyErrors } from '../schemas.js';

export interface CampaignRouteDeps {
  sql: Sql;
  queue: WorkQueue;
  clock?: Clock | undefined;
}

const id = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const IdParams = Type.Object({ id });
const Json = (description: string) => Type.Unsafe<unknown>({ type: 'object', additionalProperties: true, description });
const Part = Type.Union(contentParts.map((p) => Type.Literal(p)));
const Parts = Type.Object({ push: Type.Optional(contentSchemas.push), email: Type.Optional(contentSchemas.email), sms: Type.Optional(contentSchemas.sms) }, { additionalProperties: false });
const Content = Type.Object({
  push: Type.Optional(contentSchemas.push), email: Type.Optional(contentSchemas.email), sms: Type.Optional(contentSchemas.sms),
  localized: Type.Optional(Type.Record(Type.String({ pattern: languageTagPattern.source }), Parts, {
    maxProperties: maxLocalizedVariants,
    description: 'Variants per language (BCP 47 tag): a profile whose language matches (exactly, then by prefix) gets the variant\'s part instead of the default.',
  })),
}, { additionalProperties: false, description: 'Each channel\'s content; every text may hold Liquid templates ({{ first_name | default: "there" }}) over the profile.' });
const Targeting = Type.Object({
  segment_id: Type.Optional(id),
  query: Type.Optional(Json('An inline targeting query (docs/campaigns.md).')),
  audience_ids: Type.Optional(Type.Array(id, { maxItems: 20, description: 'Members of any of these custom audiences.' })),
  languages: Type.Optional(Type.Array(Type.String({ minLength: 2, maxLength: 35 }), { maxItems: 100 })),
  regions: Type.Optional(Type.Array(Type.String({ minLength: 2, maxLength: 35 }), { maxItems: 300 })),
}, { additionalProperties: false, description: 'All given parts must hold; none targets every profile of the project.' });
const Variant = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), percent: Type.Integer({ minimum: 1, maximum: 100 }), content: Content }, { additionalProperties: false });
const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  when: Json('When it sends: {"type": "now"}, {"type": "at", ...}, {"type": "local", ...} or {"type": "recurring", ...} (docs/campaigns.md).'),
  targeting: Type.Optional(Targeting),
  channels: Type.Array(Part, { minItems: 1, maxItems: contentParts.length, uniqueItems: true, description: 'Priority order: each profile gets the first channel it can be reached on.' }),
  content: Type.Optional(Content),
  variants: Type.Optional(Type.Array(Variant, { minItems: 2, maxItems: 8, description: 'A/B test: each variant\'s share of the audience and content (instead of `content`).' })),
  control_percent: Type.Optional(Type.Integer({ minimum: 0, maximum: 50, description: 'Share held out as a control group: never sent, counted.' })),
  labels: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 5, uniqueItems: true })),
  send_rate: Type.Optional(Nullable(Type.Integer({ minimum: 1000, maximum: 1_000_000, description: 'Messages per minute, held across every worker.' }))),
};
const CreateBody = Type.Object({ ...fields, start: Type.Optional(Type.Boolean({ description: 'Schedule it at once (default: a draft).' })) }, { additionalProperties: false });
const UpdateBody = Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 });
type Fields = Partial<Static<typeof CreateBody>>;

const tallyFields = {
  targeted: Type.Integer({ description: 'Ledger rows: the audience written (the control group included where `control` is beside it).' }),
  pending: Type.Integer({ description: 'Waiting for their send time or the send rate.' }),
  sent: Type.Integer({ description: 'Handed to the delivery pipeline, whatever came of it since.' }),
  awaiting: Type.Integer({ description: 'Handed over, a delivery still queued or retrying.' }),
  delivered: Type.Integer({ description: 'At least one delivery reached the provider or the device.' }),
  failed: Type.Integer({ description: 'The hand-over failed, or every delivery failed, was invalidated or expired.' }),
  retryable: Type.Integer({ description: 'Of `failed`: what POST /v1/campaigns/{id}/retry-failed sends again.' }),
  skipped: Type.Integer({ description: 'Never sent by the campaign, or every delivery skipped (suppressed, unsubscribed...).' }),
  skipped_by_reason: Type.Record(Type.String(), Type.Integer()),
};
const Counts = Type.Object({
  occurrences: Type.Array(Type.Object({ occurrence: Type.Integer(), state: Type.String(), planned_at: DateTime, control: Type.Integer(), ...tallyFields })),
  recipients: Type.Object({ ...tallyFields, control: Type.Integer({ description: 'The control group: never sent, counted.' }) }),
  skipped_by_reason: Type.Record(Type.String(), Type.Integer(), { description: 'The same as recipients.skipped_by_reason.' }),
  by_variant: Type.Array(Type.Object({ variant: Type.Integer(), ...tallyFields })),
  deliveries: Type.Record(Type.String(), Type.Integer(), { description: 'The deliveries of the messages sent, by status (one per device, address or number).' }),
}, { description: 'From the ledger: one row per recipient per occurrence, its outcome written with its deliveries\' (docs/campaigns.md, "Outcomes and counts").' });
const CampaignView = Type.Object({
  id, name: Type.String(), state: Type.Union(campaignStates.map((s) => Type.Literal(s))),
  when: OpenObject(), targeting: OpenObject(), channels: Type.Array(Part),
  variants: Type.Array(Type.Object({ name: Type.String(), percent: Type.Integer(), content: OpenObject() })),
  control_percent: Type.Integer(), labels: Type.Array(Type.String()), send_rate: Nullable(Type.Integer()),
  created_at: DateTime, updated_at: DateTime, started_at: Nullable(DateTime), finished_at: Nullable(DateTime),
});
const WithCounts = Type.Composite([CampaignView, Type.Object({ counts: Counts })]);
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })), cursor: Type.Optional(id),
  state: Type.Optional(Type.Union(campaignStates.map((s) => Type.Literal(s)))),
}, { additionalProperties: false });

const view = (c: Campaign) => ({
  id: c.id, name: c.name, state: c.state, when: c.definition.when as Record<string, unknown>, targeting: c.definition.targeting as Record<string, unknown>,
  channels: c.definition.channels, variants: c.definition.variants as { name: string; percent: number; content: Record<string, unknown> }[],
  control_percent: c.definition.control_percent, labels: c.labels, send_rate: c.send_rate,
  created_at: c.created_at, updated_at: c.updated_at, started_at: c.started_at, finished_at: c.finished_at,
});

export const campaignRoutes = (deps: CampaignRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql, queue } = deps;
  const clock = deps.clock ?? systemClock;

  /** The definition the body describes, every part checked; `base` is the stored one an update changes. */
  const definition = async (projectId: string, b: Fields, base?: CampaignDefinition): Promise<CampaignDefinition> => {
    const when = b.when ?? base?.when;
    const w = checkWhen(when, 'body.when');
    if (!w.ok) throw new ApiError('invalid_when', w.error.message);
    const targeting = b.targeting ?? base?.targeting ?? {};
    try {
      const inline = targeting.query === undefined ? undefined : parseQuery(targeting.query, 'body.targeting.query');
      const q = audienceQuery({ ...targeting, query: inline });
      if (q) {
        const saved = await segmentQueries(sql, projectId, q);
        if (targeting.segment_id && !saved.has(targeting.segment_id)) throw new ApiError('segment_not_found', `no segment ${targeting.segment_id} in this project`);
        expandSegments(q, (s) => saved.get(s), 'body.targeting');
      }
    } catch (e) {
      if (e instanceof QueryError) throw new ApiError('invalid_query', e.message);
      throw e;
    }
    for (const a of targeting.audience_ids ?? []) {
      if (!(await audienceExists(sql, projectId, a))) throw new ApiError('audience_not_found', `no audience ${a} in this project`);
    }
    if (b.content && b.variants) throw new ApiError('invalid_campaign', 'give content, or variants for an A/B test, not both');
    const variants = b.variants ?? (b.content ? [{ name: 'default', percent: 100, content: b.content }] : base?.variants);
    if (!variants) throw new ApiError('invalid_campaign', 'a campaign needs content (or variants)');
    const control = b.control_percent ?? base?.control_percent ?? 0;
    if (variants.reduce((n, v) => n + v.percent, 0) + control > 100) throw new ApiError('invalid_campaign', 'the variants\' percent and control_percent add up to more than 100');
    const channels = b.channels ?? base?.channels ?? [];
    const now = new Date(clock.now());
    variants.forEach((v, i) => {
      const at = b.variants ? `body.variants[${i}].content` : 'body.content';
      for (const ch of channels) {
        if (!(v.content as ContentInput)[ch]) throw new ApiError('invalid_campaign', `${at}.${ch} is missing: channel ${ch} is in channels`);
      }
      const compiled = compileCampaignContent(v.content as ContentInput, at);
      if (!compiled.ok) throw new ApiError('invalid_template', compiled.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
      checkContent(v.content as MessageContent, uuidv7(), now);
      for (const loc of Object.values((v.content as ContentInput).localized ?? {})) checkContent(loc as MessageContent, uuidv7(), now);
    });
    return { when, targeting, channels, variants: variants as CampaignDefinition['variants'], control_percent: control };
  };
  const notFound = (campaignId: string) => new ApiError('campaign_not_found', `no campaign ${campaignId} in this project`);
  const withCounts = async (c: Campaign) => ({ ...view(c), counts: await campaignCounts(sql, c.id) });
  const errors = (...extra: Parameters<typeof errorResponses>) => errorResponses(inputErrors, restKeyErrors, ...extra);
  const definitionErrors = ['invalid_when', 'invalid_query', 'invalid_template', 'invalid_campaign', 'segment_not_found', 'audience_not_found',
    'push_payload_too_large', 'reserved_data_key', 'invalid_field'] as const;

  app.post('/v1/campaigns', {
    config: { auth: 'rest' },
    schema: { summary: 'Create a campaign: a draft, or scheduled at once with start: true', tags: ['campaigns'], body: CreateBody, response: { 201: WithCounts, ...errors(...definitionErrors) } },
    handler: async (req, reply) => {
      const projectId = req.caller.projectId;
      const def = await definition(projectId, req.body);
      const created = await insertCampaign(sql, {
        id: uuidv7(clock.now()), projectId, name: req.body.name, state: req.body.start ? 'scheduled' : 'draft', definition: def,
        labels: req.body.labels ?? [], sendRate: req.body.send_rate ?? null, now: new Date(clock.now()),
      });
      return reply.code(201).send(await withCounts(created));
    },
  });

  app.get('/v1/campaigns', {
    config: { auth: 'rest' },
    schema: { summary: 'The project\'s campaigns, oldest first, paged by cursor', tags: ['campaigns'], querystring: ListQuery, response: { 200: Type.Object({ campaigns: Type.Array(CampaignView), next_cursor: Nullable(Type.String()) }), ...errors() } },
    handler: async (req) => {
      const page = await listCampaigns(sql, req.caller.projectId, { limit: req.query.limit ?? 100, after: req.query.cursor, state: req.query.state });
      return { campaigns: page.campaigns.map(view), next_cursor: page.next_cursor };
    },
  });

  app.get('/v1/campaigns/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'One campaign, with its counts from the ledger', tags: ['campaigns'], params: IdParams, response: { 200: WithCounts, ...errors('campaign_not_found') } },
    handler: async (req) => {
      const c = await getCampaign(sql, req.caller.projectId, req.params.id);
      if (!c) throw notFound(req.params.id);
      return withCounts(c);
    },
  });

  app.patch('/v1/campaigns/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'Change a draft, or a scheduled campaign that has not started sending', tags: ['campaigns'], params: IdParams, body: UpdateBody, response: { 200: WithCounts, ...errors('campaign_not_found', 'campaign_state_conflict', ...definitionErrors) } },
    handler: async (req) => {
      const projectId = req.caller.projectId;
      const current = await getCampaign(sql, projectId, req.params.id);
      if (!current) throw notFound(req.params.id);
      const { name, labels, send_rate, ...rest } = req.body;
      const def = Object.keys(rest).length ? await definition(projectId, rest, current.definition) : undefined;
      const r = await updateCampaign(sql, projectId, req.params.id, { name, labels, definition: def, sendRate: send_rate, now: new Date(clock.now()) });
      if (!r) throw notFound(req.params.id);
      if (!('id' in r)) throw new ApiError('campaign_state_conflict', `the campaign is ${r.state}: only a draft, or a scheduled campaign before it starts, can be changed`);
      return withCounts(r);
    },
  });

  /** A lifecycle call: from one of `from` to `to`, then `after` in the same transaction. */
  const lifecycle = (path: string, summary: string, from: readonly CampaignState[], to: CampaignState, after?: (c: Campaign, tx: TransactionSql) => Promise<void>) =>
    app.post(`/v1/campaigns/:id/${path}`, {
      config: { auth: 'rest' },
      schema: { summary, tags: ['campaigns'], params: IdParams, response: { 200: WithCounts, ...errors('campaign_not_found', 'campaign_state_conflict') } },
      handler: async (req) => {
        const moved = await sql.begin(async (tx) => {
          const r = await transitionCampaign(tx, req.caller.projectId, req.params.id, from, to, new Date(clock.now()));
          if (r && 'moved' in r) await after?.(r.moved, tx);
          return r;
        });
        if (!moved) throw notFound(req.params.id);
        if (!('moved' in moved)) throw new ApiError('campaign_state_conflict', `the campaign is ${moved.state}: ${path} needs it ${from.join(' or ')}`);
        return withCounts(moved.moved);
      },
    });
  /** Each occurrence still sending gets a new send link (worker/campaign-send.ts): a paused chain ended, a stopped one must skip its rest. */
  const relink = async (c: Campaign, tx: TransactionSql) => {
    const open = await tx<{ occurrence: number }[]>`select occurrence from campaign_occurrences where campaign_id = ${c.id} and state in ('fanning_out', 'sending')`;
    for (const o of open) await enqueueSendLink(tx, queue, c.id, o.occurrence);
  };
  lifecycle('start', 'Schedule a draft: it sends as its `when` says', ['draft'], 'scheduled');
  lifecycle('pause', 'Pause sending; recipients not yet sent wait', ['scheduled', 'running'], 'paused');
  lifecycle('resume', 'Resume a paused campaign where it stopped', ['paused'], 'running', relink);
  lifecycle('stop', 'Stop for good: recipients not yet sent are skipped (campaign_stopped)', ['draft', 'scheduled', 'running', 'paused'], 'stopped', relink);

  app.post('/v1/campaigns/:id/retry-failed', {
    config: { auth: 'rest' },
    schema: { summary: 'Send again, once, to the recipients whose hand-over or deliveries failed (not dead tokens or hard bounces), and only to them', tags: ['campaigns'], params: IdParams, response: { 200: Type.Object({ retried: Type.Integer() }), ...errors('campaign_not_found', 'campaign_state_conflict') } },
    handler: async (req) => {
      return sql.begin(async (tx) => {
        const [c] = await tx<{ state: CampaignState }[]>`select state from campaigns where project_id = ${req.caller.projectId} and id = ${req.params.id} for update`;
        if (!c) throw notFound(req.params.id);
        if (c.state === 'stopped' || c.state === 'draft') throw new ApiError('campaign_state_conflict', `the campaign is ${c.state}`);
        const now = new Date(clock.now());
        return { retried: await retryFailedRecipients(tx, queue, req.params.id, c.state, now) };
      });
    },
  });
};
