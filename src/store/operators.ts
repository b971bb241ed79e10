/**
 * Dashboard operators, their roles per project, sessions, failed logins and the audit log
 * (migration 0017). Times come from the caller's clock; no statement decides with now().
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { JSONValue, Sql, TransactionSql } from 'postgres';

export type Role = 'owner' | 'admin' | 'editor' | 'viewer';
export const roles: readonly Role[] = ['owner', 'admin', 'editor', 'viewer'];

export interface Operator {
  id: string;
  email: string;
  name: string;
  instance_owner: boolean;
  created_at: Date;
}

export interface OperatorProject {
  id: string;
  name: string;
  role: Role;
}

const operatorColumns = 'id, email, name, instance_owner, created_at';

export async function operatorCount(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from operators`;
  return row!.n;
}

/**
 * The instance owner, created only while no operator exists: two first visits racing each other
 * create one owner, the other gets undefined. The table lock serialises them.
 */
export async function createFirstOwner(sql: Sql, o: { email: string; name: string; passwordHash: string }, now: Date): Promise<Operator | undefined> {
  return sql.begin(async (tx) => {
    await tx`lock table operators in exclusive mode`;
    const [existing] = await tx`select 1 from operators limit 1`;
    if (existing) return undefined;
    const [row] = await tx<Operator[]>`
      insert into operators (id, email, name, password_hash, instance_owner, created_at, updated_at)
      values (${randomUUID()}, ${o.email}, ${o.name}, ${o.passwordHash}, true, ${now}, ${now})
      returning ${tx.unsafe(operatorColumns)}`;
    return row;
  });
}

/** A new operator with roles; undefined when the email is taken. */
export async function createOperator(
  tx: TransactionSql, o: { email: string; name: string; passwordHash: string; roles: Record<string, Role> }, now: Date,
): Promise<Operator | undefined> {
  const [row] = await tx<Operator[]>`
    insert into operators (id, email, name, password_hash, created_at, updated_at)
    values (${randomUUID()}, ${o.email}, ${o.name}, ${o.passwordHash}, ${now}, ${now})
    on conflict ((lower(email))) do nothing
    returning ${tx.unsafe(operatorColumns)}`;
  if (!row) return undefined;
  const entries = Object.entries(o.roles);
  if (entries.length) {
    await tx`insert into operator_roles (operator_id, project_id, role)
             select ${row.id}, p, r from unnest(${entries.map(([p]) => p)}::uuid[], ${entries.map(([, r]) => r)}::text[]) as t(p, r)`;
  }
  return row;
}

export async function operatorByEmail(sql: Sql, email: string): Promise<(Operator & { password_hash: string }) | undefined> {
  const [row] = await sql<(Operator & { password_hash: string })[]>`
    select ${sql.unsafe(operatorColumns)}, password_hash from operators where lower(email) = lower(${email})`;
  return row;
}

export async function operatorById(sql: Sql | TransactionSql, id: string): Promise<Operator | undefined> {
  const [row] = await sql<Operator[]>`select ${sql.unsafe(operatorColumns)} from operators where id = ${id}`;
  return row;
}

export async function setPasswordHash(sql: Sql, id: string, passwordHash: string, now: Date): Promise<void> {
  await sql`update operators set password_hash = ${passwordHash}, updated_at = ${now} where id = ${id}`;
}

/** The projects an operator may open and its role in each: every project for the instance owner. */
export async function operatorProjects(sql: Sql | TransactionSql, op: Pick<Operator, 'id' | 'instance_owner'>): Promise<OperatorProject[]> {
  if (op.instance_owner) {
    return sql<OperatorProject[]>`select id, name, 'owner' as role from projects order by name, id`;
  }
  return sql<OperatorProject[]>`
    select p.id, p.name, r.role from operator_roles r join projects p on p.id = r.project_id
    where r.operator_id = ${op.id} order by p.name, p.id`;
}

/** The operator's role in one project, or undefined when it has none. */
export async function roleIn(sql: Sql | TransactionSql, op: Pick<Operator, 'id' | 'instance_owner'>, projectId: string): Promise<Role | undefined> {
  if (op.instance_owner) {
    const [p] = await sql`select 1 from projects where id = ${projectId}`;
    return p ? 'owner' : undefined;
  }
  const [row] = await sql<{ role: Role }[]>`select role from operator_roles where operator_id = ${op.id} and project_id = ${projectId}`;
  return row?.role;
}

/** The operators of one project with their roles (the instance owners included, as owners). */
export async function projectOperators(sql: Sql, projectId: string): Promise<(Operator & { role: Role })[]> {
  return sql<(Operator & { role: Role })[]>`
    select o.id, o.email, o.name, o.instance_owner, o.created_at, coalesce(r.role, 'owner') as role
    from operators o left join operator_roles r on r.operator_id = o.id and r.project_id = ${projectId}
    where o.instance_owner or r.role is not null order by o.created_at, o.id`;
}

/** Sets (or, with null, removes) an operator's role in a project; returns the role it had. */
export async function setRole(tx: TransactionSql, operatorId: string, projectId: string, role: Role | null): Promise<Role | null> {
  const [was] = await tx<{ role: Role }[]>`
    select role from operator_roles where operator_id = ${operatorId} and project_id = ${projectId} for update`;
  if (role === null) await tx`delete from operator_roles where operator_id = ${operatorId} and project_id = ${projectId}`;
  else {
    await tx`insert into operator_roles (operator_id, project_id, role) values (${operatorId}, ${projectId}, ${role})
             on conflict (operator_id, project_id) do update set role = excluded.role`;
  }
  return was?.role ?? null;
}

// Sessions -------------------------------------------------------------------------------------

export interface Session {
  operator: Operator;
  csrfToken: string;
  expiresAt: Date;
}

const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();

/** A new session: the token (for the cookie) is returned once and stored only as its SHA-256. */
export async function createSession(sql: Sql, operatorId: string, now: Date, ttlMs: number): Promise<{ token: string; csrfToken: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + ttlMs);
  await sql`insert into operator_sessions (token_hash, operator_id, csrf_token, created_at, expires_at, last_seen_at)
            values (${hashToken(token)}, ${operatorId}, ${csrfToken}, ${now}, ${expiresAt}, ${now})`;
  return { token, csrfToken, expiresAt };
}

/**
 * The live session of a cookie's token. A session in use is extended (sliding expiry) at most
 * once a minute, so reading it stays one indexed select on most requests.
 */
export async function findSession(sql: Sql, token: string, now: Date, ttlMs: number): Promise<Session | undefined> {
  const h = hashToken(token);
  const [row] = await sql<(Operator & { csrf_token: string; expires_at: Date; last_seen_at: Date })[]>`
    select o.id, o.email, o.name, o.instance_owner, o.created_at, s.csrf_token, s.expires_at, s.last_seen_at
    from operator_sessions s join operators o on o.id = s.operator_id
    where s.token_hash = ${h} and s.expires_at > ${now}`;
  if (!row) return undefined;
  let expiresAt = row.expires_at;
  if (now.getTime() - row.last_seen_at.getTime() > 60_000) {
    expiresAt = new Date(now.getTime() + ttlMs);
    await sql`update operator_sessions set last_seen_at = ${now}, expires_at = ${expiresAt} where token_hash = ${h}`;
  }
  const { csrf_token, expires_at: _e, last_seen_at: _l, ...operator } = row;
  return { operator, csrfToken: csrf_token, expiresAt };
}

export async function deleteSession(sql: Sql, token: string): Promise<void> {
  await sql`delete from operator_sessions where token_hash = ${hashToken(token)}`;
}

export async function deleteOperatorSessions(sql: Sql | TransactionSql, operatorId: string): Promise<void> {
  await sql`delete from operator_sessions where operator_id = ${operatorId}`;
}

// Failed logins ---------------------------------------------------------------------------------

export async function recordLoginFailure(sql: Sql, email: string, ip: string, now: Date): Promise<void> {
  await sql`insert into login_failures (email, ip, at) values (${email.toLowerCase()}, ${ip}, ${now})`;
}

/** Failures since `since` for this email and for this address, and the oldest of each (for Retry-After). */
export async function loginFailures(sql: Sql, email: string, ip: string, since: Date): Promise<{ email: number; ip: number; oldestEmail: Date | null; oldestIp: Date | null }> {
  const [row] = await sql<{ email: number; ip: number; oldest_email: Date | null; oldest_ip: Date | null }[]>`
    select (select count(*)::int from login_failures where email = ${email.toLowerCase()} and at > ${since}) as email,
           (select min(at) from login_failures where email = ${email.toLowerCase()} and at > ${since}) as oldest_email,
           (select count(*)::int from login_failures where ip = ${ip} and at > ${since}) as ip,
           (select min(at) from login_failures where ip = ${ip} and at > ${since}) as oldest_ip`;
  return { email: row!.email, ip: row!.ip, oldestEmail: row!.oldest_email, oldestIp: row!.oldest_ip };
}

/** A good login forgets that email's failures; failures older than the window go too. */
export async function clearLoginFailures(sql: Sql, email: string, before: Date): Promise<void> {
  await sql`delete from login_failures where email = ${email.toLowerCase()} or at <= ${before}`;
}

// Audit log -------------------------------------------------------------------------------------

export interface AuditEntry {
  operator: Pick<Operator, 'id' | 'email'> | null;
  projectId: string | null;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
}

export async function appendAudit(sql: Sql | TransactionSql, e: AuditEntry, now: Date): Promise<void> {
  const json = (v: unknown) => (v === undefined || v === null ? null : sql.json(v as JSONValue));
  await sql`insert into audit_log (at, operator_id, operator_email, project_id, action, target, before, after, ip)
            values (${now}, ${e.operator?.id ?? null}, ${e.operator?.email ?? ''}, ${e.projectId}, ${e.action}, ${e.target},
                    ${json(e.before)}, ${json(e.after)}, ${e.ip})`;
}

export interface AuditRow {
  id: string;
  at: Date;
  operator_id: string | null;
  operator_email: string;
  project_id: string | null;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
}

/** Newest first; `beforeId` continues a page. `projectId` null lists the instance-wide entries. */
export async function listAudit(sql: Sql, projectId: string | null, limit: number, beforeId?: string): Promise<AuditRow[]> {
  return sql<AuditRow[]>`
    select id::text, at, operator_id, operator_email, project_id, action, target, before, after, ip from audit_log
    where ${projectId === null ? sql`project_id is null` : sql`project_id = ${projectId}`}
      ${beforeId ? sql`and id < ${beforeId}` : sql``}
    order by id desc limit ${limit}`;
}
