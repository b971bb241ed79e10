/**
 * project_identity_secrets: each project's identity secret (domain/identity-token.ts), sealed with
 * the master key and bound to its project's row. A rotation seals a new secret and keeps the
 * previous one, accepted until its grace period ends, so apps can move to tokens of the new secret
 * without a gap; a grace of zero drops it at once (a leaked secret).
 */
import type { Sql, TransactionSql } from 'postgres';
import { newIdentitySecret } from '../domain/identity-token.js';
import type { Keyring } from './sealed.js';

type Db = Sql | TransactionSql;

/** The additional data the secrets are sealed with: they open in this project's row only. */
export function identitySecretContext(projectId: string): string {
  return `project_identity_secrets/${projectId}`;
}

/** Gives a new project its secret (in the caller's transaction); returns it, to be shown once. */
export async function createIdentitySecret(sql: Db, keyring: Keyring, projectId: string): Promise<string> {
  const secret = newIdentitySecret();
  await sql`insert into project_identity_secrets (project_id, sealed)
            values (${projectId}, ${keyring.seal(secret, identitySecretContext(projectId))})`;
  return secret;
}

export interface RotatedIdentitySecret {
  identity_secret: string;
  /** Until when the secret it replaced is still accepted; null when it no longer is (or there was none). */
  previous_valid_until: Date | null;
}

/**
 * Replaces the project's secret (creating it for a project made before identity secrets); the old
 * one stays valid for `graceSeconds`. A rotation within another's grace period drops the older secret.
 */
export async function rotateIdentitySecret(sql: Sql, keyring: Keyring, projectId: string, graceSeconds: number): Promise<RotatedIdentitySecret> {
  const secret = newIdentitySecret();
  const sealed = keyring.seal(secret, identitySecretContext(projectId));
  const keep = graceSeconds > 0;
  const [row] = await sql<{ previous_valid_until: Date | null }[]>`
    insert into project_identity_secrets (project_id, sealed) values (${projectId}, ${sealed})
    on conflict (project_id) do update set
      previous_sealed = case when ${keep} then project_identity_secrets.sealed end,
      previous_valid_until = case when ${keep} then now() + make_interval(secs => ${graceSeconds}) end,
      sealed = excluded.sealed,
      rotated_at = now()
    returning previous_valid_until`;
  return { identity_secret: secret, previous_valid_until: row!.previous_valid_until };
}

/** The secrets a token may be signed with now: the current one, and the previous one in its grace period. */
export async function identitySecrets(sql: Db, keyring: Keyring, projectId: string): Promise<string[]> {
  const [row] = await sql<{ sealed: Buffer; previous_sealed: Buffer | null }[]>`
    select sealed, case when previous_valid_until > now() then previous_sealed end as previous_sealed
    from project_identity_secrets where project_id = ${projectId}`;
  if (!row) return [];
  const context = identitySecretContext(projectId);
  const secrets = [keyring.open(row.sealed, context).toString('utf8')];
  if (row.previous_sealed) secrets.push(keyring.open(row.previous_sealed, context).toString('utf8'));
  return secrets;
}
