/**
 * POST /v1/transactional/send: one message to explicit recipients. Answers 202 only once the
 * message and its fan-out job are committed; recipients are resolved and delivered asynchronously.
 */
import { Type, type TOptional } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import type { WorkQueue } from '../../queue/queue.js';
import { uuidv7 } from '../../domain/ids.js';
import { requestHash } from '../../store/idempotency.js';
import { acceptMessages, type AcceptRequest, type AcceptResult } from '../../store/accept-messages.js';
import { createGroupCommit, inTransaction } from '../../store/group-commit.js';
import { topics } from '../../worker/topics.js';
import { ApiError } from '../errors.js';
import { checkContent } from '../content-check.js';
import { contentSchemas } from '../../channels/registry.js';
import { emailAddress } from '../../channels/email/content.js';
import { contentParts, type ContentPart, type MessageContent } from '../../domain/channels.js';
import { partRecipients } from '../../domain/recipients.js';
import { errorResponses, inputErrors, restKeyErrors } from '../schemas.js';
import { pushTokenProblem } from '../../domain/push-tokens.js';
import { systemClock, type Clock } from '../../domain/clock.js';
import { parseTraceparent, storedTrace } from '../../domain/trace-context.js';

/** Recipients per call, all lists together: large enough for any transactional use, small enough
 *  that the fan-out of one message stays one short transaction. Campaigns reach more. */
export const maxRecipients = 10_000;

/** One optional field per part of a message's content, with its channels' schema (src/channels/registry.ts). */
const contentFields = Object.fromEntries(contentParts.map((p) => [p, Type.Optional(contentSchemas[p])])) as
  { [P in ContentPart]: TOptional<(typeof contentSchemas)[P]> };

const Body = Type.Object(
  {
    group_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$', description: 'Analytics key grouping sends (not unique).' }),
    recipients: Type.Object(
      {
        custom_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 512 }), {
          maxItems: maxRecipients, description: 'Profiles: their installations (push), email address and phone number.' })),
        install_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: maxRecipients })),
        tokens: Type.Optional(
          Type.Array(
            Type.Object({ platform: Type.Union([Type.Literal('ios'), Type.Literal('android')]), token: Type.String({ minLength: 1, maxLength: 4096 }) },
              { additionalProperties: false }),
            { maxItems: maxRecipients, description: 'Device tokens. Browsers are reached through their installation (install_ids or custom_ids).' },
          ),
        ),
        emails: Type.Optional(Type.Array(emailAddress, { maxItems: maxRecipients })),
        phones: Type.Optional(Type.Array(Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164' }), { maxItems: maxRecipients })),
      },
      { additionalProperties: false },
    ),
    ...contentFields,
  },
  { additionalProperties: false },
);

const Accepted = Type.Object({ message_id: Type.String({ format: 'uuid' }) }, {
  description: 'Stored; recipients are resolved and delivered asynchronously (GET /v1/messages/{id}).',
  headers: { 'idempotent-replayed': { type: 'string', enum: ['true'], description: 'Present when this is the first answer to this Idempotency-Key, replayed.' } },
});
// Checked by the handler, so a bad key is invalid_idempotency_key rather than a schema error.
const Headers = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ description: '1 to 255 characters; the same key and body replay the first answer.' })),
  traceparent: Type.Optional(Type.String({
    description: 'W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace is sent on every provider call made for the message; ' +
      'an invalid value is ignored. Without it the message id is the trace id.' })),
});

export const transactionalRoutes = (deps: { sql: Sql; queue: WorkQueue; clock?: Clock | undefined }): FastifyPluginAsyncTypebox => async (app) => {
  const clock = deps.clock ?? systemClock;
  // Concurrent sends share transactions; each is answered only after its own commit. Two
  // transactions in flight measured fastest on 2 cores (1: 8.2k/s, 2: 7.3k/s, 4: 6.1k/s, 8: 5.0k/s
  // under 32 clients), and two keep one batch that waits on a lock (a duplicate Idempotency-Key
  // held by another process) from stalling every other send.
  const accept = createGroupCommit<AcceptRequest, AcceptResult>({
    maxBatch: 200,
    maxConcurrent: 2,
    commit: inTransaction(deps.sql, (tx, requests: AcceptRequest[]) =>
      acceptMessages(tx, deps.queue, (id) => ({ topic: topics.fanout, payload: { message_id: id } }), requests)),
  });

  app.post('/v1/transactional/send', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Send a push, an email and/or an SMS to explicit recipients',
      description:
        'Answers 202 once the message is durably stored. With an `Idempotency-Key` header, the same key and body ' +
        'replay the first answer for at least 24 h; the same key with another body is a 422.',
      tags: ['transactional'],
      body: Body,
      headers: Headers,
      response: {
        202: Accepted,
        ...errorResponses(inputErrors, restKeyErrors, 'no_recipients', 'no_content', 'too_many_recipients', 'push_payload_too_large',
          'reserved_data_key', 'invalid_idempotency_key', 'idempotency_key_reused'),
      },
    },
    handler: async (req, reply) => {
      const body = req.body;
      const r = body.recipients;
      const count = recipientLists.reduce((n, k) => n + (r[k]?.length ?? 0), 0);
      if (count === 0) throw new ApiError('no_recipients', 'recipients must name at least one custom_id, install_id, token, email or phone');
      if (count > maxRecipients) throw new ApiError('too_many_recipients', `recipients name ${count}; the limit is ${maxRecipients} per call`);
      if (!contentParts.some((p) => body[p])) throw new ApiError('no_content', `a send needs ${oneOf(contentParts)} content`);
      for (const part of contentParts) {
        const lists = partRecipients[part].lists;
        if (!body[part] && lists.some((l) => r[l]?.length)) throw new ApiError('no_content', needsContent(part, lists));
      }
      r.tokens?.forEach((t, i) => {
        const problem = pushTokenProblem(t.platform, t.token);
        if (problem) throw new ApiError('invalid_field', `recipients.tokens[${i}].token: ${problem}`);
      });
      const id = uuidv7();
      const createdAt = new Date(clock.now());
      const content = Object.fromEntries(contentParts.flatMap((p) => (body[p] ? [[p, body[p]]] : []))) as MessageContent;
      checkContent(content, id, createdAt);
      const key = req.headers['idempotency-key'];
      if (key !== undefined && (key.length === 0 || key.length > 255)) {
        throw new ApiError('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters');
      }

      const result = await accept({
        message: {
          id, projectId: req.caller.projectId, groupId: body.group_id, recipients: r,
          content, createdAt, trace: storedTrace(parseTraceparent(req.headers.traceparent)),
          expiresAt: body.push?.ttl_seconds !== undefined ? new Date(createdAt.getTime() + body.push.ttl_seconds * 1000) : null,
        },
        idempotency: key === undefined ? undefined : { key, hash: requestHash('POST', '/v1/transactional/send', body) },
      });
      if (result.kind === 'mismatch') {
        throw new ApiError('idempotency_key_reused', 'this Idempotency-Key was already used with a different body');
      }
      if (result.kind === 'replay') void reply.header('idempotent-replayed', 'true');
      // A replay answers what the first call got, stored as sent: on this route always the 202 above.
      return reply.code(result.status as 202).send(result.body as { message_id: string });
    },
  });
};

const recipientLists = ['custom_ids', 'install_ids', 'tokens', 'emails', 'phones'] as const;

/** "push, email or sms". */
const oneOf = (words: readonly string[]) => words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)}` : words.join('');

/** Why a send naming recipients only `part` reaches needs its content. */
const needsContent = (part: ContentPart, lists: readonly string[]) => lists.length === 1
  ? `recipients.${lists[0]} needs ${part} content`
  : `${lists.join(' and ')} are reached by ${part}: the send needs ${part} content`;
