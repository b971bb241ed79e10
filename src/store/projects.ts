/**
 * Projects and their API keys. Keys are shown once, at creation, and stored only as SHA-256; each
 * has an id to be listed and revoked by. A project always keeps at least one active REST key.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Sql, TransactionSql } from 'postgres';
import { createIdentitySecret } from './identity-secrets.js';
import { ensureVapidKeys } from './provider-credentials.js';
import type { Keyring } from './sealed.js';

export type KeyKind = 'rest' | 'sdk';

/** The prefix tells a key's kind at a glance (and lets secret scanners recognise a leaked one). */
export const keyPrefix: Record<KeyKind, string> = { rest: 'hrld_rest_', sdk: 'hrld_sdk_' };

export interface CreatedProject {
  project_id: string;
  rest_key: string;
  sdk_key: string;
  /** Signs the identity tokens of the project's users (docs/profiles.md); shown once. */
  identity_secret: string;
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

function newKey(kind: KeyKind): string {
  return keyPrefix[kind] + randomBytes(32).toString('base64url');
}

/**
 * A project, its two keys, its identity secret and its VAPID pair (the secrets sealed with
 * `keyring`), in one transaction.
 */
export async function createProject(sql: Sql, name: string, keyring: Keyring): Promise<CreatedProject> {
  const project_id = randomUUID();
  const rest_key = newKey('rest');
  const sdk_key = newKey('sdk');
  const identity_secret = await sql.begin(async (tx) => {
    await tx`insert into projects (id, name) values (${project_id}, ${name})`;
    await tx`insert into api_keys (key_hash, project_id, kind) values
      (${hashKey(rest_key)}, ${project_id}, 'rest'), (${hashKey(sdk_key)}, ${project_id}, 'sdk')`;
    await ensureVapidKeys(tx, keyring, project_id);
    return createIdentitySecret(tx, keyring, project_id);
  });
  return { project_id, rest_key, sdk_key, identity_secret };
}

export interface KeyOwner {
  projectId: string;
  kind: KeyKind;
  /** The key's id (api_keys.id), never the key. */
  keyId: string;
}

export async function findKey(sql: Sql, key: string): Promise<KeyOwner | undefined> {
  const [row] = await sql<{ project_id: string; kind: KeyKind; id: string }[]>`
    select project_id, kind, id from api_keys where key_hash = ${hashKey(key)} and revoked_at is null`;
  return row && { projectId: row.project_id, kind: row.kind, keyId: row.id };
}

/** What may be shown of a key: everything but the key (and its hash). */
export interface KeyInfo {
  id: string;
  kind: KeyKind;
  created_at: Date;
  revoked_at: Date | null;
}

export async function listKeys(sql: Sql, projectId: string): Promise<KeyInfo[]> {
  return sql<KeyInfo[]>`
    select id, kind, created_at, revoked_at from api_keys where project_id = ${projectId} order by created_at, id`;
}

/** A new key of `kind` for the project; the key itself is in the answer only. */
export async function createKey(sql: Sql, projectId: string, kind: KeyKind): Promise<KeyInfo & { key: string }> {
  const key = newKey(kind);
  const [row] = await sql<KeyInfo[]>`
    insert into api_keys (key_hash, project_id, kind) values (${hashKey(key)}, ${projectId}, ${kind})
    returning id, kind, created_at, revoked_at`;
  return { ...row!, key };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type RevokeResult =
  | { outcome: 'revoked'; key: KeyInfo }
  | { outcome: 'not_found' }
  /** Revoking it would leave the project without an active REST key: nothing was changed. */
  | { outcome: 'last_rest_key' };

/**
 * Revokes one of the project's keys (a key already revoked is answered as it is). The project's
 * row is locked, so two concurrent revocations cannot each leave the other as the last REST key.
 */
export async function revokeKey(sql: Sql, projectId: string, keyId: string): Promise<RevokeResult> {
  if (!uuidPattern.test(keyId)) return { outcome: 'not_found' };
  return sql.begin(async (tx: TransactionSql): Promise<RevokeResult> => {
    await tx`select 1 from projects where id = ${projectId} for update`;
    const [key] = await tx<KeyInfo[]>`
      select id, kind, created_at, revoked_at from api_keys where project_id = ${projectId} and id = ${keyId}`;
    if (!key) return { outcome: 'not_found' };
    if (key.revoked_at) return { outcome: 'revoked', key };
    if (key.kind === 'rest') {
      const [others] = await tx<{ n: number }[]>`
        select count(*)::int as n from api_keys
        where project_id = ${projectId} and kind = 'rest' and revoked_at is null and id <> ${keyId}`;
      if (others!.n === 0) return { outcome: 'last_rest_key' };
    }
    const [revoked] = await tx<KeyInfo[]>`
      update api_keys set revoked_at = now() where id = ${keyId} returning id, kind, created_at, revoked_at`;
    return { outcome: 'revoked', key: revoked! };
  });
}

/** What the project API shows of a project: its name and the zone local-time campaigns fall back to. */
export interface ProjectSettings {
  id: string;
  name: string;
  timezone: string;
  created_at: Date;
}

export async function projectSettings(sql: Sql, projectId: string): Promise<ProjectSettings | undefined> {
  const [row] = await sql<ProjectSettings[]>`select id, name, timezone, created_at from projects where id = ${projectId}`;
  return row;
}

/** Sets the project's fallback time zone (already checked to be a zone name); the project as it now is. */
export async function setProjectTimezone(sql: Sql, projectId: string, timezone: string): Promise<ProjectSettings | undefined> {
  const [row] = await sql<ProjectSettings[]>`
    update projects set timezone = ${timezone} where id = ${projectId} returning id, name, timezone, created_at`;
  return row;
}
