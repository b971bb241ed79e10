/**
 * Email routes: the project's suppression list (REST key), and the RFC 8058 one-click unsubscribe
 * endpoint that the `List-Unsubscribe` header of every message points to (no key: the signed token
 * in the URL is the authority, domain/unsubscribe-token.ts).
 *
 * RFC 8058 §3.2: a mail client POSTs `List-Unsubscribe=One-Click` (form-encoded or multipart), with
 * no cookies and without following redirects, so the POST answers 200 itself. The GET of the same
 * URL only shows a page with a button that POSTs: link scanners and prefetchers issue GETs, and must
 * never unsubscribe anyone (RFC 8058 §1, last paragraph).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { isEmailAddress, normalizeEmailAddress } from '../../domain/email-address.js';
import { verifyUnsubscribeToken, type UnsubscribeSubject } from '../../domain/unsubscribe-token.js';
import { addSuppressions, cursorAddress, listSuppressions, removeSuppression, suppressionReasons } from '../../store/email-suppressions.js';
import { ApiError } from '../errors.js';
import { DateTime, errorResponses, inputErrors, NoContent, Nullable, restKeyErrors, textResponse } from '../schemas.js';
import { systemClock, type Clock } from '../../domain/clock.js';

export interface EmailRouteDeps {
  sql: Sql;
  /** The secret unsubscribe tokens are signed with; without it the unsubscribe routes are absent. */
  unsubscribeSecret?: string | Buffer | undefined;
  /** Judges the unsubscribe tokens' age. */
  clock?: Clock | undefined;
}

const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 400, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
);

/** Form bodies are tiny ("List-Unsubscribe=One-Click"); anything bigger is not a one-click POST. */
const formBodyLimit = 4096;
const tokenParams = Type.Object({ token: Type.String({ maxLength: 2048 }) });
/** Never refused: an unsubscribe must work whatever a mail client did to the query; a `d` that is no UUID counts for nothing. */
const DeliveryQuery = Type.Object({ d: Type.Optional(Type.String({ maxLength: 64, description: 'The delivery the link was sent in: the unsubscribe is counted for its campaign or group (docs/analytics.md).' })) });
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const SuppressionPage = Type.Object({
  suppressions: Type.Array(Type.Object({
    address: Type.String(),
    reason: Type.Union(suppressionReasons.map((r) => Type.Literal(r))),
    detail: Nullable(Type.String()),
    created_at: DateTime,
  })),
  next_cursor: Nullable(Type.String({ description: 'Pass it as cursor for the next page; null on the last one.' })),
});
const unsubscribeErrors = ['invalid_field', 'invalid_unsubscribe_token', 'expired_unsubscribe_token'] as const;

export const emailRoutes = (deps: EmailRouteDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql } = deps;

  app.get('/v1/email/suppressions', {
    config: { auth: 'rest' },
    schema: {
      summary: 'The addresses this project does not email (hard bounces, unsubscribes, complaints, manual), paged by address',
      tags: ['email'],
      querystring: ListQuery,
      response: { 200: SuppressionPage, ...errorResponses(inputErrors, restKeyErrors) },
    },
    handler: async (req) => {
      const { cursor } = req.query;
      const after = cursor === undefined ? undefined : cursorAddress(cursor);
      if (cursor !== undefined && after === undefined) {
        throw new ApiError('invalid_field', 'querystring.cursor is not a cursor this API gave; pass next_cursor as it came');
      }
      return listSuppressions(sql, req.caller.projectId, { limit: req.query.limit ?? 100, after });
    },
  });

  app.delete('/v1/email/suppressions/:address', {
    config: { auth: 'rest' },
    schema: {
      summary: 'Take an address off the suppression list, so mail goes to it again',
      tags: ['email'],
      params: Type.Object({ address: Type.String({ maxLength: 320 }) }),
      response: { 204: NoContent, ...errorResponses(inputErrors, restKeyErrors, 'suppression_not_found') },
    },
    handler: async (req, reply) => {
      const address = normalizeEmailAddress(req.params.address);
      if (!isEmailAddress(address) || !(await removeSuppression(sql, req.caller.projectId, address))) {
        throw new ApiError('suppression_not_found', `${address} is not on this project's suppression list`);
      }
      return reply.code(204).send();
    },
  });

  const secret = deps.unsubscribeSecret;
  if (secret === undefined) return;

  const subjectOf = (token: string): UnsubscribeSubject => {
    const check = verifyUnsubscribeToken(secret, token, new Date((deps.clock ?? systemClock).now()));
    if (check.ok) return check.subject;
    if (check.reason === 'expired') {
      throw new ApiError('expired_unsubscribe_token', 'this unsubscribe link is more than a year old; use the one in a recent message');
    }
    throw new ApiError('invalid_unsubscribe_token', 'this unsubscribe link is not valid');
  };

  // Scoped to this plugin: the rest of the API takes JSON only.
  for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data']) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: formBodyLimit }, (_req, body, done) => done(null, body));
  }

  app.get('/v1/email/unsubscribe/:token', {
    schema: {
      summary: 'The page behind an unsubscribe link: a button that POSTs (a GET changes nothing)', tags: ['email'], params: tokenParams, security: [],
      querystring: DeliveryQuery,
      response: { 200: textResponse('text/html', 'A page with a button that POSTs the one-click unsubscribe.'), ...errorResponses(unsubscribeErrors) },
    },
    handler: async (req, reply) => {
      subjectOf(req.params.token);
      return page(reply, 200, 'Unsubscribe', `
<h1>Unsubscribe?</h1>
<p>You will no longer receive these emails at this address.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`);
    },
  });

  app.post('/v1/email/unsubscribe/:token', {
    schema: {
      summary: 'RFC 8058 one-click unsubscribe: body List-Unsubscribe=One-Click', tags: ['email'], params: tokenParams, security: [],
      querystring: DeliveryQuery,
      response: {
        200: textResponse('text/html', 'The address is unsubscribed: a page that says so.'),
        ...errorResponses(unsubscribeErrors, 'invalid_unsubscribe_request', 'unsupported_media_type', 'body_too_large', 'request_incomplete'),
      },
    },
    handler: async (req, reply) => {
      const subject = subjectOf(req.params.token);
      if (!isOneClick(req.headers['content-type'], req.body)) {
        throw new ApiError('invalid_unsubscribe_request', 'the body must be List-Unsubscribe=One-Click (RFC 8058 section 3.2)');
      }
      await addSuppressions(sql, subject.projectId, [{ address: subject.address, reason: 'unsubscribed', detail: 'one-click unsubscribe (RFC 8058)' }],
        new Date((deps.clock ?? systemClock).now()), { deliveryId: req.query.d !== undefined && uuid.test(req.query.d) ? req.query.d : undefined });
      return page(reply, 200, 'Unsubscribed', '<h1>You are unsubscribed</h1>\n<p>You will no longer receive these emails at this address.</p>');
    },
  });
};

/** RFC 8058 §3.2: `List-Unsubscribe=One-Click` as a form field, urlencoded or multipart. */
export function isOneClick(contentType: string | undefined, body: unknown): boolean {
  if (typeof body !== 'string') return false;
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return new URLSearchParams(body).getAll('List-Unsubscribe').includes('One-Click');
  if (type === 'multipart/form-data') {
    // One part named List-Unsubscribe whose content is One-Click (RFC 7578 §4.2).
    return /content-disposition:\s*form-data;\s*name="?List-Unsubscribe"?\s*\r?\n(?:[^\r\n]+\r?\n)*\r?\nOne-Click\r?\n--/i.test(body);
  }
  return false;
}

/** A tiny self-contained page: no scripts, no external resources, never cached or indexed. */
function page(reply: FastifyReply, status: number, title: string, body: string) {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-robots-tag', 'noindex')
    .send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}</style></head>
<body>${body}
</body></html>
`);
}
