/**
 * provider_credentials: one sealed row per (project, provider). The secret JSON is sealed under the
 * master key and bound to its row; the summary beside it holds only what may be shown. Every query
 * names its project.
 */
import type { JSONValue, Sql, TransactionSql } from 'postgres';
import { generateVapidKeyPair } from '../domain/credential-checks.js';
import {
  summarize, type CredentialsByProvider, type CredentialsSummary, type Provider, type WebPushCredentials,
} from '../domain/provider-credentials.js';
import type { Keyring } from './sealed.js';

type Db = Sql | TransactionSql;

export interface StoredCredentials {
  provider: Provider;
  summary: CredentialsSummary;
  updated_at: Date;
}

/** The additional data a row's secret is sealed with: it opens in this row only. */
export function credentialsContext(projectId: string, provider: Provider): string {
  return `provider_credentials/${projectId}/${provider}`;
}

/** Seals and stores (replacing) a project's credentials for one provider; returns what may be shown. */
export async function saveCredentials<P extends Provider>(
  sql: Db, keyring: Keyring, projectId: string, provider: P, credentials: CredentialsByProvider[P],
): Promise<StoredCredentials> {
  const sealed = keyring.seal(JSON.stringify(credentials), credentialsContext(projectId, provider));
  const summary = summarize(provider, credentials, keyring.fingerprint);
  const [row] = await sql<StoredCredentials[]>`
    insert into provider_credentials (project_id, provider, sealed, summary)
    values (${projectId}, ${provider}, ${sealed}, ${sql.json(summary as JSONValue)})
    on conflict (project_id, provider) do update set
      sealed = excluded.sealed, summary = excluded.summary, updated_at = now()
    returning provider, summary, updated_at`;
  return row!;
}

/**
 * A project's credentials for one provider, opened and typed; undefined when none are stored.
 * Throws SealedValueError when the row does not open under this keyring (another master key).
 */
export async function loadCredentials<P extends Provider>(
  sql: Db, keyring: Keyring, projectId: string, provider: P,
): Promise<CredentialsByProvider[P] | undefined> {
  const [row] = await sql<{ sealed: Buffer }[]>`
    select sealed from provider_credentials where project_id = ${projectId} and provider = ${provider}`;
  if (!row) return undefined;
  const plain = keyring.open(row.sealed, credentialsContext(projectId, provider));
  return JSON.parse(plain.toString('utf8')) as CredentialsByProvider[P];
}

export async function listCredentials(sql: Db, projectId: string): Promise<StoredCredentials[]> {
  return sql<StoredCredentials[]>`
    select provider, summary, updated_at from provider_credentials where project_id = ${projectId} order by provider`;
}

export async function getCredentialsSummary(sql: Db, projectId: string, provider: Provider): Promise<StoredCredentials | undefined> {
  const [row] = await sql<StoredCredentials[]>`
    select provider, summary, updated_at from provider_credentials where project_id = ${projectId} and provider = ${provider}`;
  return row;
}

/** True when a row was deleted. */
export async function deleteCredentials(sql: Db, projectId: string, provider: Provider): Promise<boolean> {
  const rows = await sql`delete from provider_credentials where project_id = ${projectId} and provider = ${provider} returning 1`;
  return rows.length > 0;
}

/**
 * Gives the project a VAPID pair unless it has one (the 'webpush' row, without a subject until the
 * project sets one). Called when a project is created; also repairs a project made before VAPID.
 */
export async function ensureVapidKeys(sql: Db, keyring: Keyring, projectId: string): Promise<void> {
  const pair = generateVapidKeyPair();
  const credentials: WebPushCredentials = { public_key: pair.public_key, private_key_pem: pair.private_key_pem };
  const sealed = keyring.seal(JSON.stringify(credentials), credentialsContext(projectId, 'webpush'));
  const summary = summarize('webpush', credentials, keyring.fingerprint);
  await sql`
    insert into provider_credentials (project_id, provider, sealed, summary)
    values (${projectId}, 'webpush', ${sealed}, ${sql.json(summary as JSONValue)})
    on conflict (project_id, provider) do nothing`;
}

/** The project's VAPID public key (base64url, 65-byte uncompressed point), created if missing. */
export async function vapidPublicKey(sql: Sql, keyring: Keyring, projectId: string): Promise<string> {
  const read = async () => {
    const [row] = await sql<{ public_key: string }[]>`
      select summary->>'public_key' as public_key from provider_credentials
      where project_id = ${projectId} and provider = 'webpush'`;
    return row?.public_key;
  };
  const known = await read();
  if (known) return known;
  await ensureVapidKeys(sql, keyring, projectId);
  return (await read())!;
}

/**
 * Every stored credential that does not open under `keyring` (sealed under another master key, or
 * damaged), across projects: for `herald doctor`, which names them and never their content.
 */
export async function credentialsThatDoNotOpen(sql: Db, keyring: Keyring): Promise<{ total: number; failing: { project_id: string; provider: Provider }[] }> {
  const rows = await sql<{ project_id: string; provider: Provider; sealed: Buffer }[]>`
    select project_id, provider, sealed from provider_credentials order by project_id, provider`;
  const failing: { project_id: string; provider: Provider }[] = [];
  for (const r of rows) {
    try {
      keyring.open(r.sealed, credentialsContext(r.project_id, r.provider));
    } catch {
      failing.push({ project_id: r.project_id, provider: r.provider });
    }
  }
  return { total: rows.length, failing };
}
