/**
 * The profile API (REST key): update in batches, read, set the contact fields, erase and export.
 * Every change commits before its 2xx; operations follow src/domain/profile-operations.ts.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { checkCustomId, nativeValue, parseOperations, type NativeColumn } from '../../domain/profile-operations.js';
import { applyOperations, changeProfiles, ensureProfiles, findProfile, viewProfile } from '../../store/profiles.js';
import { eraseProfile, exportProfile } from '../../store/erasure.js';
import { ApiError } from '../errors.js';
import { parseOrRefuse } from '../input-errors.js';
import type { RateLimiter } from '../rate-limit.js';
import { systemClock, type Clock } from '../../domain/clock.js';
import { DateTime, errorResponses, inputErrors, Nullable, OpenObject, restKeyErrors } from '../schemas.js';
import { ProfileOperations } from '../profile-operation-schema.js';

const Params = Type.Object({ custom_id: Type.String() });

const Subscription = Type.Union([Type.Literal('subscribed'), Type.Literal('unsubscribed'), Type.Null()]);
const PutBody = Type.Object(
  {
    email: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Lower-cased; null clears it.' })),
    phone: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'E.164, such as +33612345678; null clears it.' })),
    email_subscription: Type.Optional(Subscription),
    sms_subscription: Type.Optional(Subscription),
  },
  { additionalProperties: false },
);

/** store/profiles.ts#Profile. */
const Profile = Type.Object({
  custom_id: Type.String(),
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  language: Nullable(Type.String()),
  region: Nullable(Type.String()),
  timezone: Nullable(Type.String()),
  email_subscription: Subscription,
  sms_subscription: Subscription,
  attributes: OpenObject('Custom attributes; dates as {"$date": ISO 8601}, URLs as {"$url": text}.'),
  created_at: DateTime,
  updated_at: DateTime,
});
const ProfileView = Type.Object({
  profile: Profile,
  installations: Type.Array(Type.Object({
    install_id: Type.String(),
    platform: Type.String(),
    push_token: Nullable(Type.String()),
    timezone: Nullable(Type.String()),
    language: Nullable(Type.String()),
    app_version: Nullable(Type.String()),
    sdk_version: Nullable(Type.String()),
    created_at: DateTime,
    updated_at: DateTime,
  })),
  recent_events: Type.Array(Type.Object({
    id: Type.String(),
    client_id: Nullable(Type.String()),
    custom_id: Nullable(Type.String()),
    install_id: Nullable(Type.String()),
    name: Type.String(),
    time: DateTime,
    attributes: OpenObject(),
    received_at: DateTime,
  }), { description: 'The latest events, newest first.' }),
});
const Erased = Type.Object({
  erased: Type.Object({
    profiles: Type.Integer(), installations: Type.Integer(), events: Type.Integer(), messages: Type.Integer(), deliveries: Type.Integer(),
  }, { description: 'How many rows of each kind were erased.' }),
});
const row = OpenObject('A stored row, every column.');
/** store/erasure.ts#ProfileExport: whole rows, so that nothing held is left out. */
const ProfileExport = Type.Object({
  custom_id: Type.String(),
  profile: Nullable(Profile),
  installations: Type.Array(row),
  events: Type.Array(row),
  messages: Type.Array(row),
  deliveries: Type.Array(row),
});
const profileErrors = [...inputErrors, ...restKeyErrors, 'rate_limited'] as const;
const putFields = { email: '$email', phone: '$phone', email_subscription: '$email_subscription', sms_subscription: '$sms_subscription' } as const;

function customIdParam(raw: string): string {
  return parseOrRefuse(() => checkCustomId(raw, 'custom_id'));
}

export const profileRoutes = (deps: { sql: Sql; limiter: RateLimiter; clock?: Clock | undefined }): FastifyPluginAsyncTypebox => async (app) => {
  const clock = deps.clock ?? systemClock;
  const { sql, limiter } = deps;

  app.post('/v1/profiles/update', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Apply up to 200 profile operations',
      description:
        'A JSON array of operations `{identifiers: {custom_id}, attributes?, events?}` (docs/profiles.md). A profile is created ' +
        'by its first write. The whole batch is applied in one transaction, in order, or refused naming the field.',
      tags: ['profiles'],
      body: ProfileOperations,
      response: {
        200: Type.Object({
          operations: Type.Integer(),
          profiles: Type.Integer({ description: 'Distinct profiles the batch named.' }),
          events: Type.Object({ accepted: Type.Integer(), duplicates: Type.Integer() }),
        }),
        ...errorResponses(profileErrors, 'too_many_operations', 'too_many_events'),
      },
    },
    handler: async (req) => {
      const ops = parseOrRefuse(() => parseOperations(req.body, new Date(clock.now())));
      limiter.take('profiles', req.caller.projectId, ops.length);
      const result = await sql.begin((tx) => applyOperations(tx, req.caller.projectId, ops));
      return { operations: ops.length, profiles: result.profiles, events: result.events };
    },
  });

  app.get('/v1/profiles/:custom_id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'A profile with its installations and latest events', tags: ['profiles'], params: Params,
      response: { 200: ProfileView, ...errorResponses(inputErrors, restKeyErrors, 'profile_not_found') },
    },
    handler: async (req) => {
      const view = await viewProfile(sql, req.caller.projectId, customIdParam(req.params.custom_id));
      if (!view) throw new ApiError('profile_not_found', 'no profile with this custom_id');
      return view;
    },
  });

  app.put('/v1/profiles/:custom_id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Set a profile\'s email, phone and subscription states', tags: ['profiles'], params: Params, body: PutBody,
      response: { 200: Type.Object({ profile: Profile }), ...errorResponses(profileErrors) },
    },
    handler: async (req) => {
      const customId = customIdParam(req.params.custom_id);
      const native: Partial<Record<NativeColumn, string | null>> = {};
      for (const [field, key] of Object.entries(putFields) as [keyof typeof putFields, (typeof putFields)[keyof typeof putFields]][]) {
        if (req.body[field] !== undefined) native[field] = parseOrRefuse(() => nativeValue(key, req.body[field], field));
      }
      limiter.take('profiles', req.caller.projectId, 1);
      const profile = await sql.begin(async (tx) => {
        await ensureProfiles(tx, req.caller.projectId, [customId]);
        await changeProfiles(tx, req.caller.projectId, [{ customId, native, attributes: { set: {}, unset: [], add: {}, remove: {} } }]);
        return findProfile(tx, req.caller.projectId, customId);
      });
      return { profile };
    },
  });

  app.delete('/v1/profiles/:custom_id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Erase everything held on a person',
      description: 'In one transaction: the profile, its installations, their events, the messages addressed to it with their deliveries, its automation journeys, and what its devices reported of in-app messages.',
      tags: ['profiles'], params: Params,
      response: { 200: Erased, ...errorResponses(inputErrors, restKeyErrors, 'profile_not_found') },
    },
    handler: async (req) => {
      const erased = await eraseProfile(sql, req.caller.projectId, customIdParam(req.params.custom_id));
      if (!erased.profiles && !erased.installations && !erased.events) {
        throw new ApiError('profile_not_found', 'nothing is held on this custom_id');
      }
      return { erased };
    },
  });

  app.get('/v1/profiles/:custom_id/export', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Everything held on a person (the set DELETE erases)', tags: ['profiles'], params: Params,
      response: { 200: ProfileExport, ...errorResponses(inputErrors, restKeyErrors, 'profile_not_found') },
    },
    handler: async (req) => {
      const data = await exportProfile(sql, req.caller.projectId, customIdParam(req.params.custom_id));
      if (!data.profile && !data.installations.length && !data.events.length) {
        throw new ApiError('profile_not_found', 'nothing is held on this custom_id');
      }
      return data;
    },
  });
};
