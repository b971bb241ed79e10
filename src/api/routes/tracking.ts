/**
 * An email's tracking links (domain/email-tracking.ts): `GET /r/{token}` is its open pixel (a 1×1
 * GIF) or one of its rewritten links (a 302 to the URL the token signs). Public: the signed token
 * is the authority (domain/tracking-token.ts). The engagement and its counters are committed
 * before the answer (store/engagements.ts). A token that does not verify is a 400 and never a
 * redirect, so Herald is no open redirect; a verified click whose delivery is gone (erased) still
 * redirects, as the URL was Herald's to send the reader to.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import { systemClock, type Clock } from '../../domain/clock.js';
import { verifyTrackingToken } from '../../domain/tracking-token.js';
import { isMachineOpen } from '../../domain/machine-open.js';
import { recordEngagements } from '../../store/engagements.js';
import { ApiError } from '../errors.js';
import { errorResponses, NoContent, textResponse } from '../schemas.js';

/** The smallest transparent GIF: 1×1, one transparent color (GIF89a). */
const pixel = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export const trackingRoutes = (deps: { sql: Sql; secret: string | Buffer; clock?: Clock | undefined }): FastifyPluginAsyncTypebox => async (app) => {
  const clock = deps.clock ?? systemClock;
  app.get('/r/:token', {
    schema: {
      summary: 'An email\'s open pixel or click redirect (the signed token says which)', tags: ['email'], security: [],
      params: Type.Object({ token: Type.String({ maxLength: 8192 }) }),
      response: {
        200: textResponse('image/gif', 'The open pixel: a transparent 1×1 GIF.'),
        302: { ...NoContent, description: 'A click: redirects to the URL the token signs.' },
        ...errorResponses('invalid_tracking_token'),
      },
    },
    handler: async (req, reply) => {
      const subject = verifyTrackingToken(deps.secret, req.params.token);
      if (!subject) throw new ApiError('invalid_tracking_token', 'this link is not valid');
      const now = new Date(clock.now());
      if (subject.kind === 'open') {
        const machine = isMachineOpen({ userAgent: req.headers['user-agent'], ip: req.ip });
        await recordEngagements(deps.sql, subject.projectId, [{ deliveryId: subject.deliveryId, kind: 'open', machine }], now);
        return reply.code(200).header('content-type', 'image/gif').header('cache-control', 'no-store, private').send(pixel);
      }
      await recordEngagements(deps.sql, subject.projectId, [{ deliveryId: subject.deliveryId, kind: 'click', link: subject.link }], now);
      return reply.code(302).header('location', subject.url).header('cache-control', 'no-store, private').header('referrer-policy', 'no-referrer').send();
    },
  });
};
