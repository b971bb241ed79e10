/**
 * GET / and /dashboard/*: the dashboard (dashboard/dist, built by `npm run build`), served on the
 * API's own port so it needs no other server and talks to the API same-origin. Everything it
 * loads comes from here: the Content-Security-Policy allows nothing else, and the page cannot be
 * framed (clickjacking: https://cheatsheetseries.owasp.org/cheatsheets/Clickjacking_Defense_Cheat_Sheet.html).
 */
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { packageRoot } from '../../paths.js';
import { errorBody } from '../errors.js';
import { staticFiles, type StaticFile } from '../static-files.js';

const pageHeaders = {
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const files: Record<string, StaticFile> = {
  'app.js': { file: 'app.js', contentType: 'text/javascript; charset=utf-8', headers: { 'cache-control': 'no-cache' } },
  'app.css': { file: 'app.css', contentType: 'text/css; charset=utf-8', headers: { 'cache-control': 'no-cache' } },
};
const index: StaticFile = { file: 'index.html', contentType: 'text/html; charset=utf-8', headers: pageHeaders };

export const dashboardAssetRoutes = (dir: string = join(packageRoot, 'dashboard', 'dist')): FastifyPluginAsync => async (app) => {
  const serve = staticFiles(dir);
  const notBuilt = errorBody('not_found', 'the dashboard is not built: run `npm run build`');

  app.get('/', {
    schema: { hide: true },
    handler: async (req, reply) => {
      const sent = await serve(req, reply, index);
      return 'missing' in sent ? reply.code(404).send(notBuilt) : sent;
    },
  });

  app.get<{ Params: { name: string } }>('/dashboard/:name', {
    schema: { hide: true },
    handler: async (req, reply) => {
      const file = Object.hasOwn(files, req.params.name) ? files[req.params.name] : undefined;
      if (!file) return reply.code(404).send(errorBody('not_found', `no dashboard file named ${req.params.name}`));
      const sent = await serve(req, reply, file);
      return 'missing' in sent ? reply.code(404).send(notBuilt) : sent;
    },
  });
};
