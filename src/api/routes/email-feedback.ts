/**
 * `POST /v1/email/feedback` (REST key): the intake for what mail systems report back after an
 * email was accepted, for an MTA's pipe (the bounce address's alias piping to curl) or a mailbox
 * provider's forward: the raw report message as `message/rfc822`, a delivery status notification
 * (RFC 3464) or a feedback report (RFC 5965). A hard bounce or a complaint suppresses the address,
 * emits email.bounced or email.complained and counts for the delivery's message; a soft bounce is
 * recorded. Posting the same report again is harmless: it moves nothing twice (store/email-feedback.ts).
 *
 * A body that is no such report is a 400 invalid_feedback_report and changes nothing. A report
 * that is valid but names nothing to record (all recipients delivered, a not-spam feedback) is a
 * 200 with an empty list, so a forwarder does not resend it.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { parseFeedbackReport } from '../../domain/email-feedback.js';
import { recordEmailFeedback } from '../../store/email-feedback.js';
import { ApiError } from '../errors.js';
import { errorResponses, Nullable, restKeyErrors } from '../schemas.js';
import { validatedByParser } from '../profile-operation-schema.js';
import { systemClock, type Clock } from '../../domain/clock.js';

export interface EmailFeedbackRouteDeps {
  sql: Sql;
  /** Stamps what a report records (its counters' hour, its webhook event). */
  clock?: Clock | undefined;
}

/**
 * A report is a short notice with, at most, the returned original: 1 MiB (the API's limit) keeps
 * any original Herald sends whole, and a report may return only a portion of a larger one
 * (RFC 6522 §3: the third part is the returned message "or a portion thereof").
 */
export const feedbackBodyLimit = 1024 * 1024;

const Result = Type.Object({
  report_type: Type.Union([Type.Literal('delivery-status'), Type.Literal('feedback-report')]),
  results: Type.Array(Type.Object({
    kind: Type.Union([Type.Literal('bounce'), Type.Literal('soft_bounce'), Type.Literal('complaint')], {
      description: 'bounce: a permanent failure (5.x.x), the address is suppressed; soft_bounce: a transient one (4.x.x, or delayed), recorded only; complaint: an abuse feedback report, the address is suppressed.',
    }),
    address: Nullable(Type.String({ description: 'The recipient the report is about (the delivery\'s address when it is tied to one).' })),
    delivery_id: Nullable(Type.String({ format: 'uuid', description: 'The delivery the report is tied to: the one its returned Message-ID names, else the last email to its address; null when neither is found.' })),
    new: Type.Boolean({ description: 'False when this report was posted before (nothing moved again), or recorded nothing (a soft bounce of no email Herald sent).' }),
  })),
}, { description: 'What the report named, and which of it was new.' });

export const emailFeedbackRoutes = (deps: EmailFeedbackRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  // Scoped to this plugin: the rest of the API takes JSON. The raw bytes, decoded by the parser.
  app.addContentTypeParser('message/rfc822', { parseAs: 'buffer', bodyLimit: feedbackBodyLimit }, (_req, body, done) => done(null, body));

  app.post('/v1/email/feedback', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Take in a bounce (RFC 3464 delivery status notification) or a spam complaint (RFC 5965 feedback report) as a raw message',
      description:
        'Content-Type: message/rfc822, the report message as received (multipart/report). A hard bounce or an abuse complaint ' +
        'puts the address on the suppression list, emits email.bounced or email.complained, and counts bounces or complaints ' +
        'for the message it reports on (docs/analytics.md); a soft bounce is recorded. The same report posted twice counts once.',
      tags: ['email'],
      body: {
        content: {
          'message/rfc822': { schema: { ...validatedByParser, description: 'The raw report message (RFC 5322), at most 1 MiB.' } },
        },
      },
      response: {
        200: Result,
        ...errorResponses(restKeyErrors, 'invalid_feedback_report', 'unsupported_media_type', 'body_too_large', 'request_incomplete'),
      },
    },
    handler: async (req) => {
      if (!Buffer.isBuffer(req.body)) throw new ApiError('unsupported_media_type', 'send the report as message/rfc822, the raw message');
      const parsed = parseFeedbackReport(req.body.toString('utf8'));
      if (!parsed.ok) throw new ApiError('invalid_feedback_report', parsed.reason);
      const recorded = await recordEmailFeedback(deps.sql, req.caller.projectId, parsed.report.items, new Date((deps.clock ?? systemClock).now()));
      return {
        report_type: parsed.report.reportType,
        results: recorded.map((r) => ({ kind: r.kind, address: r.address, delivery_id: r.deliveryId, new: r.fresh })),
      };
    },
  });
};
