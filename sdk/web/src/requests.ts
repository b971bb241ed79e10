/** Which outbox entries travel together, and the request that carries them. */
import type { OutboxEntry } from './outbox.js';
import type { OutboxItem } from './types.js';

/** Herald takes at most 100 events per call. */
export const maxBatch = 100;

export interface OutboxRequest {
  path: string;
  body: unknown;
  entries: OutboxEntry[];
}

/** The kinds that travel in batches, and where each kind's batches go. */
const batchPaths: Partial<Record<OutboxItem['kind'], string>> = {
  event: '/v1/sdk/events',
  push_event: '/v1/sdk/push-events',
  in_app_event: '/v1/sdk/in-app/events',
};

/**
 * The request for the oldest entries: a run of one batched kind (events, push events, in-app
 * events) up to `limit` becomes one batch; anything else goes alone. Order is kept: nothing is sent
 * before an older entry is settled, so the installation is registered before its first event and
 * an identify precedes what follows it.
 */
export function nextRequest(entries: OutboxEntry[], installId: string, limit = maxBatch): OutboxRequest | undefined {
  const first = entries[0];
  if (!first) return undefined;
  const kind = first.item.kind;
  const path = batchPaths[kind];
  if (path) {
    const run: OutboxEntry[] = [];
    for (const e of entries) {
      if (e.item.kind !== kind || run.length >= limit) break;
      run.push(e);
    }
    return { path, body: { install_id: installId, events: run.map((e) => wireEvent(e.item)) }, entries: run };
  }
  return { ...single(first.item, installId), entries: [first] };
}

function wireEvent(item: OutboxItem): unknown {
  const { kind: _kind, ...rest } = item;
  return rest;
}

const token = (t: string | undefined) => (t ? { identity_token: t } : {});

function single(item: OutboxItem, installId: string): { path: string; body: unknown } {
  switch (item.kind) {
    case 'attributes': {
      const { kind: _kind, ...edit } = item;
      return { path: '/v1/sdk/attributes', body: { install_id: installId, ...edit } };
    }
    case 'identify':
      return { path: '/v1/sdk/identify', body: { install_id: installId, custom_id: item.custom_id, ...token(item.identity_token) } };
    case 'logout':
      return { path: '/v1/sdk/logout', body: { install_id: installId, ...token(item.identity_token) } };
    case 'installation':
      return { path: '/v1/sdk/installations', body: { install_id: installId, ...item.body } };
    default:
      // A batched kind (nextRequest batches those itself).
      return { path: batchPaths[item.kind] ?? '', body: { install_id: installId, events: [wireEvent(item)] } };
  }
}
