/**
 * GET /sdk/web/*: the built Web SDK (sdk/web/dist), served by Herald so a site can load it from
 * there: herald.js (the ES module), herald-in-app.js (the in-app messages' chunk herald.js imports
 * from beside itself), herald-sw.js (the service worker) and test.html (a page that starts the SDK
 * from its query string, for browser tests and for trying the SDK). Public, no key.
 */
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { packageRoot } from '../../paths.js';
import { errorBody } from '../errors.js';
import { staticFiles, type StaticFile } from '../static-files.js';
import { errorResponses, NoContent } from '../schemas.js';

const assets: Record<string, StaticFile> = {
  'herald.js': {
    file: 'herald.js',
    contentType: 'text/javascript; charset=utf-8',
    // Revalidated after 5 minutes: the URL is not versioned, and a fixed SDK should reach pages soon.
    headers: { 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' },
  },
  // Imported by herald.js from any origin, so it needs the same CORS header (a module script is
  // fetched in CORS mode: HTML Standard, "fetch a single module script").
  'herald-in-app.js': {
    file: 'herald-in-app.js',
    contentType: 'text/javascript; charset=utf-8',
    headers: { 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' },
  },
  'herald-sw.js': {
    file: 'herald-sw.js',
    contentType: 'text/javascript; charset=utf-8',
    headers: {
      // Lets a page register the worker for its whole origin although the script lives under /sdk/web/
      // (Service Workers spec, "Service-Worker-Allowed").
      'service-worker-allowed': '/',
      // Always revalidated (by ETag): browsers check a worker script for updates and should see a new one at once.
      'cache-control': 'no-cache',
    },
  },
  'test.html': {
    file: 'test.html',
    contentType: 'text/html; charset=utf-8',
    headers: { 'cache-control': 'no-cache' },
  },
};

/** `dir`: where the built files are (default sdk/web/dist in the package). */
export const sdkAssetRoutes = (dir: string = join(packageRoot, 'sdk', 'web', 'dist')): FastifyPluginAsyncTypebox => async (app) => {
  const serve = staticFiles(dir);

  const text = { schema: { type: 'string' } };
  app.get('/sdk/web/:name', {
    schema: {
      hide: true,
      params: Type.Object({ name: Type.String() }),
      response: {
        200: { description: 'The file.', content: { 'text/javascript': text, 'text/html': text } },
        304: { ...NoContent, description: 'Not modified (If-None-Match named its ETag).' },
        ...errorResponses('not_found'),
      },
    },
    handler: async (req, reply) => {
      const asset = Object.hasOwn(assets, req.params.name) ? assets[req.params.name] : undefined;
      if (!asset) return reply.code(404).send(errorBody('not_found', `no Web SDK file named ${req.params.name}`));
      if ((await serve(req, reply, asset)) === 'missing') return reply.code(404).send(errorBody('not_found', 'the Web SDK is not built: run `npm run build`'));
      return reply;
    },
  });
};
