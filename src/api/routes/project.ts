/**
 * The calling project's settings and its own secrets (REST key only):
 *   GET   /v1/project                         its id, name and time zone
 *   PATCH /v1/project                         sets its time zone: the zone a campaign sending at a
 *                                             local time uses for profiles without a known zone
 *   GET  /v1/project/keys                     its API keys: id, kind, created, revoked (never the key)
 *   POST /v1/project/keys                     a new key of a kind, shown once in the answer
 *   POST /v1/project/keys/{id}/revoke         revokes one; the last active REST key cannot be
 *   POST /v1/project/identity-secret/rotate   a new identity secret, shown once; the old one is
 *                                             accepted for grace_seconds more
 * A revoked key stops working at once in this process and within the auth cache's TTL (30 s) in
 * the others.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { createKey, listKeys, projectSettings, revokeKey, setProjectTimezone, type ProjectSettings } from '../../store/projects.js';
import { isTimeZone } from '../../domain/campaigns/local-time.js';
import { rotateIdentitySecret } from '../../store/identity-secrets.js';
import type { Keyring } from '../../store/sealed.js';
import { ApiError } from '../errors.js';
import { DateTime, errorResponses, inputErrors, Nullable, restKeyErrors } from '../schemas.js';

export interface ProjectRouteDeps {
  sql: Sql;
  keyring: Keyring;
  /** The auth cache forgets a key this process revoked. */
  forgetKeyId: (keyId: string) => void;
}

const KeyKind = Type.Union([Type.Literal('rest'), Type.Literal('sdk')]);
const KeyInfo = Type.Object({
  id: Type.String({ format: 'uuid' }),
  kind: KeyKind,
  created_at: DateTime,
  revoked_at: Nullable(DateTime),
});
const CreateKeyBody = Type.Object({ kind: KeyKind }, { additionalProperties: false });
const KeyParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
/** Thirty days: long enough to ship an app update, short enough that a forgotten secret expires. */
const maxGraceSeconds = 30 * 24 * 3600;
const RotateBody = Type.Object(
  {
    grace_seconds: Type.Optional(Type.Integer({
      minimum: 0, maximum: maxGraceSeconds, default: 86_400,
      description: 'How long tokens of the old secret are still accepted (default one day; 0 after a leak).',
    })),
  },
  { additionalProperties: false },
);

const Project = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  timezone: Type.String({
    description: 'The IANA time zone a campaign sending at a local time uses for profiles without a known zone (UTC unless set).',
  }),
  created_at: DateTime,
});
const ProjectPatch = Type.Object(
  { timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'An IANA time-zone name, such as Europe/Paris.' })) },
  { additionalProperties: false },
);

/** The project of an authenticated caller exists (a project's deletion cascades to its keys). */
function found(project: ProjectSettings | undefined): ProjectSettings {
  if (!project) throw new Error('the caller\'s project is gone');
  return project;
}

export const projectRoutes = (deps: ProjectRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql, keyring } = deps;

  app.get('/v1/project', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Read the project\'s settings: its name and time zone', tags: ['project'],
      response: { 200: Project, ...errorResponses(restKeyErrors) },
    },
    handler: async (req) => found(await projectSettings(sql, req.caller.projectId)),
  });

  app.patch('/v1/project', {
    config: { auth: 'rest', role: 'admin' },
    schema: {
      summary: 'Change the project\'s settings: its time zone',
      description: 'The time zone must be a zone name of the IANA tz database, as Intl knows it (400 invalid_timezone otherwise); '
        + 'the scheduler reads it when it plans an occurrence and the fan-out for each page of the audience it writes into the campaign\'s '
        + 'ledger, so recipients already in a ledger keep their send times. A field left out is left as it is.',
      tags: ['project'], body: ProjectPatch,
      response: { 200: Project, ...errorResponses(inputErrors, restKeyErrors, 'invalid_timezone') },
    },
    handler: async (req) => {
      const { timezone } = req.body;
      if (timezone === undefined) return found(await projectSettings(sql, req.caller.projectId));
      if (!isTimeZone(timezone)) {
        throw new ApiError('invalid_timezone', `body.timezone: ${JSON.stringify(timezone)} is not an IANA time-zone name (such as Europe/Paris)`);
      }
      const project = found(await setProjectTimezone(sql, req.caller.projectId, timezone));
      req.log.info({ projectId: req.caller.projectId, timezone }, 'project time zone set');
      return project;
    },
  });

  app.get('/v1/project/keys', {
    config: { auth: 'rest', role: 'admin' },
    schema: {
      summary: 'List the project\'s API keys (never the keys themselves)', tags: ['project'],
      response: { 200: Type.Object({ keys: Type.Array(KeyInfo) }), ...errorResponses(restKeyErrors) },
    },
    handler: async (req) => ({ keys: await listKeys(sql, req.caller.projectId) }),
  });

  app.post('/v1/project/keys', {
    config: { auth: 'rest', role: 'admin' },
    schema: {
      summary: 'Create an API key (shown once, in this answer)', tags: ['project'], body: CreateKeyBody,
      response: { 201: Type.Composite([KeyInfo, Type.Object({ key: Type.String() })]), ...errorResponses(inputErrors, restKeyErrors) },
    },
    handler: async (req, reply) => {
      const created = await createKey(sql, req.caller.projectId, req.body.kind);
      req.log.info({ projectId: req.caller.projectId, keyId: created.id, kind: created.kind }, 'API key created');
      return reply.code(201).send(created);
    },
  });

  app.post('/v1/project/keys/:id/revoke', {
    config: { auth: 'rest', role: 'admin' },
    schema: {
      summary: 'Revoke an API key (at once here, within 30 s on other API processes)',
      description: 'Revoking a revoked key answers it as it is. The project\'s last active REST key cannot be revoked (409 last_rest_key): create another first.',
      tags: ['project'], params: KeyParams, response: { 200: KeyInfo, ...errorResponses(inputErrors, restKeyErrors, 'api_key_not_found', 'last_rest_key') },
    },
    handler: async (req) => {
      const result = await revokeKey(sql, req.caller.projectId, req.params.id);
      if (result.outcome === 'not_found') throw new ApiError('api_key_not_found', 'no API key with this id in this project');
      if (result.outcome === 'last_rest_key') {
        throw new ApiError('last_rest_key', 'this is the project\'s last active REST key: create another (POST /v1/project/keys) before revoking it');
      }
      deps.forgetKeyId(result.key.id);
      req.log.info({ projectId: req.caller.projectId, keyId: result.key.id }, 'API key revoked');
      return result.key;
    },
  });

  app.post('/v1/project/identity-secret/rotate', {
    config: { auth: 'rest', role: 'admin' },
    schema: {
      summary: 'Replace the identity secret that signs users\' identity tokens (shown once, in this answer)',
      tags: ['project'], body: RotateBody,
      response: {
        200: Type.Object({
          identity_secret: Type.String(),
          previous_valid_until: Nullable(DateTime),
        }),
        ...errorResponses(inputErrors, restKeyErrors),
      },
    },
    // No body is the default grace: an empty POST is the simplest rotation to type.
    preValidation: async (req) => { req.body ??= {}; },
    handler: async (req) => {
      const grace = req.body.grace_seconds ?? 86_400;
      const rotated = await rotateIdentitySecret(sql, keyring, req.caller.projectId, grace);
      req.log.info({ projectId: req.caller.projectId, graceSeconds: grace }, 'identity secret rotated');
      return rotated;
    },
  });
};
