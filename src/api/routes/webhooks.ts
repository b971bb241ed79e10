/**
 * A project's webhook endpoints (admin only, like provider credentials; docs/webhooks.md):
 *   POST   /v1/webhooks                     create; the answer carries the signing secret, once
 *   GET    /v1/webhooks                     the project's endpoints
 *   GET    /v1/webhooks/{id}                one
 *   PATCH  /v1/webhooks/{id}                url, event_types, enabled, description
 *   DELETE /v1/webhooks/{id}
 *   POST   /v1/webhooks/{id}/rotate-secret  a new secret (shown once); the old one signs too for 24 h
 *   POST   /v1/webhooks/{id}/replay         queue again what the endpoint missed in [since, until)
 *   GET    /v1/webhooks/{id}/attempts       its delivery log, newest first, paged by cursor
 * A secret is never answered except by create and rotate-secret, and never logged.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { systemClock, type Clock } from '../../domain/clock.js';
import { uuidv7 } from '../../domain/ids.js';
import { noPrivateNetworks, refusalOfHost, type PrivateNetworkAllowance } from '../../domain/network-address.js';
import { comingEventTypes, normalizeFilter, webhookEventTypes } from '../../domain/webhooks/event-types.js';
import { createEndpoint, deleteEndpoint, getEndpoint, listEndpoints, rotateSecret, updateEndpoint } from '../../store/webhook-endpoints.js';
import { listAttempts, replayWebhooks } from '../../store/webhook-deliveries.js';
import type { Keyring } from '../../store/sealed.js';
import { ApiError } from '../errors.js';
import { DateTime, errorResponses, inputErrors, NoContent, Nullable, restKeyErrors } from '../schemas.js';

export interface WebhookRouteDeps {
  sql: Sql;
  keyring: Keyring;
  clock?: Clock | undefined;
  /** Where endpoint URLs may name private addresses (none by default). */
  privateNetworks?: PrivateNetworkAllowance | undefined;
}

const id = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const IdParams = Type.Object({ id });
const url = Type.String({ minLength: 1, maxLength: 2048, description: 'An http or https URL Herald POSTs each event to.' });
const eventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  maxItems: 50,
  description: `The event types sent; empty or absent: every type. Sent today: ${webhookEventTypes.join(', ')}; accepted, sent by a later version: ${comingEventTypes.join(', ')}.`,
});
const description = Nullable(Type.String({ maxLength: 2000 }));
const CreateBody = Type.Object({
  url, event_types: Type.Optional(eventTypes), description: Type.Optional(description), enabled: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
const UpdateBody = Type.Object({
  url: Type.Optional(url), event_types: Type.Optional(eventTypes), description: Type.Optional(description),
  enabled: Type.Optional(Type.Boolean({ description: 'true re-enables a disabled endpoint and forgets its failures.' })),
}, { additionalProperties: false, minProperties: 1 });
const Endpoint = Type.Object({
  id, url, description, event_types: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  disabled_reason: Nullable(Type.String({ description: 'Why Herald disabled it (failing continuously for 5 days).' })),
  failing_since: Nullable(DateTime),
  previous_secret_expires_at: Nullable(DateTime),
  created_at: DateTime, updated_at: DateTime,
});
const secret = Type.String({ description: 'The signing secret (whsec_…), shown only in this answer: store it now.' });
const Created = Type.Intersect([Endpoint, Type.Object({ secret })]);
const Rotated = Type.Object({ secret, previous_secret_expires_at: DateTime });
const ReplayBody = Type.Object({ since: Type.String({ format: 'date-time' }), until: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false });
const Replayed = Type.Object({ queued: Type.Integer({ description: 'Events queued again for this endpoint.' }) });
const AttemptsQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })),
}, { additionalProperties: false });
const Attempt = Type.Object({
  id: Type.String(), event_id: id, type: Type.String(), attempt: Type.Integer({ description: '1 for the first attempt of this event to this endpoint.' }),
  status_code: Nullable(Type.Integer({ description: 'null when no answer came (timeout, refused, reset).' })),
  latency_ms: Type.Integer(), error: Nullable(Type.String()), created_at: DateTime,
});

const admin = { auth: 'rest', role: 'admin' } as const;
const errors = (...more: Parameters<typeof errorResponses>) => errorResponses(inputErrors, restKeyErrors, ...more);

export const webhookRoutes = (deps: WebhookRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql } = deps;
  const clock = deps.clock ?? systemClock;
  const now = () => new Date(clock.now());
  const notFound = (endpointId: string) => new ApiError('webhook_not_found', `no webhook endpoint ${endpointId} in this project`);

  const checkedUrl = (value: string): string => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new ApiError('invalid_field', 'body.url must be an absolute http or https URL');
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ApiError('invalid_field', 'body.url must be an http or https URL');
    if (u.username || u.password) throw new ApiError('invalid_field', 'body.url must not carry credentials: verify the signature instead');
    // A name is checked when the dispatcher resolves it (providers/outbound-guard.ts); a literal here.
    const refusal = refusalOfHost(deps.privateNetworks ?? noPrivateNetworks, u.hostname, Number(u.port) || (u.protocol === 'https:' ? 443 : 80));
    if (refusal) throw new ApiError('forbidden_address', `body.url: ${refusal}`);
    return u.toString();
  };
  const checkedTypes = (types: string[] | undefined): string[] | undefined => {
    if (types === undefined) return undefined;
    const f = normalizeFilter(types);
    if (!f.ok) throw new ApiError('invalid_field', `body.event_types: unknown event type ${JSON.stringify(f.unknown)}; the types are ${[...webhookEventTypes, ...comingEventTypes].join(', ')}`);
    return f.types;
  };

  app.post('/v1/webhooks', {
    config: admin,
    schema: { summary: 'Create a webhook endpoint (its signing secret is in this answer only)', tags: ['webhooks'], body: CreateBody, response: { 201: Created, ...errors('forbidden_address') } },
    handler: async (req, reply) => {
      const projectId = req.caller.projectId;
      const created = await createEndpoint(sql, deps.keyring, projectId, {
        id: uuidv7(clock.now()), url: checkedUrl(req.body.url), description: req.body.description ?? null,
        eventTypes: checkedTypes(req.body.event_types) ?? [], enabled: req.body.enabled ?? true, now: now(),
      });
      req.log.info({ projectId, endpointId: created.id }, 'webhook endpoint created');
      return reply.code(201).send(created);
    },
  });

  app.get('/v1/webhooks', {
    config: admin,
    schema: { summary: 'The project\'s webhook endpoints, oldest first', tags: ['webhooks'], response: { 200: Type.Object({ webhooks: Type.Array(Endpoint) }), ...errors() } },
    handler: async (req) => ({ webhooks: await listEndpoints(sql, req.caller.projectId) }),
  });

  app.get('/v1/webhooks/:id', {
    config: admin,
    schema: { summary: 'One webhook endpoint', tags: ['webhooks'], params: IdParams, response: { 200: Endpoint, ...errors('webhook_not_found') } },
    handler: async (req) => {
      const endpoint = await getEndpoint(sql, req.caller.projectId, req.params.id);
      if (!endpoint) throw notFound(req.params.id);
      return endpoint;
    },
  });

  app.patch('/v1/webhooks/:id', {
    config: admin,
    schema: { summary: 'Change a webhook endpoint; enabled: true re-enables a disabled one', tags: ['webhooks'], params: IdParams, body: UpdateBody, response: { 200: Endpoint, ...errors('webhook_not_found', 'forbidden_address') } },
    handler: async (req) => {
      const b = req.body;
      const updated = await updateEndpoint(sql, req.caller.projectId, req.params.id, {
        url: b.url === undefined ? undefined : checkedUrl(b.url), description: b.description, eventTypes: checkedTypes(b.event_types), enabled: b.enabled, now: now(),
      });
      if (!updated) throw notFound(req.params.id);
      return updated;
    },
  });

  app.delete('/v1/webhooks/:id', {
    config: admin,
    schema: { summary: 'Delete a webhook endpoint and its pending deliveries and log', tags: ['webhooks'], params: IdParams, response: { 204: NoContent, ...errors('webhook_not_found') } },
    handler: async (req, reply) => {
      if (!(await deleteEndpoint(sql, req.caller.projectId, req.params.id))) throw notFound(req.params.id);
      return reply.code(204).send();
    },
  });

  app.post('/v1/webhooks/:id/rotate-secret', {
    config: admin,
    schema: { summary: 'A new signing secret (in this answer only); the previous one keeps signing beside it for 24 hours', tags: ['webhooks'], params: IdParams, response: { 200: Rotated, ...errors('webhook_not_found') } },
    handler: async (req) => {
      const rotated = await rotateSecret(sql, deps.keyring, req.caller.projectId, req.params.id, now());
      if (!rotated) throw notFound(req.params.id);
      req.log.info({ projectId: req.caller.projectId, endpointId: req.params.id }, 'webhook secret rotated');
      return rotated;
    },
  });

  app.post('/v1/webhooks/:id/replay', {
    config: admin,
    schema: { summary: 'Send again the events of [since, until) this endpoint has not received (failed, or missed while disabled)', tags: ['webhooks'], params: IdParams, body: ReplayBody, response: { 202: Replayed, ...errors('webhook_not_found') } },
    handler: async (req, reply) => {
      const since = new Date(req.body.since);
      const until = req.body.until === undefined ? now() : new Date(req.body.until);
      if (!(since < until)) throw new ApiError('invalid_field', 'body.since must be before body.until');
      const queued = await replayWebhooks(sql, req.caller.projectId, req.params.id, { since, until }, now());
      if (queued === undefined) throw notFound(req.params.id);
      return reply.code(202).send({ queued });
    },
  });

  app.get('/v1/webhooks/:id/attempts', {
    config: admin,
    schema: { summary: 'The endpoint\'s delivery log: every attempt, newest first, paged by cursor', tags: ['webhooks'], params: IdParams, querystring: AttemptsQuery, response: { 200: Type.Object({ attempts: Type.Array(Attempt), next_cursor: Nullable(Type.String()) }), ...errors('webhook_not_found') } },
    handler: async (req) => {
      const projectId = req.caller.projectId;
      if (!(await getEndpoint(sql, projectId, req.params.id))) throw notFound(req.params.id);
      return listAttempts(sql, projectId, req.params.id, { limit: req.query.limit ?? 100, before: req.query.cursor });
    },
  });
};
