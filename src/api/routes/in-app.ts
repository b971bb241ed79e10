/**
 * In-app messages over the REST key (/v1/in-app-messages, docs/in-app.md): create (a draft),
 * read, list, change (a new version devices get at their next sync), start, stop (absent from
 * the next sync, refused by the display check), delete, and the stats
 * (GET /v1/stats/in-app/{id}). Everything a sync or a display would fail on later is refused here
 * with the path of the field: the grammar, the audience and the saved segments it names, the
 * Liquid of every text.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { systemClock, type Clock } from '../../domain/clock.js';
import { uuidv7 } from '../../domain/ids.js';
import { inAppFormats, InAppDefinitionError, parseInAppDefinition, type InAppModel } from '../../domain/in-app/definition.js';
import { inAppStatuses } from '../../domain/in-app/eligibility.js';
import { QueryError } from '../../domain/targeting/query.js';
import { expandSegments } from '../../domain/targeting/segments.js';
import {
  deleteInAppMessage, getInAppMessage, inAppStats, insertInAppMessage, listInAppMessages, transitionInAppMessage, updateInAppMessage, type InAppMessageRow,
} from '../../store/in-app.js';
import { segmentQueries } from '../../store/segments.js';
import { ApiError } from '../errors.js';
import { DateTime, errorResponses, inputErrors, NoContent, Nullable, OpenObject, restKeyErrors } from '../schemas.js';

const id = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const IdParams = Type.Object({ id });
const Status = Type.Union(inAppStatuses.map((s) => Type.Literal(s)));
const Format = Type.Union(inAppFormats.map((f) => Type.Literal(f)));

const Button = Type.Object({
  id: Type.String(), label: Type.String(),
  action: Type.Union([Type.Literal('dismiss'), Type.Literal('url')]),
  url: Type.Optional(Type.String()),
}, { additionalProperties: false });
const Content = Type.Object({
  title: Type.Optional(Type.String({ description: 'Plain text; may be a Liquid template rendered per profile.' })),
  body: Type.Optional(Type.String()),
  image_url: Type.Optional(Type.String({ description: 'https only.' })),
  html: Type.Optional(Type.String({ description: 'Format html only: the document the SDK shows in a sandboxed iframe; Liquid outputs are HTML-escaped.' })),
  buttons: Type.Optional(Type.Array(Button)),
  position: Type.Optional(Type.Union([Type.Literal('top'), Type.Literal('bottom')], { description: 'Format banner only.' })),
}, { additionalProperties: false });
const Trigger = Type.Union([
  Type.Object({
    type: Type.Literal('event'), event: Type.String(),
    where: Type.Optional(Type.Array(OpenObject(), { description: 'Filters on the event\'s attributes: the automations\' event filter, such as [{"attribute": "total", "gte": 20}].' })),
  }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('session_start') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('asap') }, { additionalProperties: false }),
]);
const Capping = Type.Object({
  max_displays: Type.Optional(Type.Integer({ description: 'Displays per profile (or anonymous installation) over the message\'s life.' })),
  min_interval_seconds: Type.Optional(Type.Integer({ description: 'Seconds between two displays of this message to one profile.' })),
}, { additionalProperties: false });
// Types and shapes here; ranges and cross-field rules (html for format html only...) in
// domain/in-app/definition.ts, which names the path of a bad field.
const fields = {
  name: Type.String(),
  format: Format,
  content: Content,
  trigger: Trigger,
  audience: Type.Optional(Nullable(OpenObject('A targeting query (docs/campaigns.md); absent: everyone.'))),
  priority: Type.Optional(Type.Integer({ description: '0 to 100, default 50; higher shown first.' })),
  starts_at: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  ends_at: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  local_dates: Type.Optional(Type.Boolean({ description: 'true: starts_at and ends_at are wall times (their digits, the offset ignored) in each recipient\'s zone.' })),
  capping: Type.Optional(Nullable(Capping)),
  labels: Type.Optional(Type.Array(Type.String())),
  inbox: Type.Optional(Type.Boolean({ description: 'Also stored in the inbox, on the first impression.' })),
  recheck: Type.Optional(Type.Boolean({ description: 'Default true: the SDK calls the display check before showing.' })),
};
const CreateBody = Type.Object(fields, { additionalProperties: false });
const UpdateBody = Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 });
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })), cursor: Type.Optional(id),
  status: Type.Optional(Status),
}, { additionalProperties: false });

const InAppMessage = Type.Object({
  id, version: Type.Integer({ description: 'Devices get the latest; each change is a new one.' }), status: Status,
  name: Type.String(), format: Format, content: OpenObject(), trigger: OpenObject(),
  audience: Type.Optional(OpenObject()), priority: Type.Integer(),
  starts_at: Type.Optional(Type.String()), ends_at: Type.Optional(Type.String()), local_dates: Type.Boolean(),
  capping: Type.Optional(Capping), labels: Type.Array(Type.String()), inbox: Type.Boolean(), recheck: Type.Boolean(),
  created_at: DateTime, updated_at: DateTime, started_at: Nullable(DateTime), stopped_at: Nullable(DateTime),
});

const Counters = {
  impressions: Type.Integer({ description: 'Displays reported (each client id once).' }),
  unique_impressions: Type.Integer({ description: 'Profiles (or anonymous installations) that saw it at least once.' }),
  clicks: Type.Integer(),
  unique_clicks: Type.Integer(),
  dismissals: Type.Integer(),
};
const InAppStats = Type.Object({
  ...Counters,
  click_rate: Nullable(Type.Number({ description: 'unique_clicks / unique_impressions; null before any impression.' })),
  days: Type.Array(Type.Object({ day: Type.String({ description: 'UTC day the events were received, YYYY-MM-DD.' }), ...Counters })),
});

/** The stored definition is normalized (domain/in-app/definition.ts): its fields are the answer's. */
const view = (m: InAppMessageRow): Static<typeof InAppMessage> => ({
  ...(m.definition as Omit<Static<typeof InAppMessage>, 'id' | 'version' | 'status' | 'created_at' | 'updated_at' | 'started_at' | 'stopped_at'>),
  id: m.id, version: m.version, status: m.status,
  created_at: m.created_at, updated_at: m.updated_at, started_at: m.started_at, stopped_at: m.stopped_at,
});

export const inAppRoutes = (deps: { sql: Sql; clock?: Clock | undefined }): FastifyPluginAsyncTypebox => async (app) => {
  const { sql } = deps;
  const clock = deps.clock ?? systemClock;

  /** The model of a definition, every part checked as a sync will use it; a 400 naming the field otherwise. */
  const check = async (projectId: string, body: unknown): Promise<InAppModel> => {
    try {
      const model = parseInAppDefinition(body, 'body');
      if (model.audience) {
        const saved = await segmentQueries(sql, projectId, model.audience);
        expandSegments(model.audience, (s) => saved.get(s), 'body.audience');
      }
      return model;
    } catch (e) {
      if (e instanceof InAppDefinitionError) throw new ApiError(e.kind === 'query' ? 'invalid_query' : e.kind === 'template' ? 'invalid_template' : 'invalid_in_app_message', e.message);
      if (e instanceof QueryError) throw new ApiError('invalid_query', e.message);
      throw e;
    }
  };
  const notFound = (messageId: string) => new ApiError('in_app_message_not_found', `no in-app message ${messageId} in this project`);
  const errors = (...extra: Parameters<typeof errorResponses>) => errorResponses(inputErrors, restKeyErrors, ...extra);
  const definitionErrors = ['invalid_in_app_message', 'invalid_query', 'invalid_template'] as const;
  const tags = ['in-app'];

  app.post('/v1/in-app-messages', {
    config: { auth: 'rest' },
    schema: { summary: 'Create an in-app message (a draft: start it to show it)', tags, body: CreateBody, response: { 201: InAppMessage, ...errors(...definitionErrors) } },
    handler: async (req, reply) => {
      const { projectId } = req.caller;
      const model = await check(projectId, req.body);
      const created = await sql.begin((tx) => insertInAppMessage(tx, { id: uuidv7(clock.now()), projectId, definition: model.definition, now: new Date(clock.now()) }));
      return reply.code(201).send(view(created));
    },
  });

  app.get('/v1/in-app-messages', {
    config: { auth: 'rest' },
    schema: {
      summary: 'The project\'s in-app messages, oldest first, paged by cursor', tags, querystring: ListQuery,
      response: { 200: Type.Object({ messages: Type.Array(InAppMessage), next_cursor: Nullable(Type.String()) }), ...errors() },
    },
    handler: async (req) => {
      const page = await listInAppMessages(sql, req.caller.projectId, { limit: req.query.limit ?? 100, after: req.query.cursor, status: req.query.status });
      return { messages: page.messages.map(view), next_cursor: page.next_cursor };
    },
  });

  app.get('/v1/in-app-messages/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'One in-app message, at its latest version', tags, params: IdParams, response: { 200: InAppMessage, ...errors('in_app_message_not_found') } },
    handler: async (req) => {
      const m = await getInAppMessage(sql, req.caller.projectId, req.params.id);
      if (!m) throw notFound(req.params.id);
      return view(m);
    },
  });

  app.patch('/v1/in-app-messages/:id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Change an in-app message: a new version, which devices get at their next sync',
      description: 'The fields given replace the current version\'s; null clears audience, starts_at, ends_at or capping.',
      tags, params: IdParams, body: UpdateBody, response: { 200: InAppMessage, ...errors('in_app_message_not_found', 'in_app_message_state_conflict', ...definitionErrors) },
    },
    handler: async (req) => {
      const { projectId } = req.caller;
      const current = await getInAppMessage(sql, projectId, req.params.id);
      if (!current) throw notFound(req.params.id);
      const merged = Object.fromEntries(Object.entries({ ...current.definition, ...req.body }).filter(([, v]) => v !== null));
      const model = await check(projectId, merged);
      const r = await sql.begin((tx) => updateInAppMessage(tx, projectId, req.params.id, model.definition, new Date(clock.now())));
      if (!r) throw notFound(req.params.id);
      if (!('id' in r)) throw new ApiError('in_app_message_state_conflict', `the in-app message is ${r.status}: a stopped message cannot change`);
      return view(r);
    },
  });

  const transition = (path: string, summary: string, from: readonly (typeof inAppStatuses)[number][], to: (typeof inAppStatuses)[number], refusal: string) =>
    app.post(path, {
      config: { auth: 'rest' },
      schema: { summary, tags, params: IdParams, response: { 200: InAppMessage, ...errors('in_app_message_not_found', 'in_app_message_state_conflict') } },
      handler: async (req) => {
        const r = await sql.begin((tx) => transitionInAppMessage(tx, req.caller.projectId, (req.params as { id: string }).id, from, to, new Date(clock.now())));
        if (!r) throw notFound((req.params as { id: string }).id);
        if (!('moved' in r)) throw new ApiError('in_app_message_state_conflict', `the in-app message is ${r.status}: ${refusal}`);
        return view(r.moved);
      },
    });
  transition('/v1/in-app-messages/:id/start', 'Start showing a draft: devices get it from their next sync', ['draft'], 'running', 'start needs a draft');
  transition('/v1/in-app-messages/:id/stop', 'Stop for good: absent from the next sync, refused by the display check from now on', ['draft', 'running'], 'stopped', 'it is stopped already');

  app.delete('/v1/in-app-messages/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'Delete an in-app message with its events and counters (an inbox item it made stays)', tags, params: IdParams, response: { 204: NoContent, ...errors('in_app_message_not_found') } },
    handler: async (req, reply) => {
      if (!(await deleteInAppMessage(sql, req.caller.projectId, req.params.id))) throw notFound(req.params.id);
      return reply.code(204).send();
    },
  });

  app.get('/v1/stats/in-app/:id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'An in-app message\'s impressions, clicks and dismissals, in total and by UTC day',
      description: 'Counted from the events devices report (POST /v1/sdk/in-app/events), each client id once, in the statement that stores them (docs/in-app.md).',
      tags: ['stats', 'in-app'], params: IdParams, response: { 200: InAppStats, ...errors('in_app_message_not_found') },
    },
    handler: async (req) => {
      const { projectId } = req.caller;
      if (!(await getInAppMessage(sql, projectId, req.params.id))) throw notFound(req.params.id);
      const days = await inAppStats(sql, projectId, req.params.id);
      const total = { impressions: 0, unique_impressions: 0, clicks: 0, unique_clicks: 0, dismissals: 0 };
      for (const d of days) for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += d[k];
      return { ...total, click_rate: total.unique_impressions ? total.unique_clicks / total.unique_impressions : null, days };
    },
  });
};
