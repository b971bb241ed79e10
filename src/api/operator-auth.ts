/**
 * Dashboard sessions: an operator signed in through the dashboard calls the same API as a REST
 * key, with its session cookie instead of the key, the project in `X-Herald-Project`, and on every
 * state change the session's CSRF token in `X-CSRF-Token` (the synchronizer-token pattern:
 * https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html#synchronizer-token-pattern).
 * The cookie is also SameSite=Strict, so a cross-site request does not even carry it; the token is
 * the defence for browsers and paths where that does not hold.
 *
 * What a role may do: a viewer reads; an editor also changes (sends, profiles, segments,
 * audiences…); an admin also manages what routes mark `role: 'admin'` (API keys, provider
 * credentials, operators, the audit log); an owner also grants owner. Every change an operator
 * makes is written to the audit log before its answer is sent (the onSend hook below).
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Sql } from 'postgres';
import type { Clock } from '../domain/clock.js';
import { appendAudit, findSession, roleIn, type Operator, type Role } from '../store/operators.js';
import { ApiError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the call came with a dashboard session rather than an API key. */
    operator?: { operator: Operator; role: Role | undefined; csrfToken: string; sessionToken: string } | undefined;
  }
  interface FastifyContextConfig {
    /** The least role a dashboard session needs here; by default viewer to read, editor to change. */
    role?: Role;
    /** false: the route writes its own audit entry (or changes nothing worth one, like a login). */
    audit?: boolean;
  }
}

export const sessionCookie = 'herald_session';
/** A session ends after 12 hours without use. */
export const sessionIdleMs = 12 * 3600_000;
export const projectHeader = 'x-herald-project';
export const csrfHeader = 'x-csrf-token';

const rank: Record<Role, number> = { viewer: 0, editor: 1, admin: 2, owner: 3 };
export const atLeast = (role: Role | undefined, needed: Role): boolean => role !== undefined && rank[role] >= rank[needed];

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function sessionCookieOptions(req: FastifyRequest, maxAgeMs: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    // Secure whenever the browser reached Herald over https (directly or through a proxy: trustProxy).
    secure: req.protocol === 'https',
    maxAge: Math.floor(maxAgeMs / 1000),
  };
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The session of the request's cookie, checked for CSRF on state changes; undefined when the
 * request carries none. Throws when it carries one that is unknown, expired or forged.
 */
export async function sessionOf(sql: Sql, clock: Clock, req: FastifyRequest): Promise<{ operator: Operator; csrfToken: string; token: string } | undefined> {
  const header = req.headers.cookie;
  const token = header ? req.server.parseCookie(header)[sessionCookie] : undefined;
  if (!token) return undefined;
  const s = await findSession(sql, token, new Date(clock.now()), sessionIdleMs);
  if (!s) throw new ApiError('unauthorized', 'the dashboard session has expired or was ended: sign in again');
  if (!safeMethods.has(req.method)) {
    const sent = req.headers[csrfHeader];
    if (typeof sent !== 'string' || !sameToken(sent, s.csrfToken)) {
      throw new ApiError('csrf_token_invalid', `a change made with a dashboard session needs the session's CSRF token in ${csrfHeader}`);
    }
  }
  return { operator: s.operator, csrfToken: s.csrfToken, token };
}

/**
 * For a route of the project API (auth 'rest' or 'sdk'): the caller's project and role from the
 * session and X-Herald-Project, refused when the role is short of what the route needs.
 */
export async function authorizeOperator(
  sql: Sql, req: FastifyRequest, s: { operator: Operator; csrfToken: string; token: string },
  needed: Role = req.routeOptions.config.role ?? (safeMethods.has(req.method) ? 'viewer' : 'editor'),
): Promise<string> {
  const projectId = req.headers[projectHeader];
  if (typeof projectId !== 'string' || !uuid.test(projectId)) {
    throw new ApiError('project_header_required', `a dashboard session names its project in ${projectHeader} (the project's id)`);
  }
  const role = await roleIn(sql, s.operator, projectId);
  // No role and no such project answer alike: a session cannot probe which projects exist.
  if (!role) throw new ApiError('role_forbidden', 'this operator has no role in that project');
  req.operator = { operator: s.operator, role, csrfToken: s.csrfToken, sessionToken: s.token };
  if (!atLeast(role, needed)) throw new ApiError('role_forbidden', `this needs the ${needed} role in the project; this operator is ${role}`);
  return projectId;
}

/** Field names whose values never reach the audit log (or any log): secrets, keys, passwords. */
const secretField = /pass(word)?|secret|private|token|credential|^key$|_key$|p8|pem|auth$/i;

export function redact(v: unknown, depth = 0): unknown {
  if (depth > 16) return '[deep]';
  if (Array.isArray(v)) return v.length > 100 ? `[${v.length} items]` : v.map((x) => redact(x, depth + 1));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, secretField.test(k) ? '[redacted]' : redact(x, depth + 1)]));
  }
  if (typeof v === 'string' && v.length > 2000) return `${v.slice(0, 2000)}…`;
  return v;
}

/**
 * The audit hook: a change an operator made through the project API (a 2xx to anything but a safe
 * method) is committed to the audit log before its answer leaves, so a change the dashboard saw
 * succeed is never missing from the log. The request body (redacted) is what the change set.
 */
export function registerAudit(app: FastifyInstance, sql: Sql, clock: Clock): void {
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload) => {
    const o = req.operator;
    if (!o || safeMethods.has(req.method) || reply.statusCode >= 300 || req.routeOptions.config.audit === false) return payload;
    const params = req.params as Record<string, string> | undefined;
    await appendAudit(sql, {
      operator: o.operator,
      projectId: req.caller?.projectId ?? null,
      action: `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`,
      target: params && Object.keys(params).length ? JSON.stringify(params) : null,
      before: null,
      after: req.body === undefined ? null : redact(req.body),
      ip: req.ip,
    }, new Date(clock.now()));
    return payload;
  });
}
