/** GET /v1/sdk/config: what a browser needs before subscribing, read with the public SDK key. */
import type { FastifyPluginAsync } from 'fastify';
import type { Sql } from 'postgres';
import { vapidPublicKey } from '../../store/provider-credentials.js';
import type { Keyring } from '../../store/sealed.js';

export const sdkConfigRoutes = (deps: { sql: Sql; keyring: Keyring }): FastifyPluginAsync => async (app) => {
  app.get('/v1/sdk/config', {
    config: { auth: 'sdk' },
    schema: {
      summary: 'The project\'s public settings for the Web SDK: the VAPID public key to subscribe with',
      tags: ['sdk'],
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
