/**
 * The dashboard's accounts: the owner created on a new install's first visit, sign-in and out,
 * the session, the operators of a project with their roles, and the audit log.
 *
 * Sign-in is rate-limited per email and per client address from failures recorded in PostgreSQL,
 * so every API process counts the same failures. An unknown email costs one scrypt hash like a
 * wrong password does, so timing does not tell which emails have accounts.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { Sql } from 'postgres';
import type { Clock } from '../../domain/clock.js';
import { hashPassword, maxPasswordLength, minPasswordLength, needsRehash, verifyPassword } from '../../domain/password.js';
import {
  appendAudit, clearLoginFailures, createFirstOwner, createOperator, createSession, deleteSession,
  listAudit, loginFailures, operatorByEmail, operatorById, operatorCount, operatorProjects, projectOperators, recordLoginFailure,
  roleIn, roles, setPasswordHash, setRole, type Operator, type Role,
} from '../../store/operators.js';
import { ApiError } from '../errors.js';
import { errorResponses, inputErrors, NoContent, operatorErrors } from '../schemas.js';
import { authorizeOperator, projectHeader, sessionCookie, sessionCookieOptions, sessionIdleMs } from '../operator-auth.js';

/** Failed sign-ins allowed per email, and per client address, in the window. */
export const loginLimits = { perEmail: 10, perAddress: 100, windowMs: 15 * 60_000 };

const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$', description: 'The operator\'s email: its sign-in name.' });
const Password = Type.String({ minLength: minPasswordLength, maxLength: maxPasswordLength });
const RoleName = Type.Union(roles.map((r) => Type.Literal(r)));
const OperatorBody = Type.Object({
  id: Type.String(), email: Type.String(), name: Type.String(), instance_owner: Type.Boolean(),
});
const ProjectAccess = Type.Object({ id: Type.String(), name: Type.String(), role: RoleName });
const SessionBody = Type.Object({
  operator: OperatorBody,
  csrf_token: Type.String({ description: 'Send it as X-CSRF-Token with every change made with this session.' }),
  projects: Type.Array(ProjectAccess),
});
const Credentials = Type.Object({ email: Email, password: Password }, { additionalProperties: false });
const Setup = Type.Object({ email: Email, password: Password, name: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false });
const NewOperator = Type.Object({
  email: Email, password: Password, name: Type.Optional(Type.String({ maxLength: 200 })), role: RoleName,
}, { additionalProperties: false });
const RoleBody = Type.Object({ role: RoleName }, { additionalProperties: false });
const OperatorId = Type.Object({ id: Type.String({ format: 'uuid' }) });
const AuditQuery = Type.Object({
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
}, { additionalProperties: false });
const AuditEntry = Type.Object({
  id: Type.String(), at: Type.String({ format: 'date-time' }), operator_id: Type.Union([Type.String(), Type.Null()]),
  operator_email: Type.String(), project_id: Type.Union([Type.String(), Type.Null()]), action: Type.String(), target: Type.Union([Type.String(), Type.Null()]),
  before: Type.Unknown(), after: Type.Unknown(), ip: Type.Union([Type.String(), Type.Null()]),
});

const publicOperator = (o: Operator) => ({ id: o.id, email: o.email, name: o.name, instance_owner: o.instance_owner });

export const dashboardAccountRoutes = (deps: { sql: Sql; clock: Clock }): FastifyPluginAsyncTypebox => async (app) => {
  const { sql, clock } = deps;
  const now = () => new Date(clock.now());
  let decoy: Promise<string> | undefined;

  async function startSession(req: FastifyRequest, reply: FastifyReply, operator: Operator) {
    const s = await createSession(sql, operator.id, now(), sessionIdleMs);
    void reply.setCookie(sessionCookie, s.token, sessionCookieOptions(req, sessionIdleMs));
    return { operator: publicOperator(operator), csrf_token: s.csrfToken, projects: await operatorProjects(sql, operator) };
  }

  /** The session's operator with its role in the X-Herald-Project project, at least `needed`. */
  async function projectRole(req: FastifyRequest, needed: Role): Promise<{ operator: Operator; projectId: string; role: Role }> {
    const o = req.operator!;
    const projectId = await authorizeOperator(sql, req, { operator: o.operator, csrfToken: o.csrfToken, token: o.sessionToken }, needed);
    return { operator: o.operator, projectId, role: req.operator!.role! };
  }

  app.get('/v1/dashboard/setup', {
    schema: {
      summary: 'Whether this install still needs its owner account (the first visit creates it)',
      tags: ['dashboard'],
      response: { 200: Type.Object({ needs_setup: Type.Boolean() }), ...errorResponses() },
    },
    handler: async () => ({ needs_setup: (await operatorCount(sql)) === 0 }),
  });

  app.post<{ Body: Static<typeof Setup> }>('/v1/dashboard/setup', {
    config: { audit: false },
    schema: {
      summary: 'Create the owner account of a new install, and sign it in',
      description: 'Only while no operator exists; afterwards 409 already_set_up.',
      tags: ['dashboard'],
      body: Setup,
      response: { 201: SessionBody, ...errorResponses(inputErrors, 'already_set_up') },
    },
    handler: async (req, reply) => {
      const passwordHash = await hashPassword(req.body.password);
      const owner = await createFirstOwner(sql, { email: req.body.email, name: req.body.name ?? '', passwordHash }, now());
      if (!owner) throw new ApiError('already_set_up', 'this install already has its owner: sign in instead');
      await appendAudit(sql, { operator: owner, projectId: null, action: 'owner created', target: owner.id, before: null, after: publicOperator(owner), ip: req.ip }, now());
      void reply.code(201);
      return startSession(req, reply, owner);
    },
  });

  app.post<{ Body: Static<typeof Credentials> }>('/v1/dashboard/login', {
    config: { audit: false },
    schema: {
      summary: 'Sign in: sets the session cookie (HttpOnly, SameSite=Strict, Secure over https)',
      tags: ['dashboard'],
      body: Credentials,
      response: { 200: SessionBody, ...errorResponses(inputErrors, 'invalid_credentials', 'too_many_login_attempts') },
    },
    handler: async (req, reply) => {
      const { email, password } = req.body;
      const at = now();
      const since = new Date(at.getTime() - loginLimits.windowMs);
      const f = await loginFailures(sql, email, req.ip, since);
      const oldest = f.email >= loginLimits.perEmail ? f.oldestEmail : f.ip >= loginLimits.perAddress ? f.oldestIp : null;
      if (oldest) {
        const retryAfter = Math.max(1, Math.ceil((oldest.getTime() + loginLimits.windowMs - at.getTime()) / 1000));
        void reply.header('retry-after', String(retryAfter));
        throw new ApiError('too_many_login_attempts', `too many failed sign-ins for this email or from this address: try again in ${retryAfter} s`);
      }
      const found = await operatorByEmail(sql, email);
      const ok = found ? await verifyPassword(password, found.password_hash) : (await verifyPassword(password, await (decoy ??= hashPassword(randomBytes(16).toString('hex')))), false);
      if (!found || !ok) {
        await recordLoginFailure(sql, email, req.ip, at);
        throw new ApiError('invalid_credentials', 'this email and password do not match an operator');
      }
      await clearLoginFailures(sql, email, since);
      if (needsRehash(found.password_hash)) await setPasswordHash(sql, found.id, await hashPassword(password), at);
      const { password_hash: _hash, ...operator } = found;
      return startSession(req, reply, operator);
    },
  });

  app.post('/v1/dashboard/logout', {
    config: { auth: 'operator', audit: false },
    schema: { summary: 'Sign out: ends this session', tags: ['dashboard'], response: { 204: NoContent, ...errorResponses(operatorErrors) } },
    handler: async (req, reply) => {
      await deleteSession(sql, req.operator!.sessionToken);
      void reply.clearCookie(sessionCookie, { path: '/' });
      return reply.code(204).send();
    },
  });

  app.get('/v1/dashboard/session', {
    config: { auth: 'operator' },
    schema: { summary: 'The signed-in operator, its CSRF token and its projects', tags: ['dashboard'], response: { 200: SessionBody, ...errorResponses(operatorErrors) } },
    handler: async (req) => {
      const o = req.operator!;
      return { operator: publicOperator(o.operator), csrf_token: o.csrfToken, projects: await operatorProjects(sql, o.operator) };
    },
  });

  app.get('/v1/dashboard/operators', {
    config: { auth: 'operator' },
    schema: {
      summary: `The operators of the project named by ${projectHeader}, with their roles (admin)`,
      tags: ['dashboard'],
      response: { 200: Type.Object({ operators: Type.Array(Type.Intersect([OperatorBody, Type.Object({ role: RoleName })])) }), ...errorResponses(operatorErrors, 'project_header_required', 'role_forbidden') },
    },
    handler: async (req) => {
      const { projectId } = await projectRole(req, 'admin');
      return { operators: (await projectOperators(sql, projectId)).map((o) => ({ ...publicOperator(o), role: o.role })) };
    },
  });

  app.post<{ Body: Static<typeof NewOperator> }>('/v1/dashboard/operators', {
    config: { auth: 'operator', audit: false },
    schema: {
      summary: `Create an operator with a role in the project named by ${projectHeader} (admin; owner to grant owner)`,
      tags: ['dashboard'],
      body: NewOperator,
      response: { 201: Type.Intersect([OperatorBody, Type.Object({ role: RoleName })]), ...errorResponses(inputErrors, operatorErrors, 'project_header_required', 'role_forbidden', 'operator_email_taken') },
    },
    handler: async (req, reply) => {
      const me = await projectRole(req, 'admin');
      if (req.body.role === 'owner' && me.role !== 'owner') throw new ApiError('role_forbidden', 'only an owner grants the owner role');
      const passwordHash = await hashPassword(req.body.password);
      const created = await sql.begin(async (tx) => {
        const o = await createOperator(tx, { email: req.body.email, name: req.body.name ?? '', passwordHash, roles: { [me.projectId]: req.body.role } }, now());
        if (!o) throw new ApiError('operator_email_taken', 'an operator with this email exists: give it a role in this project instead');
        await appendAudit(tx, { operator: me.operator, projectId: me.projectId, action: 'operator created', target: o.id, before: null, after: { ...publicOperator(o), role: req.body.role }, ip: req.ip }, now());
        return o;
      });
      void reply.code(201);
      return { ...publicOperator(created), role: req.body.role };
    },
  });

  app.put<{ Params: Static<typeof OperatorId>; Body: Static<typeof RoleBody> }>('/v1/dashboard/operators/:id/role', {
    config: { auth: 'operator', audit: false },
    schema: {
      summary: `Give an existing operator a role in the project named by ${projectHeader} (admin; owner to grant or change an owner)`,
      tags: ['dashboard'],
      params: OperatorId,
      body: RoleBody,
      response: { 200: Type.Object({ operator_id: Type.String(), role: RoleName, previous_role: Type.Union([RoleName, Type.Null()]) }), ...errorResponses(inputErrors, operatorErrors, 'project_header_required', 'role_forbidden', 'operator_not_found') },
    },
    handler: async (req) => changeRole(req, req.params.id, req.body.role),
  });

  app.delete<{ Params: Static<typeof OperatorId> }>('/v1/dashboard/operators/:id/role', {
    config: { auth: 'operator', audit: false },
    schema: {
      summary: `Take an operator out of the project named by ${projectHeader} (admin; owner for an owner)`,
      tags: ['dashboard'],
      params: OperatorId,
      response: { 200: Type.Object({ operator_id: Type.String(), role: Type.Null(), previous_role: Type.Union([RoleName, Type.Null()]) }), ...errorResponses(inputErrors, operatorErrors, 'project_header_required', 'role_forbidden', 'operator_not_found') },
    },
    handler: async (req) => changeRole(req, req.params.id, null),
  });

  async function changeRole(req: FastifyRequest, operatorId: string, role: Role | null) {
    const me = await projectRole(req, 'admin');
    return sql.begin(async (tx) => {
      const target = await operatorById(tx, operatorId);
      if (!target) throw new ApiError('operator_not_found', 'no operator with this id');
      if (target.instance_owner) throw new ApiError('role_forbidden', 'the instance owner is owner of every project; its role cannot change');
      const current = await roleIn(tx, target, me.projectId);
      if ((role === 'owner' || current === 'owner') && me.role !== 'owner') throw new ApiError('role_forbidden', 'only an owner grants or changes the owner role');
      const previous = await setRole(tx, operatorId, me.projectId, role);
      // Roles are read on every request (operator-auth.ts), so a change takes effect at the operator's next call.
      await appendAudit(tx, {
        operator: me.operator, projectId: me.projectId, action: role === null ? 'role removed' : 'role set', target: operatorId,
        before: previous && { role: previous }, after: role && { role }, ip: req.ip,
      }, now());
      return { operator_id: operatorId, role, previous_role: previous };
    });
  }

  app.get<{ Querystring: Static<typeof AuditQuery> }>('/v1/dashboard/audit', {
    config: { auth: 'operator' },
    schema: {
      summary: `The audit log of the project named by ${projectHeader}, newest first (admin)`,
      tags: ['dashboard'],
      querystring: AuditQuery,
      response: { 200: Type.Object({ entries: Type.Array(AuditEntry), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses(inputErrors, operatorErrors, 'project_header_required', 'role_forbidden') },
    },
    handler: async (req) => {
      const { projectId } = await projectRole(req, 'admin');
      const limit = req.query.limit ?? 50;
      const entries = await listAudit(sql, projectId, limit, req.query.cursor);
      return {
        entries: entries.map((e) => ({ ...e, at: e.at.toISOString() })),
        next_cursor: entries.length === limit ? entries[entries.length - 1]!.id : null,
      };
    },
  });
};
