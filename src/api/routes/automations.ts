/**
 * Trigger automations (/v1/automations, docs/automations.md): create (a draft, or live at once
 * with `start`), read with its per-step counts, list, change (a new definition is a new version:
 * new entries take it, running journeys finish on theirs), start, stop (every running journey
 * exits, reason automation_stopped), delete (a draft or a stopped one), and enter a profile by API
 * call. Everything a journey would fail on later is refused here with the path of the node: the
 * definition's grammar, its queries and the saved segments they name, its Liquid, and each send
 * step's content as a send would be (the same channel checks).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { systemClock, type Clock } from '../../domain/clock.js';
import { uuidv7 } from '../../domain/ids.js';
import type { MessageContent } from '../../domain/channels.js';
import { DefinitionError, eventNamesOf, parseDefinition, queryEventNames, webhookSteps, type AutomationModel } from '../../domain/automations/definition.js';
import type { ContentInput } from '../../domain/campaigns/content.js';
import { QueryError, type Query } from '../../domain/targeting/query.js';
import { expandSegments } from '../../domain/targeting/segments.js';
import { checkCustomId, checkClientId, InputError } from '../../domain/profile-operations.js';
import type { WorkQueue } from '../../queue/queue.js';
import {
  automationStates, automationVersions, deleteAutomation, getAutomation, insertAutomation, listAutomations, transitionAutomation, updateAutomation, type Automation,
} from '../../store/automations.js';
import { automationCounts, exitAllJourneys } from '../../store/automation-journeys.js';
import { segmentQueries } from '../../store/segments.js';
import { existingEndpoints } from '../../store/automation-calls.js';
import { enterAutomation } from '../../scheduler/automation-entry.js';
import { loadAutomationModel } from '../../scheduler/automation-model.js';
import { ApiError } from '../errors.js';
import { checkContent } from '../content-check.js';
import { DateTime, errorResponses, inputErrors, NoContent, Nullable, OpenObject, restKeyErrors } from '../schemas.js';

export interface AutomationRouteDeps {
  sql: Sql;
  queue: WorkQueue;
  clock?: Clock | undefined;
}

const id = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const IdParams = Type.Object({ id });
const Duration = Type.Object({
  days: Type.Optional(Type.Integer({ minimum: 0 })), hours: Type.Optional(Type.Integer({ minimum: 0 })),
  minutes: Type.Optional(Type.Integer({ minimum: 0 })), seconds: Type.Optional(Type.Integer({ minimum: 0 })),
}, { additionalProperties: false });
// Typed loosely: domain/automations/definition.ts reads it and names the path of a bad node; the
// properties below document the parts whose shape a schema can say.
const Definition = Type.Unsafe<unknown>({
  type: 'object', additionalProperties: true,
  description: 'The journey (docs/automations.md): {"trigger", "audience"?: query, '
    + '"recheck_after_wait"?: true, "entry"?: {"reentry", "grace_period_seconds", "max_entries"}, "active"?: {"from"?, "until"?}, "max_duration"?: duration, '
    + '"exit_on"?: [{"event", "where"?}], "steps": [{"id", "type": "send" | "wait" | "wait_for_event" | "branch" | "split" | "update_profile" | "webhook" | "exit", ...}]}.',
  properties: {
    trigger: Type.Object({
      type: Type.Optional(Type.Unknown({ description: 'event, segment or api.' })),
      event: Type.Optional(Type.String({ description: 'type event: the event\'s name.' })),
      where: Type.Optional(Type.Array(Type.Unknown(), { description: 'type event: conditions on the event\'s attributes (the targeting language\'s event filter).' })),
      segment: Type.Optional(Type.String({ description: 'type segment: a saved segment\'s id; a profile enters when it starts matching it.' })),
      query: Type.Optional(Type.Unknown({ description: 'type segment: an inline targeting query, instead of a saved segment.' })),
    }, { additionalProperties: true, description: 'What enters a profile: an event, entering a segment, or only API calls (any live automation takes those too).' }),
    active: Type.Object({
      from: Type.Optional(Type.String({ format: 'date-time', description: 'No entries before this instant.' })),
      until: Type.Optional(Type.String({ format: 'date-time', description: 'No entries from this instant on; running journeys go on.' })),
    }, { additionalProperties: false, description: 'The automation\'s lifetime: when it takes entries.' }),
    max_duration: { ...Duration, description: 'A journey still running this long after it entered exits (max_duration), whatever step it is in.' },
    steps: Type.Array(Type.Object({ id: Type.Optional(Type.String()), type: Type.Optional(Type.String()) }, {
      additionalProperties: true,
      description: 'One step; its other fields depend on its type. webhook: {"endpoint_id": a webhook endpoint whose secret signs the call, "url"?: https URL (default: the endpoint\'s), '
        + '"body": JSON object whose strings are Liquid templates, "max_tries"?: 1 to 8 (default 5), "on_failure"?: "continue" | "exit", "next"?}.',
    })),
  },
});
const name = Type.String({ minLength: 1, maxLength: 200 });
const CreateBody = Type.Object({
  name, definition: Definition,
  start: Type.Optional(Type.Boolean({ description: 'Live at once (default: a draft, which nobody enters).' })),
}, { additionalProperties: false });
const UpdateBody = Type.Object({
  name: Type.Optional(name),
  definition: Type.Optional(Definition),
}, { additionalProperties: false, minProperties: 1 });
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })), cursor: Type.Optional(id),
  state: Type.Optional(Type.Union(automationStates.map((s) => Type.Literal(s)))),
}, { additionalProperties: false });
const VersionsQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  cursor: Type.Optional(Type.Integer({ minimum: 2, description: 'next_cursor of the page before: the versions older than it.' })),
}, { additionalProperties: false });
const VersionsPage = Type.Object({
  versions: Type.Array(Type.Object({ version: Type.Integer(), definition: OpenObject('The version\'s definition, as it was given.'), created_at: DateTime })),
  next_cursor: Nullable(Type.Integer()),
});
const EntryBody = Type.Object({
  custom_id: Type.String({ minLength: 1, maxLength: 256 }),
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'The entry\'s id: an entry with an id seen before enters nobody again (a retried call).' })),
  attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'What templates see as {{ event.attributes.… }} (the entry is the journey\'s trigger, named "api").' })),
}, { additionalProperties: false });

const Reasons = (description: string) => Type.Record(Type.String(), Type.Integer(), { description });
const StepCounts = Type.Object({
  version: Type.Integer(), step: Type.String(),
  entered: Type.Integer({ description: 'Journeys that reached the step.' }),
  waiting: Type.Integer({ description: 'Journeys waiting in the step now.' }),
  sent: Type.Integer({ description: 'Messages handed to the delivery pipeline; webhook steps: calls delivered (a 2xx).' }),
  skipped: Reasons('Send steps: profiles not reachable on any of the step\'s channels, by reason; the journey went on.'),
  failed: Reasons('Send steps: a template that failed to render; the journey went on. Webhook steps: calls given up on, by reason (http_<status>, network, forbidden_address, endpoint_missing, template).'),
  paths: Reasons('Branch (then, else), split (the path\'s index), wait-for-event (event, timeout) and webhook (delivered, failed) steps: journeys by the way they took.'),
});
const Counts = Type.Object({
  entered: Type.Integer({ description: 'Journeys started (a restart is one more).' }),
  active: Type.Integer({ description: 'Journeys running now.' }),
  completed: Type.Integer(),
  exited: Reasons('Journeys ended early, by reason: exit_event, left_audience, restarted, automation_stopped, exit_step, profile_deleted, profile_erased, segment_missing, max_duration, webhook_failed.'),
  not_entered: Reasons('Triggers that started no journey, by reason: already_in_journey, reentry_not_allowed, grace_period, max_entries, not_started, ended, not_in_audience, no_profile.'),
  steps: Type.Array(StepCounts),
}, { description: 'Written with each step, in its transaction.' });
const AutomationView = Type.Object({
  id, name: Type.String(), state: Type.Union(automationStates.map((s) => Type.Literal(s))),
  version: Type.Integer({ description: 'The version new entries take; running journeys keep the one they entered on.' }),
  definition: OpenObject('The current version\'s definition, as it was given.'),
  created_at: DateTime, updated_at: DateTime, started_at: Nullable(DateTime), stopped_at: Nullable(DateTime),
});
const WithCounts = Type.Composite([AutomationView, Type.Object({ counts: Counts })]);
const EntryAnswer = Type.Object({
  entered: Type.Boolean(),
  journey_id: Nullable(id),
  restarted: Type.Boolean({ description: 'The profile\'s running journey had sent nothing yet: it was replaced by this one.' }),
  reason: Nullable(Type.String({ description: 'Why nobody entered: duplicate (this id entered before), already_in_journey, reentry_not_allowed, grace_period, max_entries, not_started, ended, not_in_audience, no_profile.' })),
});

const view = (a: Automation) => ({
  id: a.id, name: a.name, state: a.state, version: a.version, definition: a.definition as Record<string, unknown>,
  created_at: a.created_at, updated_at: a.updated_at, started_at: a.started_at, stopped_at: a.stopped_at,
});

function tally(rows: Awaited<ReturnType<typeof automationCounts>>): Static<typeof Counts> {
  const c: Static<typeof Counts> = { entered: 0, active: 0, completed: 0, exited: {}, not_entered: {}, steps: [] };
  const steps = new Map<string, Static<typeof StepCounts>>();
  const add = (m: Record<string, number>, k: string, n: number) => { m[k] = (m[k] ?? 0) + n; };
  for (const r of rows) {
    if (r.step === '') {
      if (r.metric === 'entered') c.entered += r.n;
      else if (r.metric === 'completed') c.completed += r.n;
      else if (r.metric === 'exited') add(c.exited, r.reason, r.n);
      else if (r.metric === 'not_entered') add(c.not_entered, r.reason, r.n);
      continue;
    }
    const key = `${r.version}\0${r.step}`;
    let s = steps.get(key);
    if (!s) steps.set(key, s = { version: r.version, step: r.step, entered: 0, waiting: 0, sent: 0, skipped: {}, failed: {}, paths: {} });
    if (r.metric === 'entered' || r.metric === 'waiting' || r.metric === 'sent') s[r.metric] += r.n;
    else if (r.metric === 'skipped' || r.metric === 'failed') add(s[r.metric], r.reason, r.n);
    else if (r.metric === 'path') add(s.paths, r.reason, r.n);
  }
  c.active = c.entered - c.completed - Object.values(c.exited).reduce((n, x) => n + x, 0);
  c.steps = [...steps.values()];
  return c;
}

export const automationRoutes = (deps: AutomationRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql } = deps;
  const clock = deps.clock ?? systemClock;

  /**
   * The definition's model, every part checked as a journey will use it, and the event names it
   * listens to (a segment trigger's, its saved segments expanded); a 400 naming the node otherwise.
   */
  const check = async (projectId: string, definition: unknown): Promise<{ model: AutomationModel; eventNames: string[] }> => {
    let model: AutomationModel;
    const eventNames = new Set<string>();
    try {
      model = parseDefinition(definition, 'body.definition');
      const queries: [Query, string][] = [];
      if (model.trigger.type === 'segment') queries.push([model.trigger.query, 'body.definition.trigger']);
      if (model.audience) queries.push([model.audience, 'body.definition.audience']);
      (definition as { steps: unknown[] }).steps.forEach((_, i) => {
        const s = [...model.steps.values()][i]!;
        if (s.type === 'branch') queries.push([s.condition, `body.definition.steps[${i}].condition`]);
      });
      for (const [q, at] of queries) {
        const saved = await segmentQueries(sql, projectId, q);
        const whole = expandSegments(q, (s) => saved.get(s), at);
        if (model.trigger.type === 'segment' && q === model.trigger.query) for (const n of queryEventNames(whole)) eventNames.add(n);
      }
      const steps = [...model.steps.values()];
      const named = webhookSteps(model);
      const endpoints = await existingEndpoints(sql, projectId, named.map((s) => s.endpointId));
      for (const s of named) {
        if (!endpoints.has(s.endpointId)) throw new DefinitionError(`body.definition.steps[${steps.indexOf(s)}].endpoint_id`, 'names no webhook endpoint of this project');
      }
    } catch (e) {
      if (e instanceof DefinitionError) throw new ApiError(e.kind === 'query' ? 'invalid_query' : e.kind === 'template' ? 'invalid_template' : 'invalid_automation', e.message);
      if (e instanceof QueryError) throw new ApiError('invalid_query', e.message);
      throw e;
    }
    const now = new Date(clock.now());
    for (const raw of (definition as { steps: { type?: unknown; content?: unknown }[] }).steps) {
      if (raw.type !== 'send') continue;
      const content = raw.content as ContentInput;
      checkContent(content as MessageContent, uuidv7(), now);
      for (const loc of Object.values(content.localized ?? {})) checkContent(loc as MessageContent, uuidv7(), now);
    }
    for (const n of eventNamesOf(model)) eventNames.add(n);
    return { model, eventNames: [...eventNames] };
  };
  const notFound = (automationId: string) => new ApiError('automation_not_found', `no automation ${automationId} in this project`);
  const withCounts = async (a: Automation) => ({ ...view(a), counts: tally(await automationCounts(sql, a.id)) });
  const errors = (...extra: Parameters<typeof errorResponses>) => errorResponses(inputErrors, restKeyErrors, ...extra);
  const definitionErrors = ['invalid_automation', 'invalid_query', 'invalid_template', 'push_payload_too_large', 'reserved_data_key', 'invalid_field'] as const;

  app.post('/v1/automations', {
    config: { auth: 'rest' },
    schema: { summary: 'Create a trigger automation: a draft, or live at once with start: true', tags: ['automations'], body: CreateBody, response: { 201: WithCounts, ...errors(...definitionErrors) } },
    handler: async (req, reply) => {
      const projectId = req.caller.projectId;
      const { eventNames } = await check(projectId, req.body.definition);
      const created = await sql.begin((tx) => insertAutomation(tx, {
        id: uuidv7(clock.now()), projectId, name: req.body.name, live: req.body.start === true, definition: req.body.definition,
        eventNames, now: new Date(clock.now()),
      }));
      return reply.code(201).send(await withCounts(created));
    },
  });

  app.get('/v1/automations', {
    config: { auth: 'rest' },
    schema: { summary: 'The project\'s automations, oldest first, paged by cursor', tags: ['automations'], querystring: ListQuery, response: { 200: Type.Object({ automations: Type.Array(AutomationView), next_cursor: Nullable(Type.String()) }), ...errors() } },
    handler: async (req) => {
      const page = await listAutomations(sql, req.caller.projectId, { limit: req.query.limit ?? 100, after: req.query.cursor, state: req.query.state });
      return { automations: page.automations.map(view), next_cursor: page.next_cursor };
    },
  });

  app.get('/v1/automations/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'One automation, with its counts per step', tags: ['automations'], params: IdParams, response: { 200: WithCounts, ...errors('automation_not_found') } },
    handler: async (req) => {
      const a = await getAutomation(sql, req.caller.projectId, req.params.id);
      if (!a) throw notFound(req.params.id);
      return withCounts(a);
    },
  });

  app.get('/v1/automations/:id/versions', {
    config: { auth: 'rest' },
    schema: {
      summary: 'An automation\'s versions, newest first: each definition as it was given (running journeys may be on any of them)',
      tags: ['automations'], params: IdParams, querystring: VersionsQuery, response: { 200: VersionsPage, ...errors('automation_not_found') },
    },
    handler: async (req) => {
      const a = await getAutomation(sql, req.caller.projectId, req.params.id);
      if (!a) throw notFound(req.params.id);
      const limit = req.query.limit ?? 20;
      const rows = await automationVersions(sql, a.id, { limit, before: req.query.cursor });
      return {
        versions: rows.map((v) => ({ version: v.version, definition: v.definition as Record<string, unknown>, created_at: v.created_at })),
        next_cursor: rows.length === limit && rows[rows.length - 1]!.version > 1 ? rows[rows.length - 1]!.version : null,
      };
    },
  });

  app.patch('/v1/automations/:id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Rename, or change the definition: a new version that new entries take; running journeys finish on theirs',
      tags: ['automations'], params: IdParams, body: UpdateBody, response: { 200: WithCounts, ...errors('automation_not_found', 'automation_state_conflict', ...definitionErrors) },
    },
    handler: async (req) => {
      const projectId = req.caller.projectId;
      const checked = req.body.definition === undefined ? undefined : await check(projectId, req.body.definition);
      const r = await sql.begin((tx) => updateAutomation(tx, projectId, req.params.id, {
        name: req.body.name, definition: req.body.definition, eventNames: checked?.eventNames, now: new Date(clock.now()),
      }));
      if (!r) throw notFound(req.params.id);
      if (!('id' in r)) throw new ApiError('automation_state_conflict', `the automation is ${r.state}: a stopped automation cannot change`);
      return withCounts(r);
    },
  });

  app.post('/v1/automations/:id/start', {
    config: { auth: 'rest' },
    schema: { summary: 'Make a draft live: its triggers enter profiles from now on', tags: ['automations'], params: IdParams, response: { 200: WithCounts, ...errors('automation_not_found', 'automation_state_conflict') } },
    handler: async (req) => {
      const r = await sql.begin((tx) => transitionAutomation(tx, req.caller.projectId, req.params.id, ['draft'], 'live', new Date(clock.now())));
      if (!r) throw notFound(req.params.id);
      if (!('moved' in r)) throw new ApiError('automation_state_conflict', `the automation is ${r.state}: start needs a draft`);
      return withCounts(r.moved);
    },
  });

  app.post('/v1/automations/:id/stop', {
    config: { auth: 'rest' },
    schema: { summary: 'Stop for good: nobody enters any more, and every running journey exits (automation_stopped)', tags: ['automations'], params: IdParams, response: { 200: WithCounts, ...errors('automation_not_found', 'automation_state_conflict') } },
    handler: async (req) => {
      const r = await sql.begin(async (tx) => {
        const now = new Date(clock.now());
        const moved = await transitionAutomation(tx, req.caller.projectId, req.params.id, ['draft', 'live'], 'stopped', now);
        if (moved && 'moved' in moved) await exitAllJourneys(tx, req.params.id, 'automation_stopped', now);
        return moved;
      });
      if (!r) throw notFound(req.params.id);
      if (!('moved' in r)) throw new ApiError('automation_state_conflict', `the automation is ${r.state} already`);
      return withCounts(r.moved);
    },
  });

  app.delete('/v1/automations/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'Delete a draft or a stopped automation, with its journeys and counts (messages it sent stay)', tags: ['automations'], params: IdParams, response: { 204: NoContent, ...errors('automation_not_found', 'automation_state_conflict') } },
    handler: async (req, reply) => {
      const r = await sql.begin((tx) => deleteAutomation(tx, req.caller.projectId, req.params.id));
      if (!r) throw notFound(req.params.id);
      if (r !== 'deleted') throw new ApiError('automation_state_conflict', `the automation is ${r.state}: stop it first`);
      return reply.code(204).send();
    },
  });

  app.post('/v1/automations/:id/entries', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Enter a profile into a live automation now, whatever its trigger',
      description: 'The entry rules apply as for a trigger event (docs/automations.md, "Entry rules"). Answered after the journey is committed; its first step runs in the automation loop\'s next pass.',
      tags: ['automations'], params: IdParams, body: EntryBody, response: { 200: EntryAnswer, ...errors('automation_not_found', 'automation_state_conflict') },
    },
    handler: async (req) => {
      const projectId = req.caller.projectId;
      let customId: string;
      let entryId: string | undefined;
      try {
        customId = checkCustomId(req.body.custom_id, 'body.custom_id');
        entryId = req.body.id === undefined ? undefined : checkClientId(req.body.id, 'body.id');
      } catch (e) {
        if (e instanceof InputError) throw new ApiError(e.code, e.message);
        throw e;
      }
      const now = clock.now();
      const r = await sql.begin(async (tx) => {
        const [a] = await tx<{ state: string; version: number }[]>`
          select state, version from automations where project_id = ${projectId} and id = ${req.params.id} for share`;
        if (!a) throw notFound(req.params.id);
        if (a.state !== 'live') throw new ApiError('automation_state_conflict', `the automation is ${a.state}: only a live automation takes entries`);
        const model = (await loadAutomationModel(tx, req.params.id, a.version))!;
        return enterAutomation(tx, { id: req.params.id, projectId, version: a.version, model }, {
          customId, entryKey: `api:${entryId ?? uuidv7(now)}`, now,
          trigger: { name: 'api', time: new Date(now).toISOString(), attributes: req.body.attributes ?? {} },
        });
      });
      return r.entered
        ? { entered: true, journey_id: r.journeyId, restarted: r.restarted, reason: null }
        : { entered: false, journey_id: r.journeyId ?? null, restarted: false, reason: r.reason };
    },
  });
};
