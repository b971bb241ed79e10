/**
 * Capping rules (/v1/cappings) and quiet hours (/v1/quiet-hours): how much marketing pressure a
 * profile may take (docs/capping.md). The rules are enforced by the fan-out (store/capping.ts);
 * a change applies to every fan-out that starts after it commits.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { systemClock, type Clock } from '../../domain/clock.js';
import { channels } from '../../domain/channels.js';
import { cappingScopes } from '../../domain/capping/rules.js';
import { uuidv7 } from '../../domain/ids.js';
import { deleteRule, getQuietHours, getRule, insertRule, listRules, longestWindowMs, replaceRule, setQuietHours, type CappingRuleInput } from '../../store/capping.js';
import { ApiError } from '../errors.js';
import { DateTime, errorResponses, inputErrors, NoContent, Nullable, restKeyErrors } from '../schemas.js';

export interface CappingRouteDeps {
  sql: Sql;
  clock?: Clock | undefined;
}

/** The longest window a rule may count over, and the longest a deferred message may wait. */
const maxWindowHours = longestWindowMs / 3_600_000;
const maxDelayMinutes = 30 * 24 * 60;

const id = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const IdParams = Type.Object({ id });
const RuleFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  scope: Type.Union(cappingScopes.map((s) => Type.Literal(s)), {
    description: 'What the rule counts and caps: all messages, marketing (campaigns and automations), transactional sends, one campaign label, in-app messages.',
  }),
  label: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100, description: 'The campaign label counted (scope label only).' }))),
  channels: Type.Optional(Type.Array(Type.Union([...channels, 'in_app' as const].map((c) => Type.Literal(c))), {
    uniqueItems: true, description: 'The channels counted and capped; empty or absent: every channel.',
  })),
  max_sends: Type.Integer({ minimum: 1, maximum: 1000, description: 'At most this many messages per profile in the window.' }),
  window_amount: Type.Integer({ minimum: 1, maximum: maxWindowHours, description: 'The sliding window\'s length, in window_unit (90 days at most).' }),
  window_unit: Type.Union([Type.Literal('hours'), Type.Literal('days')]),
  action: Type.Union([Type.Literal('skip'), Type.Literal('defer')], { description: 'What a message over the cap does: skipped with its reason, or deferred to when the window allows.' }),
  max_delay_minutes: Type.Optional(Nullable(Type.Integer({
    minimum: 1, maximum: maxDelayMinutes, description: 'defer only (required there): a message that could go out only later than its creation plus this is skipped instead.',
  }))),
  enabled: Type.Optional(Type.Boolean({ default: true })),
};
const RuleBody = Type.Object(RuleFields, { additionalProperties: false });
const Rule = Type.Object({
  id, ...RuleFields,
  label: Nullable(Type.String()), channels: Type.Array(Type.String()), max_delay_minutes: Nullable(Type.Integer()), enabled: Type.Boolean(),
  created_at: DateTime, updated_at: DateTime,
});
const time = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, 24-hour, in each recipient\'s local time.' });
const QuietHours = Type.Object({
  start: time, end: time,
  action: Type.Union([Type.Literal('defer'), Type.Literal('skip')], { description: 'defer: a marketing message waits for the end; skip: it is skipped with reason "quiet hours".' }),
}, { additionalProperties: false });

/** The rule as stored, once its parts are checked against one another. */
function checked(body: Static<typeof RuleBody>): CappingRuleInput {
  const label = body.label ?? null;
  if ((body.scope === 'label') !== (label !== null)) {
    throw new ApiError('invalid_capping_rule', body.scope === 'label' ? 'scope label needs a label' : `label is only for scope label, not ${body.scope}`);
  }
  const maxDelay = body.max_delay_minutes ?? null;
  if (body.action === 'defer' && maxDelay === null) throw new ApiError('invalid_capping_rule', 'action defer needs max_delay_minutes');
  if (body.action === 'skip' && maxDelay !== null) throw new ApiError('invalid_capping_rule', 'max_delay_minutes is only for action defer');
  if (body.window_unit === 'days' && body.window_amount > maxWindowHours / 24) throw new ApiError('invalid_capping_rule', `the window is ${maxWindowHours / 24} days at most`);
  return {
    name: body.name, scope: body.scope, label, channels: body.channels ?? [], max_sends: body.max_sends,
    window_amount: body.window_amount, window_unit: body.window_unit, action: body.action, max_delay_minutes: maxDelay, enabled: body.enabled ?? true,
  };
}

export const cappingRoutes = (deps: CappingRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql } = deps;
  const clock = deps.clock ?? systemClock;
  const notFound = (ruleId: string) => new ApiError('capping_rule_not_found', `no capping rule ${ruleId} in this project`);

  app.post('/v1/cappings', {
    config: { auth: 'rest' },
    schema: { summary: 'Create a capping rule: at most N messages per profile per sliding window', tags: ['cappings'], body: RuleBody, response: { 201: Rule, ...errorResponses(inputErrors, restKeyErrors, 'invalid_capping_rule') } },
    handler: async (req, reply) => {
      const rule = checked(req.body);
      return reply.code(201).send(await insertRule(sql, req.caller.projectId, uuidv7(clock.now()), rule, clock.now()));
    },
  });

  app.get('/v1/cappings', {
    config: { auth: 'rest' },
    schema: { summary: 'The project\'s capping rules, oldest first', tags: ['cappings'], response: { 200: Type.Object({ cappings: Type.Array(Rule) }), ...errorResponses(restKeyErrors) } },
    handler: async (req) => ({ cappings: await listRules(sql, req.caller.projectId) }),
  });

  app.get('/v1/cappings/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'One capping rule', tags: ['cappings'], params: IdParams, response: { 200: Rule, ...errorResponses(inputErrors, restKeyErrors, 'capping_rule_not_found') } },
    handler: async (req) => (await getRule(sql, req.caller.projectId, req.params.id)) ?? Promise.reject(notFound(req.params.id)),
  });

  app.put('/v1/cappings/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'Replace a capping rule; fan-outs starting after this count by the new rule', tags: ['cappings'], params: IdParams, body: RuleBody, response: { 200: Rule, ...errorResponses(inputErrors, restKeyErrors, 'invalid_capping_rule', 'capping_rule_not_found') } },
    handler: async (req) => (await replaceRule(sql, req.caller.projectId, req.params.id, checked(req.body), clock.now())) ?? Promise.reject(notFound(req.params.id)),
  });

  app.delete('/v1/cappings/:id', {
    config: { auth: 'rest' },
    schema: { summary: 'Delete a capping rule (messages it deferred are released on time and decided again)', tags: ['cappings'], params: IdParams, response: { 204: NoContent, ...errorResponses(inputErrors, restKeyErrors, 'capping_rule_not_found') } },
    handler: async (req, reply) => {
      if (!(await deleteRule(sql, req.caller.projectId, req.params.id))) throw notFound(req.params.id);
      return reply.code(204).send();
    },
  });

  app.get('/v1/quiet-hours', {
    config: { auth: 'rest' },
    schema: { summary: 'The project\'s quiet hours, or null', tags: ['cappings'], response: { 200: Type.Object({ quiet_hours: Nullable(QuietHours) }), ...errorResponses(restKeyErrors) } },
    handler: async (req) => ({ quiet_hours: await getQuietHours(sql, req.caller.projectId) }),
  });

  app.put('/v1/quiet-hours', {
    config: { auth: 'rest' },
    schema: { summary: 'Set the project\'s quiet hours, in each recipient\'s local time (the profile\'s timezone, else the project\'s)', tags: ['cappings'], body: QuietHours, response: { 200: Type.Object({ quiet_hours: QuietHours }), ...errorResponses(inputErrors, restKeyErrors, 'invalid_quiet_hours') } },
    handler: async (req) => {
      if (req.body.start === req.body.end) throw new ApiError('invalid_quiet_hours', 'start and end are the same time');
      const q = { start: req.body.start, end: req.body.end, action: req.body.action };
      await setQuietHours(sql, req.caller.projectId, q);
      return { quiet_hours: q };
    },
  });

  app.delete('/v1/quiet-hours', {
    config: { auth: 'rest' },
    schema: { summary: 'Remove the project\'s quiet hours', tags: ['cappings'], response: { 204: NoContent, ...errorResponses(restKeyErrors) } },
    handler: async (req, reply) => {
      await setQuietHours(sql, req.caller.projectId, null);
      return reply.code(204).send();
    },
  });
};
