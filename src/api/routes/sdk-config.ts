/** GET /v1/sdk/config: what a browser needs before subscribing, read with the public SDK key. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { vapidPublicKey } from '../../store/provider-credentials.js';
import type { Keyring } from '../../store/sealed.js';
import { errorResponses, sdkKeyErrors } from '../schemas.js';

const SdkConfig = Type.Object({
  project_id: Type.String({ format: 'uuid' }),
  vapid_public_key: Type.String({ description: 'PushManager.subscribe\'s applicationServerKey: base64url of the 65-byte uncompressed P-256 point.' }),
});

export const sdkConfigRoutes = (deps: { sql: Sql; keyring: Keyring }): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/v1/sdk/config', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'The project\'s public settings for the Web SDK: the VAPID public key to subscribe with',
      tags: ['sdk'],
      response: { 200: SdkConfig, ...errorResponses(sdkKeyErrors) },
    },
    handler: async (req, reply) => {
      // The key changes only when the project replaces its pair; a few minutes' caching is harmless.
      void reply.header('cache-control', 'private, max-age=300');
      return {
        project_id: req.caller.projectId,
        /** PushManager.subscribe's applicationServerKey: base64url of the 65-byte uncompressed P-256 point. */
        vapid_public_key: await vapidPublicKey(deps.sql, deps.keyring, req.caller.projectId),
      };
    },
  });
};
