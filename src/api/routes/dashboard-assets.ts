/**
 * GET / and /dashboard/*: the dashboard (dashboard/dist, built by `npm run build`), served on the
 * API's own port so it needs no other server and talks to the API same-origin. Everything it
 * loads comes from here (the Content-Security-Policy allows nothing else), except the https images
 * an in-app message's preview shows, as a device will fetch them; the page cannot be
 * framed (clickjacking: https://cheatsheetseries.owasp.org/cheatsheets/Clickjacking_Defense_Cheat_Sheet.html).
 */
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { packageRoot } from '../../paths.js';
import { errorBody } from '../errors.js';
import { staticFiles, type StaticFile } from '../static-files.js';
import { errorResponses, NoContent } from '../schemas.js';

const pageHeaders = {
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const files: Record<string, StaticFile> = {
  'app.js': { file: 'app.js', contentType: 'text/javascript; charset=utf-8', headers: { 'cache-control': 'no-cache' } },
  'app.css': { file: 'app.css', contentType: 'text/css; charset=utf-8', headers: { 'cache-control': 'no-cache' } },
};
const index: StaticFile = { file: 'index.html', contentType: 'text/html; charset=utf-8', headers: pageHeaders };

export const dashboardAssetRoutes = (dir: string = join(packageRoot, 'dashboard', 'dist')): FastifyPluginAsyncTypebox => async (app) => {
  const serve = staticFiles(dir);
  const notBuilt = errorBody('not_found', 'the dashboard is not built: run `npm run build`');

  const text = { type: 'string' };
  const served = (description: string, types: string[]) => ({
    200: { description, content: Object.fromEntries(types.map((t) => [t, { schema: text }])) },
    304: { ...NoContent, description: 'Not modified (If-None-Match named its ETag).' },
    ...errorResponses('not_found'),
  });

  app.get('/', {
    schema: { hide: true, response: served('The dashboard\'s page.', ['text/html']) },
    handler: async (req, reply) => {
      return (await serve(req, reply, index)) === 'missing' ? reply.code(404).send(notBuilt) : reply;
    },
  });

  app.get('/dashboard/:name', {
    schema: { hide: true, params: Type.Object({ name: Type.String() }), response: served('A dashboard file.', ['text/javascript', 'text/css']) },
    handler: async (req, reply) => {
      const file = Object.hasOwn(files, req.params.name) ? files[req.params.name] : undefined;
      if (!file) return reply.code(404).send(errorBody('not_found', `no dashboard file named ${req.params.name}`));
      return (await serve(req, reply, file)) === 'missing' ? reply.code(404).send(notBuilt) : reply;
    },
  });
};
