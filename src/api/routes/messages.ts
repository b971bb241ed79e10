/** GET /v1/messages/{id}: a message, its counts by status, and a page of its recipients' outcomes. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { deliveryStatuses, getMessage } from '../../store/messages.js';
import { channels, targetKinds } from '../../domain/channels.js';
import { ApiError } from '../errors.js';
import { DateTime, errorResponses, inputErrors, Nullable, restKeyErrors } from '../schemas.js';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const Query = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ pattern: uuid.source })),
  },
  { additionalProperties: false },
);

const DeliveryStatus = Type.Union(deliveryStatuses.map((s) => Type.Literal(s)));

/** store/messages.ts#MessageView. */
const MessageView = Type.Object({
  message_id: Type.String({ format: 'uuid' }),
  group_id: Type.String(),
  created_at: DateTime,
  state: Type.Union([Type.Literal('accepted'), Type.Literal('processed')], { description: 'processed once its deliveries exist.' }),
  counts: Type.Object(
    Object.fromEntries([...deliveryStatuses, 'total'].map((s) => [s, Type.Integer()])) as Record<(typeof deliveryStatuses)[number] | 'total', ReturnType<typeof Type.Integer>>,
    { description: 'Deliveries by status, and all of them.' },
  ),
  recipients: Type.Array(Type.Object({
    delivery_id: Type.String({ format: 'uuid' }),
    platform: Type.String(),
    channel: Type.Union(channels.map((c) => Type.Literal(c)), { description: 'The channel that reaches the platform.' }),
    target: Type.String({ description: 'What the delivery is sent to: a device token, a subscription\'s endpoint, an address, a number.' }),
    target_kind: Type.Union(targetKinds.map((k) => Type.Literal(k))),
    install_id: Nullable(Type.String()),
    status: DeliveryStatus,
    reason: Nullable(Type.String()),
    attempts: Type.Integer(),
    updated_at: DateTime,
  })),
  next_cursor: Nullable(Type.String({ description: 'Pass it as cursor for the next page; null on the last one.' })),
});

export const messageRoutes = (sql: Sql): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/v1/messages/:id', {
    config: { auth: 'rest' },
    schema: {
      summary: 'A message with each recipient\'s outcome (queued, sent, failed, invalidated, expired), paged',
      tags: ['transactional'],
      params: Type.Object({ id: Type.String() }),
      querystring: Query,
      response: { 200: MessageView, ...errorResponses(inputErrors, restKeyErrors, 'message_not_found') },
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
