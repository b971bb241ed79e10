/** Projects and their API keys. Keys are shown once, at creation, and stored only as SHA-256. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { ensureVapidKeys } from './provider-credentials.js';
import type { Keyring } from './sealed.js';

export type KeyKind = 'rest' | 'sdk';

/** The prefix tells a key's kind at a glance (and lets secret scanners recognise a leaked one). */
export const keyPrefix: Record<KeyKind, string> = { rest: 'hrld_rest_', sdk: 'hrld_sdk_' };

export interface CreatedProject {
  project_id: string;
  rest_key: string;
  sdk_key: string;
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

function newKey(kind: KeyKind): string {
  return keyPrefix[kind] + randomBytes(32).toString('base64url');
}

/** A project, its two keys, and its VAPID pair (private half sealed with `keyring`), in one transaction. */
export async function createProject(sql: Sql, name: string, keyring: Keyring): Promise<CreatedProject> {
  const project_id = randomUUID();
  const rest_key = newKey('rest');
  const sdk_key = newKey('sdk');
  await sql.begin(async (tx) => {
    await tx`insert into projects (id, name) values (${project_id}, ${name})`;
    await tx`insert into api_keys (key_hash, project_id, kind) values
      (${hashKey(rest_key)}, ${project_id}, 'rest'), (${hashKey(sdk_key)}, ${project_id}, 'sdk')`;
    await ensureVapidKeys(tx, keyring, project_id);
  });
  return { project_id, rest_key, sdk_key };
}

export interface KeyOwner {
  projectId: string;
  kind: KeyKind;
}

export async function findKey(sql: Sql, key: string): Promise<KeyOwner | undefined> {
  const [row] = await sql<{ project_id: string; kind: KeyKind }[]>`
    select project_id, kind from api_keys where key_hash = ${hashKey(key)} and revoked_at is null`;
  return row && { projectId: row.project_id, kind: row.kind };
}
