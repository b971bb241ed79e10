/**
 * The SDK's data endpoints (SDK key, CORS open): events, attribute changes, identify/logout and
 * push feedback. Every item carries a client-generated id; an id seen again within the dedupe window
 * (at least 7 days) is acknowledged and not stored twice. A 200 follows the commit.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { checkClientId, checkCustomId, limits, parseEvent, parseSdkChanges, parseTime } from '../../domain/profile-operations.js';
import { claimClientId, recordPushFeedback, storeEvents, type NewEvent } from '../../store/events.js';
import { changeInstallationAttributes, identify, logout } from '../../store/identity.js';
import { createGroupCommit } from '../../store/group-commit.js';
import { influencedDeliveries, recordEngagements } from '../../store/engagements.js';
import { ApiError } from '../errors.js';
import { authorizeChange } from '../identity-guard.js';
import { errorResponses, IdentityToken, inputErrors, Nullable, sdkKeyErrors } from '../schemas.js';
import type { Keyring } from '../../store/sealed.js';
import { parseOrRefuse } from '../input-errors.js';
import type { RateLimiter } from '../rate-limit.js';
import { systemClock, type Clock } from '../../domain/clock.js';

const InstallId = Type.String({ minLength: 1, maxLength: 128 });
const ClientId = Type.String({ minLength: 1, maxLength: limits.clientIdLength, description: 'Client-generated, unique per project.' });

const EventsBody = Type.Object(
  {
    install_id: InstallId,
    events: Type.Array(
      Type.Object(
        { id: ClientId, name: Type.String(), time: Type.String({ description: 'ISO-8601 with offset' }), attributes: Type.Optional(Type.Object({})) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const AttributesBody = Type.Object(
  {
    install_id: InstallId,
    id: ClientId,
    time: Type.String(),
    set: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    unset: Type.Optional(Type.Array(Type.String(), { maxItems: limits.attributesPerOperation })),
    add: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    remove: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    identity_token: Type.Optional(IdentityToken),
  },
  { additionalProperties: false },
);

const IdentifyBody = Type.Object(
  { install_id: InstallId, custom_id: Type.String(), identity_token: Type.Optional(IdentityToken) },
  { additionalProperties: false },
);
const LogoutBody = Type.Object({ install_id: InstallId, identity_token: Type.Optional(IdentityToken) }, { additionalProperties: false });

const PushEventsBody = Type.Object(
  {
    install_id: InstallId,
    events: Type.Array(
      Type.Object(
        {
          id: ClientId,
          type: Type.Union([Type.Literal('received'), Type.Literal('opened'), Type.Literal('app_opened')], {
            description: 'app_opened: the app came to the foreground, not from a push; credits the push received last within the influence window (docs/analytics.md).',
          }),
          message_id: Type.Optional(Type.String({ format: 'uuid' })),
          delivery_id: Type.Optional(Type.String({ format: 'uuid' })),
          time: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const eventNames = { received: '$push_received', opened: '$push_opened', app_opened: '$app_opened' } as const;

/**
 * How long after a push is received an app open counts as influenced by it: 3 hours, long enough
 * for a notification read later that morning, short enough that an app used every day is not
 * credited to every push (docs/analytics.md).
 */
export const influenceWindowMs = 3 * 3600 * 1000;

const Counts = Type.Object({ accepted: Type.Integer(), duplicates: Type.Integer({ description: 'Ids seen before: acknowledged, not stored again.' }) });
const Identity = Type.Object({ install_id: Type.String(), custom_id: Nullable(Type.String()) });
const batchErrors = errorResponses(inputErrors, sdkKeyErrors, 'too_many_events', 'rate_limited');
const identityErrors = errorResponses(inputErrors, sdkKeyErrors, 'rate_limited', 'installation_not_found', 'identity_required', 'invalid_identity_token');

/**
 * The checks every SDK batch gets before anything is stored: its size, and each item through
 * `parseOne` (whose InputError becomes a 400 naming the field). Text PostgreSQL cannot store, in
 * install_id or anywhere else, was refused before (api/storable-input.ts).
 */
function parseBatch<E, T>(items: E[], parseOne: (item: E, path: string) => T): T[] {
  if (items.length > limits.sdkEventsPerBatch) {
    throw new ApiError('too_many_events', `events has ${items.length} items; the limit is ${limits.sdkEventsPerBatch} per call`);
  }
  return parseOrRefuse(() => items.map((e, i) => parseOne(e, `events[${i}]`)));
}

const count = (stored: boolean[]) => {
  const accepted = stored.filter(Boolean).length;
  return { accepted, duplicates: stored.length - accepted };
};

export const sdkDataRoutes = (deps: { sql: Sql; keyring: Keyring; limiter: RateLimiter; clock?: Clock | undefined }): FastifyPluginAsyncTypebox => async (app) => {
  const clock = deps.clock ?? systemClock;
  const { sql, keyring, limiter } = deps;
  // Concurrent batches share one commit (one fsync for many), each answered after it. storeEvents
  // is one statement, which PostgreSQL commits on its own: no BEGIN and COMMIT round trips.
  const store = createGroupCommit<NewEvent[], boolean[]>({
    maxBatch: 64, maxConcurrent: 2,
    commit: async (batches) => {
      const stored = await storeEvents(sql, batches.flat());
      let at = 0;
      return batches.map((b) => stored.slice(at, (at += b.length)));
    },
  });

  app.post('/v1/sdk/events', {
    config: { auth: 'sdk' },
    schema: { summary: 'Track a batch of up to 100 events', tags: ['sdk'], body: EventsBody, response: { 200: Counts, ...batchErrors } },
    handler: async (req) => {
      const { install_id, events } = req.body;
      const now = new Date(clock.now());
      const parsed = parseBatch(events, (e, path) => parseEvent(e, path, now, { idRequired: true, timeRequired: true }));
      limiter.take('sdk', req.caller.projectId, parsed.length);
      if (!parsed.length) return { accepted: 0, duplicates: 0 };
      const { projectId } = req.caller;
      const stored = await store(parsed.map((e): NewEvent => ({
        projectId, clientId: e.clientId, customId: null, installId: install_id, name: e.name, time: e.time, attributes: e.attributes,
      })));
      return count(stored);
    },
  });

  app.post('/v1/sdk/attributes', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'Change custom attributes of the installation\'s profile',
      description: 'Applied to the profile when the installation is identified (with the SDK key: needs identity_token for its custom_id); otherwise kept on the installation until identify.',
      tags: ['sdk'], body: AttributesBody,
      response: { 200: Type.Object({ duplicate: Type.Boolean({ description: 'The id was seen before: nothing was changed again.' }) }), ...identityErrors },
    },
    handler: async (req) => {
      const { identity_token: token, ...b } = req.body;
      const changes = parseOrRefuse(() => {
        parseTime(b.time, 'time', new Date(clock.now()));
        return parseSdkChanges(b);
      });
      // The profile of an identified installation changes only with its custom_id's token.
      const authorize = authorizeChange(keyring, req, token, undefined);
      limiter.take('sdk', req.caller.projectId, 1);
      const duplicate = await sql.begin(async (tx) => {
        if (!(await claimClientId(tx, req.caller.projectId, b.id))) return true;
        if (!(await changeInstallationAttributes(tx, req.caller.projectId, b.install_id, changes, authorize))) {
          throw new ApiError('installation_not_found', 'no installation with this install_id; register it first');
        }
        return false;
      });
      return { duplicate };
    },
  });

  app.post('/v1/sdk/identify', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'Attach the installation to a custom_id (creating the profile)',
      description: 'With the SDK key: needs identity_token for custom_id; an installation attached to another custom_id must be logged out first.',
      tags: ['sdk'], body: IdentifyBody,
      response: { 200: Identity, ...identityErrors },
    },
    handler: async (req) => {
      const { install_id } = req.body;
      const customId = parseOrRefuse(() => checkCustomId(req.body.custom_id, 'custom_id'));
      limiter.take('sdk', req.caller.projectId, 1);
      const authorize = authorizeChange(keyring, req, req.body.identity_token, customId);
      const found = await sql.begin((tx) => identify(tx, req.caller.projectId, install_id, customId, authorize));
      if (!found) throw new ApiError('installation_not_found', 'no installation with this install_id; register it first');
      return { install_id, custom_id: customId };
    },
  });

  app.post('/v1/sdk/logout', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'Detach the installation from its custom_id',
      description: 'With the SDK key: needs identity_token for the custom_id the installation is attached to.',
      tags: ['sdk'], body: LogoutBody,
      response: { 200: Identity, ...identityErrors },
    },
    handler: async (req) => {
      limiter.take('sdk', req.caller.projectId, 1);
      const authorize = authorizeChange(keyring, req, req.body.identity_token, null);
      const found = await sql.begin((tx) => logout(tx, req.caller.projectId, req.body.install_id, authorize));
      if (!found) throw new ApiError('installation_not_found', 'no installation with this install_id; register it first');
      return { install_id: req.body.install_id, custom_id: null };
    },
  });

  app.post('/v1/sdk/push-events', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'Report pushes received and opened',
      description: 'Stored as events $push_received / $push_opened / $app_opened; a known delivery gets received_at / opened_at (the first report wins), its receipt and open counted once in the stats.',
      tags: ['sdk'], body: PushEventsBody, response: { 200: Counts, ...batchErrors },
    },
    handler: async (req) => {
      const { install_id, events } = req.body;
      const now = new Date(clock.now());
      const parsed = parseBatch(events, (e, path) => ({
        ...e, id: checkClientId(e.id, `${path}.id`), time: parseTime(e.time, `${path}.time`, now),
      }));
      limiter.take('sdk', req.caller.projectId, parsed.length);
      const stored = await sql.begin(async (tx) => {
        const s = await storeEvents(tx, parsed.map((e) => ({
          projectId: req.caller.projectId, clientId: e.id, customId: null, installId: install_id,
          name: eventNames[e.type], time: e.time,
          attributes: { ...(e.message_id ? { message_id: e.message_id } : {}), ...(e.delivery_id ? { delivery_id: e.delivery_id } : {}) },
        })));
        // Only the reports stored now move the stats: a batch sent again is acknowledged, not counted.
        const fresh = parsed.filter((_, i) => s[i]);
        const matched = await recordPushFeedback(tx, req.caller.projectId, install_id, fresh.flatMap((e) => (e.type === 'app_opened' ? [] : [{
          type: e.type, deliveryId: e.delivery_id ?? null, messageId: e.message_id ?? null, time: e.time,
        }])));
        const influenced = await influencedDeliveries(tx, req.caller.projectId, install_id,
          fresh.filter((e) => e.type === 'app_opened').map((e) => e.time), influenceWindowMs);
        await recordEngagements(tx, req.caller.projectId, [
          ...matched.flatMap((m) => [
            ...(m.received ? [{ deliveryId: m.id, kind: 'received' as const }] : []),
            ...(m.opened ? [{ deliveryId: m.id, kind: 'open' as const }] : []),
          ]),
          ...influenced.map((id) => ({ deliveryId: id, kind: 'influenced_open' as const })),
        ], now);
        return s;
      });
      return count(stored);
    },
  });
};
