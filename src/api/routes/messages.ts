/** GET /v1/messages/{id}: a message, its counts by status, and a page of its recipients' outcomes. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Sql } from 'postgres';
import { getMessage } from '../../store/messages.js';
import { ApiError } from '../errors.js';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const Query = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ pattern: uuid.source })),
  },
  { additionalProperties: false },
);

export const messageRoutes = (sql: Sql): FastifyPluginAsync => async (app) => {
  app.get<{ Params: { id: string }; Querystring: Static<typeof Query> }>('/v1/messages/:id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'A message with each recipient\'s outcome (queued, sent, failed, invalidated, expired), paged',
      tags: ['transactional'],
      params: Type.Object({ id: Type.String() }),
      querystring: Query,
    },
    handler: async (req) => {
      const id = req.params.id.toLowerCase();
      const view = uuid.test(id)
        ? await getMessage(sql, req.caller.projectId, id, { limit: req.query.limit ?? 100, cursor: req.query.cursor })
        : undefined;
      if (!view) throw new ApiError('message_not_found', `no message ${req.params.id} in this project`);
      return view;
    },
  });
};
