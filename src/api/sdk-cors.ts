/**
 * CORS for the SDK endpoints only: a browser on any site may call /v1/sdk/* with the public SDK key
 * (Authorization and Content-Type headers), and caches the preflight for a day. The REST endpoints
 * carry the secret key and send no CORS headers, so no browser page can call them cross-origin.
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

export const sdkPathPrefix = '/v1/sdk/';
/** Browsers cap this themselves (Chromium at 2 h); a day asks for the most. */
const preflightMaxAgeSeconds = 86_400;

export async function registerSdkCors(app: FastifyInstance): Promise<void> {
  await app.register(cors, {
    delegator: (req, cb) => {
      if (!req.url.startsWith(sdkPathPrefix)) return cb(null, { origin: false });
      cb(null, {
        origin: '*', methods: ['POST', 'PUT', 'GET'], allowedHeaders: ['Authorization', 'Content-Type'],
        maxAge: preflightMaxAgeSeconds, credentials: false,
        // The Web SDK honours Retry-After on 429s; a cross-origin page can read only exposed headers.
        exposedHeaders: ['Retry-After'],
      });
    },
  });
}
