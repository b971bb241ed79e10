/**
 * GET /v1/messages: the project's messages, newest first, with their counts by status.
 * GET /v1/messages/{id}: a message, its counts by status, and a page of its recipients' outcomes.
 * GET /v1/messages/{id}/trace?custom_id=: whether one person got it, and on each channel why not.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { deliveryStatuses, getMessage, listMessages } from '../../store/messages.js';
import { loadRecipientTrace } from '../../store/message-trace.js';
import { channelOf, channels, contentParts, targetKinds } from '../../domain/channels.js';
import { explainRecipient } from '../../domain/recipient-trace.js';
import { checkCustomId } from '../../domain/profile-operations.js';
import { parseOrRefuse } from '../input-errors.js';
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

const Counts = Type.Object(
  Object.fromEntries([...deliveryStatuses, 'total'].map((st) => [st, Type.Integer()])) as Record<(typeof deliveryStatuses)[number] | 'total', ReturnType<typeof Type.Integer>>,
  { description: 'Deliveries by status, and all of them.' },
);
const State = Type.Union([Type.Literal('accepted'), Type.Literal('processed')], { description: 'processed once its deliveries exist.' });
const Part = Type.Union(contentParts.map((p) => Type.Literal(p)));
const Recipient = Type.Object({
  delivery_id: Type.String({ format: 'uuid' }),
  platform: Type.String(),
  channel: Type.Union(channels.map((c) => Type.Literal(c)), { description: 'The channel that reaches the platform.' }),
  target: Type.String({ description: 'What the delivery is sent to: a device token, a subscription\'s endpoint, an address, a number.' }),
  target_kind: Type.Union(targetKinds.map((k) => Type.Literal(k))),
  install_id: Nullable(Type.String()),
  custom_id: Nullable(Type.String({ description: 'The profile the delivery reached (null: named by token, address or number alone).' })),
  status: DeliveryStatus,
  reason: Nullable(Type.String()),
  attempts: Type.Integer(),
  updated_at: DateTime,
});
const NextCursor = Nullable(Type.String({ description: 'Pass it as cursor for the next page; null on the last one.' }));

/** store/messages.ts#MessageView. */
const MessageView = Type.Object({
  message_id: Type.String({ format: 'uuid' }),
  group_id: Type.String(),
  created_at: DateTime,
  state: State,
  counts: Counts,
  recipients: Type.Array(Recipient),
  next_cursor: NextCursor,
});

/** store/messages.ts#MessageSummary. */
const MessageList = Type.Object({
  messages: Type.Array(Type.Object({
    message_id: Type.String({ format: 'uuid' }),
    group_id: Type.String(),
    created_at: DateTime,
    state: State,
    parts: Type.Array(Part, { description: 'The content it carries.' }),
    counts: Counts,
  })),
  next_cursor: NextCursor,
});

/** domain/recipient-trace.ts#Trace, with the deliveries it read. */
const TraceView = Type.Object({
  message_id: Type.String({ format: 'uuid' }),
  custom_id: Type.String(),
  verdict: Type.Union(['reached', 'pending', 'not_reached', 'not_addressed'].map((v) => Type.Literal(v)), {
    description: 'reached: a delivery was sent (or delivered); pending: one is still queued; not_reached: none will be; not_addressed: the message does not name this person.',
  }),
  reasons: Type.Array(Type.Object({ part: Part, reason: Type.String() }), { description: 'What happened on each content part, for this person.' }),
  deliveries: Type.Array(Recipient, { description: 'The message\'s deliveries to this person\'s installations, address and number.' }),
});
const TraceQuery = Type.Object({ custom_id: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false });
const ListQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })), cursor: Type.Optional(Type.String({ pattern: uuid.source })) },
  { additionalProperties: false },
);

export const messageRoutes = (sql: Sql): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/v1/messages', {
    config: { auth: 'rest' },
    schema: {
      summary: 'The project\'s messages, newest first, with their deliveries counted by status (paged)',
      tags: ['transactional'],
      querystring: ListQuery,
      response: { 200: MessageList, ...errorResponses(inputErrors, restKeyErrors) },
    },
    handler: async (req) => listMessages(sql, req.caller.projectId, { limit: req.query.limit ?? 50, cursor: req.query.cursor?.toLowerCase() }),
  });

  app.get('/v1/messages/:id/trace', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Whether one custom_id got a message, and on each channel why not',
      description: 'Reads the message\'s deliveries to the profile\'s installations, email address and phone number as they are now.',
      tags: ['transactional'],
      params: Type.Object({ id: Type.String() }),
      querystring: TraceQuery,
      response: { 200: TraceView, ...errorResponses(inputErrors, restKeyErrors, 'message_not_found') },
    },
    handler: async (req) => {
      const id = req.params.id.toLowerCase();
      const customId = parseOrRefuse(() => checkCustomId(req.query.custom_id, 'custom_id'));
      const found = uuid.test(id) ? await loadRecipientTrace(sql, req.caller.projectId, id, customId) : undefined;
      if (!found) throw new ApiError('message_not_found', `no message ${req.params.id} in this project`);
      return {
        message_id: id, custom_id: customId, ...explainRecipient(found.facts),
        deliveries: found.deliveries.map((d) => ({ ...d, channel: channelOf(d.platform) })),
      };
    },
  });

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
