/**
 * The calling project's own secrets (REST key only):
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
import { createKey, listKeys, revokeKey } from '../../store/projects.js';
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

export const projectRoutes = (deps: ProjectRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql, keyring } = deps;

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
