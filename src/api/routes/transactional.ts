/**
 * POST /v1/transactional/send: one message to explicit recipients. Answers 202 only once the
 * message and its fan-out job are committed; recipients are resolved and delivered asynchronously.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Sql } from 'postgres';
import type { WorkQueue } from '../../queue/queue.js';
import { uuidv7 } from '../../domain/ids.js';
import { apnsMaxCollapseIdBytes, apnsMaxPayloadBytes, apnsPayloadBytes, buildApnsPush, reservedDataKeys } from '../../domain/apns-payload.js';
import { requestHash } from '../../store/idempotency.js';
import { acceptMessages, type AcceptRequest, type AcceptResult } from '../../store/accept-messages.js';
import { createGroupCommit } from '../../store/group-commit.js';
import { topics } from '../../worker/topics.js';
import { ApiError } from '../errors.js';
import { Platform } from '../schemas.js';

/** Recipients per call, all lists together: large enough for any transactional use, small enough
 *  that the fan-out of one message stays one short transaction. Campaigns reach more. */
export const maxRecipients = 10_000;

const Push = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 1024 }),
    body: Type.String({ minLength: 1, maxLength: 4096 }),
    deeplink: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    data: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), { description: 'Custom keys delivered in the payload.' })),
    priority: Type.Optional(Type.Union([Type.Literal('high'), Type.Literal('normal')])),
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 24 * 3600 })),
    collapse_id: Type.Optional(Type.String({ minLength: 1, maxLength: apnsMaxCollapseIdBytes })),
    badge: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    sound: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  },
  { additionalProperties: false },
);

const Body = Type.Object(
  {
    group_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$', description: 'Analytics key grouping sends (not unique).' }),
    recipients: Type.Object(
      {
        custom_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { maxItems: maxRecipients })),
        install_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: maxRecipients })),
        tokens: Type.Optional(
          Type.Array(
            Type.Object({ platform: Platform, token: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
            { maxItems: maxRecipients },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    push: Push,
  },
  { additionalProperties: false },
);
type SendBody = Static<typeof Body>;

const Accepted = Type.Object({ message_id: Type.String({ format: 'uuid' }) });

export const transactionalRoutes = (deps: { sql: Sql; queue: WorkQueue }): FastifyPluginAsync => async (app) => {
  // Concurrent sends share transactions; each is answered only after its own commit. Two
  // transactions in flight measured fastest on 2 cores (1: 8.2k/s, 2: 7.3k/s, 4: 6.1k/s, 8: 5.0k/s
  // under 32 clients), and two keep one batch that waits on a lock (a duplicate Idempotency-Key
  // held by another process) from stalling every other send.
  const accept = createGroupCommit<AcceptRequest, AcceptResult>({
    sql: deps.sql,
    maxBatch: 200,
    maxConcurrent: 2,
    run: (tx, requests) =>
      acceptMessages(tx, deps.queue, (id) => ({ topic: topics.fanout, payload: { message_id: id } }), requests),
  });

  app.post<{ Body: SendBody; Headers: { 'idempotency-key'?: string } }>('/v1/transactional/send', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Send a push to explicit recipients',
      description:
        'Answers 202 once the message is durably stored. With an `Idempotency-Key` header, the same key and body ' +
        'replay the first answer for at least 24 h; the same key with another body is a 422.',
      tags: ['transactional'],
      body: Body,
      response: { 202: Accepted },
    },
    handler: async (req, reply) => {
      const body = req.body;
      const r = body.recipients;
      const count = (r.custom_ids?.length ?? 0) + (r.install_ids?.length ?? 0) + (r.tokens?.length ?? 0);
      if (count === 0) throw new ApiError('no_recipients', 'recipients must name at least one custom_id, install_id or token');
      if (count > maxRecipients) throw new ApiError('too_many_recipients', `recipients name ${count}; the limit is ${maxRecipients} per call`);
      const reserved = reservedDataKeys.find((k) => body.push.data && k in body.push.data);
      if (reserved) throw new ApiError('reserved_data_key', `push.data.${reserved} is reserved by Herald`);
      if (body.push.collapse_id && Buffer.byteLength(body.push.collapse_id) > apnsMaxCollapseIdBytes) {
        throw new ApiError('invalid_field', `push.collapse_id must be at most ${apnsMaxCollapseIdBytes} bytes in UTF-8`);
      }
      const key = req.headers['idempotency-key'];
      if (key !== undefined && (key.length === 0 || key.length > 255)) {
        throw new ApiError('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters');
      }

      const id = uuidv7();
      const createdAt = new Date();
      // The size check uses the real builder on a worst-case-length id, so what passes here fits later.
      const size = apnsPayloadBytes(buildApnsPush(body.push, id, createdAt.getTime()));
      if (size > apnsMaxPayloadBytes) {
        throw new ApiError('push_payload_too_large', `the push payload would be ${size} bytes; APNs accepts ${apnsMaxPayloadBytes}`);
      }

      const result = await accept({
        message: {
          id, projectId: req.caller.projectId, groupId: body.group_id, recipients: r, push: body.push, createdAt,
          expiresAt: body.push.ttl_seconds !== undefined ? new Date(createdAt.getTime() + body.push.ttl_seconds * 1000) : null,
        },
        idempotency: key === undefined ? undefined : { key, hash: requestHash('POST', '/v1/transactional/send', body) },
      });
      if (result.kind === 'mismatch') {
        throw new ApiError('idempotency_key_reused', 'this Idempotency-Key was already used with a different body');
      }
      if (result.kind === 'replay') void reply.header('idempotent-replayed', 'true');
      return reply.code(result.status).send(result.body);
    },
  });
};
