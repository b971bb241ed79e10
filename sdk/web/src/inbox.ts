/**
 * The inbox (docs/inbox.md): pages newest first with the unread count, and marks. These are reads
 * and answers the page waits for, so they go straight to Herald rather than through the outbox; a
 * mark is idempotent (an item already read stays as it was), so one that failed is simply made again.
 *
 * Whose inbox: the user this browser was identified as (Herald.identify with its identityToken:
 * Herald refuses a profile's inbox without it), or, before identify, this browser's installation.
 */
import { installId, readMeta } from './outbox.js';
import { request } from './transport.js';
import type { InboxAction, InboxPage, StoredConfig } from './types.js';

/** A refusal or failure of an inbox call: `code` is Herald's error.code when it sent one. */
export class InboxError extends Error {
  constructor(message: string, readonly status: number, readonly code?: string) {
    super(message);
    this.name = 'InboxError';
  }
}

async function owner(): Promise<Record<string, string>> {
  const customId = await readMeta<string | null>('custom_id');
  if (customId) {
    const token = await readMeta<string | null>('identity_token');
    return token ? { custom_id: customId, identity_token: token } : { custom_id: customId };
  }
  return { install_id: await installId() };
}

async function call<T>(config: StoredConfig, path: string, body: Record<string, unknown>): Promise<T> {
  const res = await request(config, path, { ...(await owner()), ...body });
  const json = (await res.json().catch(() => undefined)) as (T & { error?: { code?: string; message?: string } }) | undefined;
  if (!res.ok || json === undefined) {
    throw new InboxError(`Herald inbox: ${json?.error?.message ?? `HTTP ${res.status}`}`, res.status, json?.error?.code);
  }
  return json;
}

interface WirePage {
  items: InboxPage['items'];
  unread: number;
  next_cursor: string | null;
}

export async function fetchInbox(config: StoredConfig, o: { cursor?: string | null; limit?: number; archived?: boolean } = {}): Promise<InboxPage> {
  const body: Record<string, unknown> = {};
  if (o.cursor) body.cursor = o.cursor;
  if (o.limit !== undefined) body.limit = o.limit;
  if (o.archived) body.archived = true;
  const p = await call<WirePage>(config, '/v1/sdk/inbox', body);
  return { items: p.items, unread: p.unread, nextCursor: p.next_cursor };
}

/** Marks items (by id) or all of them; resolves with the inbox's unread count after the change. */
export async function markInbox(config: StoredConfig, ids: readonly string[] | 'all', action: InboxAction): Promise<number> {
  if (ids !== 'all' && ids.length === 0) return (await fetchInbox(config, { limit: 1 })).unread;
  const r = await call<{ unread: number }>(config, '/v1/sdk/inbox/mark', { ...(ids === 'all' ? { all: true } : { ids }), action });
  return r.unread;
}
