/**
 * Twilio's webhooks for a project (https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks):
 * - `POST /v1/webhooks/sms/{project_id}/status`: status callbacks (MessageSid, MessageStatus,
 *   ErrorCode…), recorded on the delivery, never moving a final status back;
 * - `POST /v1/webhooks/sms/{project_id}/inbound`: messages users send; STOP and its synonyms opt
 *   the number out of the project's SMS, START / UNSTOP / YES opt it back in.
 *
 * Both are form-encoded and carry no API key: each is authenticated by its X-Twilio-Signature,
 * verified with the project's auth token over the URL Twilio called. A missing or wrong signature
 * is a 403 and changes nothing.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { verifyTwilioSignature } from '../../providers/sms/signature.js';
import { callbackVerdict } from '../../domain/sms-status.js';
import { keywordAction } from '../../providers/sms/keywords.js';
import { optInPhones, optOutPhones, recordSmsStatus } from '../../store/sms.js';
import { ApiError } from '../errors.js';
import { systemClock, type Clock } from '../../domain/clock.js';
import { errorResponses, NoContent, textResponse } from '../schemas.js';

export interface SmsWebhookOptions {
  sql: Sql;
  /** The project's Twilio auth token, or undefined when it has none (then every webhook is refused). */
  authTokenFor(projectId: string): Promise<string | undefined>;
  /**
   * The URL Herald is reached at from outside (e.g. https://herald.example.com), which Twilio was
   * given and signs. Without it the URL is rebuilt from the request (X-Forwarded-Proto and -Host
   * behind a proxy, as the app trusts them).
   */
  publicBaseUrl?: string | undefined;
  /** Stamps what the callbacks record (their webhook events). */
  clock?: Clock | undefined;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export { smsStatusCallbackUrl, smsInboundUrl } from '../../domain/sms-webhook-urls.js';

/** An empty TwiML answer: nothing to reply (Twilio sends its own STOP/START confirmations). */
export const emptyTwiml = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

const Params = Type.Object({ project_id: Type.String() });
const webhookErrors = errorResponses('invalid_webhook_signature', 'missing_field', 'invalid_field', 'unsupported_media_type', 'body_too_large', 'request_incomplete');

const schemaFor = (summary: string) => ({
  summary,
  tags: ['webhooks'],
  // No API key: Twilio signs the request instead.
  security: [],
  params: Params,
});

export const smsWebhookRoutes = (o: SmsWebhookOptions): FastifyPluginAsyncTypebox => async (app) => {
  const now = () => new Date((o.clock ?? systemClock).now());
  // Twilio posts forms. Scoped to this plugin: the rest of the API stays JSON-only.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, new URLSearchParams(body as string));
  });

  const calledUrl = (req: FastifyRequest): string =>
    o.publicBaseUrl !== undefined ? o.publicBaseUrl.replace(/\/+$/, '') + req.url : `${req.protocol}://${req.host}${req.url}`;

  /** The verified form of a webhook, or a 403 that names no secret and changes nothing. */
  const verified = async (req: FastifyRequest, projectId: string): Promise<{ projectId: string; form: URLSearchParams }> => {
    const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
    const token = uuid.test(projectId) ? await o.authTokenFor(projectId) : undefined;
    const signature = req.headers['x-twilio-signature'];
    if (token === undefined || typeof signature !== 'string' || !verifyTwilioSignature(token, signature, calledUrl(req), form)) {
      throw new ApiError('invalid_webhook_signature', 'the X-Twilio-Signature header is missing or does not match this project\'s auth token and this URL');
    }
    return { projectId, form };
  };

  const required = (form: URLSearchParams, name: string): string => {
    const v = form.get(name);
    if (v === null || v === '') throw new ApiError('missing_field', `${name} is required`);
    return v;
  };

  app.post('/v1/webhooks/sms/:project_id/status', {
    schema: {
      ...schemaFor('Twilio status callback (signed with X-Twilio-Signature)'),
      querystring: Type.Object({ d: Type.Optional(Type.String({ description: 'The delivery id Herald put in the callback URL.' })) }),
      response: { 204: NoContent, ...webhookErrors },
    },
    handler: async (req, reply) => {
      const { projectId, form } = await verified(req, req.params.project_id);
      const sid = required(form, 'MessageSid');
      const verdict = callbackVerdict(required(form, 'MessageStatus'), form.get('ErrorCode'));
      const deliveryId = req.query.d;
      if (deliveryId !== undefined && !uuid.test(deliveryId)) throw new ApiError('invalid_field', 'query.d must be a delivery id (a UUID)');
      if (verdict.kind === 'status') {
        const result = await recordSmsStatus(o.sql, projectId, { providerMessageId: sid, deliveryId, status: verdict.status, reason: verdict.reason }, now());
        // An unknown SID is answered 2xx all the same: Twilio would only log an error and not resend.
        if (result === 'unknown') req.log.debug({ projectId, sid }, 'SMS status callback for an unknown message');
      }
      return reply.code(204).send();
    },
  });

  app.post('/v1/webhooks/sms/:project_id/inbound', {
    schema: {
      ...schemaFor('Twilio incoming message (signed with X-Twilio-Signature): STOP / START handling'),
      response: { 200: textResponse('text/xml', 'An empty TwiML <Response/>: nothing to reply.'), ...webhookErrors },
    },
    handler: async (req, reply) => {
      const { projectId, form } = await verified(req, req.params.project_id);
      const from = required(form, 'From');
      const action = keywordAction(form.get('Body') ?? '', form.get('OptOutType'));
      if (action === 'opt_out') await optOutPhones(o.sql, projectId, [from], 'inbound_keyword', now());
      else if (action === 'opt_in') await optInPhones(o.sql, projectId, [from]);
      return reply.code(200).type('text/xml').send(emptyTwiml);
    },
  });
};
