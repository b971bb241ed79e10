/**
 * The worker's view of provider credentials: opened once per (project, provider) and kept a few
 * seconds, so deliveries do not read and decrypt a row each, and a PUT or DELETE reaches every
 * worker within the TTL. Concurrent callers share one read; a failed read is not kept.
 */
import type { Sql } from 'postgres';
import type { CredentialsByProvider, Provider } from '../domain/provider-credentials.js';
import { loadCredentials } from './provider-credentials.js';
import type { Keyring } from './sealed.js';

/** A changed credential is in use everywhere within this delay. */
export const defaultCredentialsTtlMs = 5_000;
const defaultMaxEntries = 10_000;

export interface CredentialsCache {
  /** The project's credentials for `provider`, or undefined when it has none (then: the sandbox, or not configured). */
  get<P extends Provider>(projectId: string, provider: P): Promise<CredentialsByProvider[P] | undefined>;
  /** Forgets everything, e.g. after this process changed credentials itself. */
  clear(): void;
}

export interface CredentialsCacheOptions {
  sql: Sql;
  keyring: Keyring;
  ttlMs?: number;
  maxEntries?: number;
  clock?: () => number;
}

export function createCredentialsCache(o: CredentialsCacheOptions): CredentialsCache {
  const ttlMs = o.ttlMs ?? defaultCredentialsTtlMs;
  const maxEntries = o.maxEntries ?? defaultMaxEntries;
  const clock = o.clock ?? Date.now;
  const entries = new Map<string, { value: Promise<unknown>; until: number }>();
  return {
    get<P extends Provider>(projectId: string, provider: P) {
      const key = `${projectId}/${provider}`;
      const now = clock();
      const hit = entries.get(key);
      if (hit && hit.until > now) return hit.value as Promise<CredentialsByProvider[P] | undefined>;
      if (entries.size >= maxEntries) entries.clear();
      const value = loadCredentials(o.sql, o.keyring, projectId, provider);
      entries.set(key, { value, until: now + ttlMs });
      value.catch(() => { if (entries.get(key)?.value === value) entries.delete(key); });
      return value;
    },
    clear: () => entries.clear(),
  };
}
