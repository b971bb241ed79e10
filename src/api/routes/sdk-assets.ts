/**
 * GET /sdk/web/*: the built Web SDK (sdk/web/dist), served by Herald so a site can load it from
 * there: herald.js (the ES module), herald-sw.js (the service worker) and test.html (a page that
 * starts the SDK from its query string, for browser tests and for trying the SDK). Public, no key.
 */
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { packageRoot } from '../../paths.js';
import { errorBody } from '../errors.js';
import { staticFiles, type StaticFile } from '../static-files.js';

const assets: Record<string, StaticFile> = {
  'herald.js': {
    file: 'herald.js',
    contentType: 'text/javascript; charset=utf-8',
    // Revalidated after 5 minutes: the URL is not versioned, and a fixed SDK should reach pages soon.
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
export const sdkAssetRoutes = (dir: string = join(packageRoot, 'sdk', 'web', 'dist')): FastifyPluginAsync => async (app) => {
  const serve = staticFiles(dir);

  app.get<{ Params: { name: string } }>('/sdk/web/:name', {
    schema: { hide: true },
    handler: async (req, reply) => {
      const asset = Object.hasOwn(assets, req.params.name) ? assets[req.params.name] : undefined;
      if (!asset) return reply.code(404).send(errorBody('not_found', `no Web SDK file named ${req.params.name}`));
      const sent = await serve(req, reply, asset);
      if ('missing' in sent) return reply.code(404).send(errorBody('not_found', 'the Web SDK is not built: run `npm run build`'));
      return sent;
    },
  });
};
