/**
 * The contract every route keeps: /openapi.json is what clients (the dashboard's, the Node SDK's)
 * are generated from, so a route that does not declare what it answers is refused at startup.
 *
 * - `enforceRouteContract(app)` watches every route registered after it (Herald's own; the
 *   @fastify/swagger-ui pages come before) and `check()` throws naming each route that has no
 *   2xx/3xx response schema, no 4xx/5xx error response, path parameters without a params schema,
 *   or, when it takes a key, no 401 (and 403 for the REST key) for the refusals of api/auth.ts.
 * - `checkResponses(app)` (tests): Fastify serializes answers with fast-json-stringify, which drops
 *   properties a schema does not declare and coerces types; every answer is compared with what
 *   plain JSON.stringify would have sent, and a difference is an error naming the route.
 */
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance, RouteOptions } from 'fastify';

export class RouteContractError extends Error {}

const statusOf = (key: string): number => (/^[1-5]xx$/i.test(key) ? Number(key[0]) * 100 : Number(key));

/** What is wrong with one route's declaration, or an empty list. */
export function contractProblems(route: Pick<RouteOptions, 'schema' | 'config'> & { url?: string }): string[] {
  const response = (route.schema?.response ?? {}) as Record<string, unknown>;
  const statuses = Object.keys(response).map(statusOf);
  const problems: string[] = [];
  if (route.url?.includes('/:') && !route.schema?.params) problems.push('path parameters without a params schema');
  if (!statuses.some((s) => s >= 200 && s < 400)) problems.push('no 2xx/3xx response schema');
  if (!statuses.some((s) => s >= 400 && s < 600)) problems.push('no 4xx/5xx error response');
  const auth = (route.config as { auth?: string } | undefined)?.auth;
  if (auth && !statuses.includes(401)) problems.push(`takes the ${auth} key but declares no 401`);
  if (auth === 'rest' && !statuses.includes(403)) problems.push('takes the REST key but declares no 403');
  return problems;
}

export function enforceRouteContract(app: FastifyInstance): { check(): void } {
  const broken: string[] = [];
  app.addHook('onRoute', (route) => {
    // Fastify adds a HEAD route for every GET, with the GET's schema: named once, as the GET.
    if (route.method === 'HEAD') return;
    const problems = contractProblems(route);
    if (problems.length) broken.push(`${String(route.method)} ${route.url}: ${problems.join('; ')}`);
  });
  return {
    check() {
      if (broken.length) throw new RouteContractError(`routes without a complete contract:\n  ${broken.join('\n  ')}`);
    },
  };
}

/** Tests only: an answer the response schema changed (a dropped field, a coerced value) is a 500 naming the route. */
export function checkResponses(app: FastifyInstance): void {
  const sent = new WeakMap<object, string>();
  app.addHook('preSerialization', async (req, _reply, payload) => {
    if (payload !== null && typeof payload === 'object') sent.set(req, JSON.stringify(payload));
    return payload;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const expected = sent.get(req);
    if (expected === undefined || typeof payload !== 'string') return payload;
    sent.delete(req);
    if (!isDeepStrictEqual(JSON.parse(payload), JSON.parse(expected))) {
      const route = `${req.method} ${req.routeOptions.url ?? req.url} ${reply.statusCode}`;
      const message = `the response schema of ${route} changed the answer:\n  handler: ${expected.slice(0, 2000)}\n  sent:    ${payload.slice(0, 2000)}\n`;
      // Tests run with a silent logger: the difference is written where the test runner shows it.
      process.stderr.write(message);
      throw new Error(message);
    }
    return payload;
  });
}
